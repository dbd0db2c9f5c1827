"""The measures hybridir reports, declared once (``MEASURE_TABLE``), and the recipe names.

Every page, figure, export and report reads a measure's key, label, order, direction and
number format from ``MEASURE_TABLE``; the dicts below it are views of that table for code that
wants a mapping. A new measure is one more ``Measure`` row (its values must then exist under
``column`` in ``metrics.json`` and, for intervals, under ``name`` in ``analysis.intervals``).
Light to import: no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from hybridir_core.config import DATASETS

MULTI = "multi"
"""The candidate "language" of the multilingual pool in matrices and per-query tables."""
SETTINGS = ("mono", "cross", "multi")
SETTING_COLUMNS = {s: (f"{s}_map", f"{s}_map_micro") for s in SETTINGS}
"""Setting -> (macro, micro) mAP keys of ``metrics.json``."""


@dataclass(frozen=True)
class Measure:
    """One reported measure.

    Attributes:
        name: its key in intervals and verdict tables (``mono``, ``rank_distance``).
        column: its run-level aggregate in ``metrics.json`` and summaries (``mono_map``).
        label: what a reader sees (``Mono mAP``).
        short: the column label in wide tables (``Mono``; ``xquad-r Mono``).
        higher_is_better: the direction a better recipe moves it.
        digits: decimals when printed (3 for mAP, 0 for ranks).
    """

    name: str
    column: str
    label: str
    short: str
    higher_is_better: bool
    digits: int

    def format(self, value: float | None) -> str:
        """``value`` printed with this measure's decimals; ``–`` when missing."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{value:.{self.digits}f}"

    @property
    def printf(self) -> str:
        """The printf format of a value (``%.3f``), as Streamlit's column config takes it."""
        return f"%.{self.digits}f"


MEASURE_TABLE: tuple[Measure, ...] = (
    Measure("mono", "mono_map", "Mono mAP", "Mono", True, 3),
    Measure("cross", "cross_map", "Cross mAP", "Cross", True, 3),
    Measure("multi", "multi_map", "Multi mAP", "Multi", True, 3),
    Measure("rank_distance", "mean_rank_distance", "rank distance", "rank dist.", False, 0),
)
"""The measures the findings report, in their order (the paper's settings, then language bias)."""


def measure(key: str) -> Measure:
    """The ``Measure`` whose ``name`` or ``column`` is ``key``.

    Raises:
        KeyError: no such measure.
    """
    for m in MEASURE_TABLE:
        if key in (m.name, m.column):
            return m
    raise KeyError(f"unknown measure {key!r}; known: {', '.join(m.name for m in MEASURE_TABLE)}")


MEASURES = {m.column: m.short for m in MEASURE_TABLE}
"""Aggregate column -> short label, in order (wide tables: ``xquad-r Mono``)."""
MEASURE_LABELS = {m.name: m.label for m in MEASURE_TABLE}
"""Measure name -> label, in order (intervals, verdict tables, forest plots)."""
MAP_LABELS = {m.column: m.label for m in MEASURE_TABLE if m.column.endswith("_map")}
"""The mAP aggregates (one per setting) -> label: the axes of trade-off plots and α curves."""
METRIC_LABELS = {"map": "mAP", "recall_at_1": "Recall@1", "recall_at_10": "Recall@10"}
"""The per-cell metrics of ``matrix.csv`` -> label."""
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
