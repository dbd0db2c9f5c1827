"""Recipe differences with intervals that respect how the data was drawn, and verdicts.

A query of LAReQA is one question in one language; its translations are not independent (they
form a cluster), and a recipe's seeds vary the training. ``recipe_difference`` and
``scale_change`` are linear contrasts of recipe means with the two-component t interval of
``contrasts`` (question clusters + between-seed variance, Satterthwaite degrees of freedom;
docs/protocol.md, section 4), on the declared estimands: Mono and Cross are means of language
cells, Multi and rank distance means over query languages.

The declared families and their labels (Holm, non-inferiority) live in ``families``; this module
serves one-off recipe comparisons (the Compare page, ``compare``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from hybridir_core.analysis import contrasts, stats

MEASURES = contrasts.MEASURES
HIGHER_IS_BETTER = contrasts.HIGHER_IS_BETTER
DEFAULT_MARGIN = 0.01
DEFAULT_RESAMPLES = 2_000


@dataclass(frozen=True)
class Difference:
    """Recipe A - recipe B on one dataset and measure, with a two-component t interval.

    ``p_value`` is the two-sided t test's; ``p_floor`` is 0 (analytic: no resampling floor).
    """

    dataset: str
    measure: str
    n_queries: int
    n_clusters: int
    seeds_a: int
    seeds_b: int
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_floor: float

    @property
    def at_floor(self) -> bool:
        return self.p_value <= self.p_floor + 1e-12


def recipe_difference(group_a: Sequence[pd.DataFrame], group_b: Sequence[pd.DataFrame], dataset: str,
                      measure: str, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                      confidence: float = 0.95) -> Difference:
    """Recipe A - recipe B (ranks tables, one per seed): the two-component t interval of
    ``contrasts.linear_contrast`` (``n_resamples`` and ``seed`` are kept for callers; the
    interval is analytic and uses neither)."""
    c = contrasts.linear_contrast([group_a, group_b], [1.0, -1.0], dataset, measure, confidence=confidence)
    return Difference(dataset, measure, c.n_queries, c.n_clusters, len(group_a), len(group_b), c.estimate,
                      c.ci_low, c.ci_high, c.p_value, 0.0)


def direction(diff: Difference) -> str:
    """``better``, ``worse`` or ``no clear difference`` for A, from the interval alone."""
    sign = 1.0 if HIGHER_IS_BETTER[diff.measure] else -1.0
    low, high = sorted((sign * diff.ci_low, sign * diff.ci_high))
    return "better" if low > 0 else "worse" if high < 0 else "no clear difference"


def differences_frame(rows: Sequence[Difference], family: str) -> pd.DataFrame:
    """The differences as a table with Holm-adjusted p-values over the stated ``family``."""
    frame = pd.DataFrame([{**vars(r), "at_floor": r.at_floor} for r in rows])
    if frame.empty:
        return frame
    frame["p_holm"] = stats.holm(frame["p_value"].to_numpy())
    frame["family"] = family
    return frame
