"""The run files' schema: one validating reader per file of a run directory.

A run copied half-way from another machine, edited by hand or written by an older version
must be refused with the file and the reason, never half-read: every page, ``export`` and
``report`` read runs through these functions (via ``runs.load_run``), so a malformed run is
listed as unreadable instead of raising later. Each reader returns the file's content checked
against the contract of ``docs/ARCHITECTURE.md`` or raises ``RunError("<path>: <reason>")``.
``ranks.parquet`` is checked at listing time from its footer only (a truncated file has none),
without reading its rows.
"""

from __future__ import annotations

import json
import math
from numbers import Real
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

SCHEMA_VERSION = 1
MATRIX_COLUMNS = [
    "dataset", "query_lang", "candidate_lang", "map", "recall_at_1", "recall_at_10", "n_queries",
]
MATRIX_NUMBERS = ["map", "recall_at_1", "recall_at_10", "n_queries"]
RANK_COLUMNS = ["dataset", "question_id", "query_lang", "candidate_lang", "rank_multi", "rank_in_lang"]


class RunError(Exception):
    """A run directory that is missing, malformed or of an unknown schema."""


def _fail(path: Path, reason: str) -> RunError:
    return RunError(f"{path}: {reason}")


def read_json(path: Path) -> Any:
    """Parsed JSON of ``path``; ``RunError`` when it is missing or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, "missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise _fail(path, f"unreadable ({exc.strerror or exc})") from None


def _versioned(path: Path) -> dict[str, Any]:
    """A JSON object with the known ``schema_version``."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise _fail(path, f"expected a JSON object, found {type(data).__name__}")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise _fail(path, f"unknown schema_version {data.get('schema_version')!r}")
    return data


def _shown(value: Any) -> str:
    return "missing" if value is None else f"{type(value).__name__} {value!r:.40}"


def _optional_dict(path: Path, data: dict[str, Any], key: str) -> None:
    if data.get(key) is not None and not isinstance(data[key], dict):
        raise _fail(path, f"{key!r} must be an object, got {_shown(data[key])}")


def read_config(path: Path) -> dict[str, Any]:
    """``config.json``: ``model`` an object with a ``name``; ``eval`` and ``train`` objects or null."""
    data = _versioned(path)
    model = data.get("model")
    if not isinstance(model, dict):
        raise _fail(path, f"'model' must be an object, got {_shown(model)}")
    if not isinstance(model.get("name"), str):
        raise _fail(path, "'model.name' must be a string")
    for key in ("eval", "train"):
        _optional_dict(path, data, key)
    _optional_dict(path, data.get("train") or {}, "sampling")
    datasets = data.get("datasets")
    if datasets is not None and not (isinstance(datasets, list) and all(isinstance(d, str) for d in datasets)):
        raise _fail(path, "'datasets' must be a list of names")
    return data


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, Real) and not isinstance(value, bool))


def read_metrics(path: Path) -> dict[str, dict[str, float | None]]:
    """``metrics.json``: ``datasets`` maps each dataset to an object of numbers (or null)."""
    datasets = _versioned(path).get("datasets")
    if not isinstance(datasets, dict) or not datasets:
        raise _fail(path, "'datasets' must map each dataset to its aggregates")
    for name, values in datasets.items():
        if not isinstance(values, dict):
            raise _fail(path, f"datasets.{name} must be an object of numbers")
        bad = next((k for k, v in values.items() if not _is_number(v)), None)
        if bad is not None:
            raise _fail(path, f"datasets.{name}.{bad} must be a number or null, found {values[bad]!r}")
    return datasets


def _read_frame(path: Path, reader) -> pd.DataFrame:
    """``reader(path)``, or ``RunError`` saying the file is missing or unreadable."""
    try:
        return reader(path)
    except FileNotFoundError:
        raise _fail(path, "missing") from None
    except Exception as exc:  # pandas / pyarrow raise several types for a damaged file
        raise _fail(path, f"unreadable ({exc})") from None


def read_matrix(path: Path, datasets: list[str] | None = None) -> pd.DataFrame:
    """``matrix.csv`` with its columns, numeric cells, and rows for each of ``datasets``."""
    frame = _read_frame(path, pd.read_csv)
    if list(frame.columns) != MATRIX_COLUMNS:
        raise _fail(path, f"columns {list(frame.columns)} != {MATRIX_COLUMNS}")
    bad = next((c for c in MATRIX_NUMBERS if not pd.api.types.is_numeric_dtype(frame[c])), None)
    if bad is not None:
        raise _fail(path, f"column {bad!r} holds non-numbers")
    missing = sorted(set(datasets or []) - set(frame["dataset"]))
    if missing:
        raise _fail(path, f"no rows for {', '.join(missing)} (in metrics.json)")
    return frame


def check_ranks(path: Path) -> int:
    """The row count of ``ranks.parquet`` from its footer; ``RunError`` if truncated or off-schema."""
    try:
        meta = pq.ParquetFile(path).metadata
    except FileNotFoundError:
        raise _fail(path, "missing") from None
    except Exception as exc:  # a truncated file has no footer: pyarrow raises ArrowInvalid
        raise _fail(path, f"unreadable, probably truncated ({exc})") from None
    missing = sorted(set(RANK_COLUMNS) - set(meta.schema.names))
    if missing:
        raise _fail(path, f"missing columns {missing}")
    return meta.num_rows


def read_ranks(path: Path) -> pd.DataFrame:
    """``ranks.parquet`` with the rank columns."""
    frame = _read_frame(path, pd.read_parquet)
    missing = sorted(set(RANK_COLUMNS) - set(frame.columns))
    if missing:
        raise _fail(path, f"missing columns {missing}")
    return frame


def read_train_stats(path: Path) -> dict[str, Any] | None:
    """``train_stats.json`` (trained runs) as an object, or None when the run has none."""
    if not Path(path).is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise _fail(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def standard_json(value: Any) -> Any:
    """``value`` with NaN and ±inf as None and numpy scalars as Python numbers (strict JSON)."""
    if isinstance(value, dict):
        return {k: standard_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [standard_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
