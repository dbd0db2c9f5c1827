"""The declared families computed once per set of runs, kept on disk beside the runs.

``report`` writes ``families.json`` into the folder of runs it read (for the shipped study:
``results/reference/families.json``, committed); the dashboard reads it and computes only for
a set of runs it has never seen (cached in ``~/.cache/hybridir/families/``). The key is a
digest of every run's ``config.json``, ``metrics.json`` and ``ranks.parquet`` bytes and the
method's version, so a changed run, an added run or a new method never reads a stale table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from io import StringIO
from pathlib import Path

import pandas as pd

from hybridir_core.analysis import contrasts, families
from hybridir_core.evaluation import bias, metrics
from hybridir_core.paths import cache_root
from hybridir_core.runs import directory as runs

METHOD_VERSION = "families-1 (two-component t, Satterthwaite; docs/protocol.md)"
METHOD_MODULES = (bias, contrasts, families, metrics)
"""The modules whose code computes the rows: their text is part of the key, so an edit invalidates."""
FILE_NAME = "families.json"


def runs_key(found: Sequence[runs.Run], settings: dict | None = None) -> str:
    """Digest of the runs' contents (not their paths or times), the method's version and settings."""
    digest = hashlib.sha256((METHOD_VERSION + json.dumps(settings or {}, sort_keys=True)).encode())
    for module in METHOD_MODULES:
        digest.update(Path(module.__file__).read_bytes())
    for run in sorted(found, key=lambda r: r.run_id):
        digest.update(run.run_id.encode())
        for name in ("config.json", "metrics.json", "ranks.parquet"):
            path = run.path / name
            digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"-")
    return digest.hexdigest()


def user_cache_dir() -> Path:
    return cache_root() / "families"


def _read(path: Path, key: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    return (pd.read_json(StringIO(data["families"]), orient="table"),
            pd.read_json(StringIO(data["paper"]), orient="table"))


def write(path: Path, key: str, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Write the two frames with their key (atomically; a read-only folder is left alone)."""
    body = {"key": key, "method": METHOD_VERSION,
            "families": frames[0].to_json(orient="table", index=False, double_precision=15),
            "paper": frames[1].to_json(orient="table", index=False, double_precision=15)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        runs.atomic_write(path, lambda tmp: tmp.write_text(json.dumps(body) + "\n", encoding="utf-8"))
    except OSError:
        pass


def cached(found: Sequence[runs.Run], compute: Callable[[Sequence[runs.Run]], tuple[pd.DataFrame, pd.DataFrame]],
           folders: Sequence[Path] = (), settings: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The families of ``found``: read from ``<folder>/families.json`` or the user cache when the
    key matches, else computed by ``compute`` and written to the user cache."""
    key = runs_key(found, settings)
    candidates = [Path(f) / FILE_NAME for f in folders] + [user_cache_dir() / f"{key[:24]}.json"]
    for path in candidates:
        hit = _read(path, key)
        if hit is not None:
            return hit
    frames = compute(found)
    write(candidates[-1], key, frames)
    return frames
