"""The measures hybridir reports: names, labels and orders, and the recipe names.

Every page, figure, export and report reads measure names, labels and orders from here, so
that a measure or a recipe has one name everywhere. Light to import: no torch.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from hybridir_core.config import DATASETS

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
