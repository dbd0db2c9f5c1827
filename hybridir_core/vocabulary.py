"""The words hybridir uses for what it measures and what it ran, and the run data model.

Every page, figure, export and report reads measure names, labels and orders from here, and
describes a run with ``describe_run`` / ``summary_frame``, so that a measure or a recipe has
one name everywhere. Pure pandas: reading runs for the dashboard imports no torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .config import DATASETS, SamplingConfig
from .runs import Run

MULTI = "multi"
"""The candidate "language" of the multilingual pool in matrices and per-query tables."""
SETTINGS = ("mono", "cross", "multi")
SETTING_COLUMNS = {s: (f"{s}_map", f"{s}_map_micro") for s in SETTINGS}
"""Setting -> (macro, micro) mAP keys of ``metrics.json``."""
MAP_LABELS = {"mono_map": "Mono mAP", "cross_map": "Cross mAP", "multi_map": "Multi mAP"}
MEASURES = {"mono_map": "Mono", "cross_map": "Cross", "multi_map": "Multi",
            "mean_rank_distance": "rank dist."}
"""The four aggregates the findings report, with their short column labels."""
METRIC_LABELS = {"map": "mAP", "recall_at_1": "Recall@1", "recall_at_10": "Recall@10"}
ZERO_SHOT = "zero-shot"
SAMPLING_ORDER = {ZERO_SHOT: 0, "mono": 1, "hybrid": 2, "cross": 3}
_DATASET_RANK = {name: i for i, name in enumerate(DATASETS)}

DESCRIPTION_COLUMNS = ["run", "reference", "model", "scale", "layers", "params", "sampling",
                       "alpha", "mix", "seed", "steps", "limit_per_lang"]
SUMMARY_COLUMNS = [
    "run", "source", "model", "scale", "layers", "params", "sampling", "alpha", "mix", "seed",
    "steps", "limit_per_lang", "dataset", "mono_map", "cross_map", "multi_map",
    "multi_recall_at_10", "mean_rank_distance", "median_rank_distance", "n_questions",
]


def dataset_order(values: Iterable[str]) -> list[str]:
    """Distinct dataset names, known ones in ``config.DATASETS`` order (XQuAD-R first)."""
    return sorted(set(values), key=lambda d: (_DATASET_RANK.get(d, len(_DATASET_RANK)), d))


def language_order(langs: Iterable[str]) -> list[str]:
    """Languages sorted, with the multilingual pool last."""
    langs = set(langs)
    return sorted(langs - {MULTI}) + ([MULTI] if MULTI in langs else [])


def training_label(sampling: str | None, alpha: float | None = None, mix: str | None = None) -> str:
    """How a run was trained, in words: ``zero-shot``, ``mono``, ``cross``, ``hybrid α=0.5``.

    A per-pair mix is named (``hybrid α=0.5 per-pair``); the paper's per-batch mix is not.
    """
    if sampling in (None, ZERO_SHOT) or pd.isna(sampling):
        return ZERO_SHOT
    if sampling != "hybrid":
        return str(sampling)
    extra = "" if mix in (None, "per-batch") or pd.isna(mix) else f" {mix}"
    return f"hybrid α={float(alpha):g}{extra}"


def _sampling(train: dict[str, Any]) -> SamplingConfig | None:
    """The run's sampling, normalised (mono: α = 1, cross: α = 0); None if unreadable."""
    try:
        return SamplingConfig.from_dict(train.get("sampling") or {}) if train.get("sampling") else None
    except (TypeError, ValueError):
        return None


def describe_run(run: Run) -> dict[str, Any]:
    """Model and training fields of a run, flat (None where not applicable)."""
    model = run.config.get("model") or {}
    train = run.config.get("train") or {}
    sampling = _sampling(train)
    hybrid = sampling is not None and sampling.strategy == "hybrid"
    return {
        "run": run.run_id, "reference": run.reference,
        "model": model.get("name"), "scale": model.get("scale"),
        "layers": model.get("layers"), "params": model.get("params"),
        "sampling": sampling.strategy if sampling else ZERO_SHOT,
        "alpha": sampling.alpha if sampling else None,
        "mix": sampling.mix if hybrid else None,
        "seed": train.get("seed"), "steps": train.get("steps"),
        "limit_per_lang": (run.config.get("eval") or {}).get("limit_per_lang"),
    }


def summary_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """One row per run x dataset with its description and aggregates (plots, findings).

    ``source`` is ``reference`` for the shipped reference runs, else ``local``.
    """
    rows = []
    for run in runs:
        info = describe_run(run)
        info["source"] = "reference" if info.pop("reference") else "local"
        for dataset, m in sorted(run.metrics.items()):
            rows.append({**info, "dataset": dataset,
                         **{k: m.get(k) for k in SUMMARY_COLUMNS if k in m}})
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for column in ("layers", "params", "seed", "steps", "limit_per_lang", "n_questions"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    frame["alpha"] = pd.to_numeric(frame["alpha"], errors="coerce")
    return frame


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its description, then the four measures per dataset.

    Dataset columns are named like ``xquad-r Mono``, ``xquad-r rank dist.``.
    """
    summary = summary_frame(runs)
    info_cols = ["run", "source", "model", "scale", "sampling", "alpha", "mix", "seed", "steps",
                 "limit_per_lang"]
    if summary.empty:
        return pd.DataFrame(columns=info_cols)
    info = summary.drop_duplicates("run").set_index("run")[info_cols[1:]]
    wide = summary.pivot_table(index="run", columns="dataset", values=list(MEASURES), aggfunc="first")
    ordered = [(v, d) for d in dataset_order(summary["dataset"]) for v in MEASURES
               if (v, d) in wide.columns]
    wide = wide[ordered]
    wide.columns = [f"{d} {MEASURES[v]}" for v, d in ordered]
    order = list(dict.fromkeys(summary["run"]))
    return info.join(wide).reindex(order).reset_index()
