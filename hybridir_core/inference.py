"""Recipe differences with intervals that respect how the data was drawn, and verdicts.

A query of LAReQA is one question in one language; its translations are not independent (they
form a cluster), and a recipe's seeds vary the training. ``recipe_difference`` and
``scale_change`` are linear contrasts of recipe means with the two-component t interval of
``contrasts`` (question clusters + between-seed variance, Satterthwaite degrees of freedom;
docs/protocol.md, section 4), on the declared estimands: Mono and Cross are means of language
cells, Multi and rank distance means over query languages.

``verdict`` turns an interval into one of three words for a non-inferiority question with a
declared margin: *no degradation beyond the margin*, *degradation*, or *inconclusive*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from . import contrasts

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


@dataclass(frozen=True)
class ScaleChange:
    """How A - B changes from a smaller model to a larger one, on the same questions.

    ``change`` = (A - B at the larger) - (A - B at the smaller), with a two-component t
    interval over the same question clusters for all four recipes. ``seeds`` is (A small, B small, A large, B large).
    """

    dataset: str
    measure: str
    n_clusters: int
    seeds: tuple[int, int, int, int]
    small_diff: float
    large_diff: float
    change: float
    ci_low: float
    ci_high: float
    p_value: float
    p_floor: float


def scale_change(small: tuple[Sequence[pd.DataFrame], Sequence[pd.DataFrame]],
                 large: tuple[Sequence[pd.DataFrame], Sequence[pd.DataFrame]], dataset: str, measure: str,
                 n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0, confidence: float = 0.95) -> ScaleChange:
    """(A - B at ``large``) - (A - B at ``small``); each side is (recipe A runs, recipe B runs)."""
    groups = [large[0], large[1], small[0], small[1]]
    c = contrasts.linear_contrast(groups, [1.0, -1.0, -1.0, 1.0], dataset, measure, confidence=confidence)
    a_large, b_large, a_small, b_small = c.means
    small_diff, large_diff = a_small - b_small, a_large - b_large
    return ScaleChange(dataset, measure, c.n_clusters, tuple(len(g) for g in (*small, *large)),
                       small_diff, large_diff, c.estimate, c.ci_low, c.ci_high, c.p_value, 0.0)


def change_direction(change: ScaleChange, a: str = "A") -> str:
    """In whose favour A - B moves from the smaller to the larger model, from the interval alone;
    ``inconclusive`` where a recipe has one seed (training variance not measured)."""
    if min(change.seeds) < 2:
        return "inconclusive: a recipe with one seed"
    sign = 1.0 if HIGHER_IS_BETTER[change.measure] else -1.0
    low, high = sorted((sign * change.ci_low, sign * change.ci_high))
    return f"moves in {a}'s favour" if low > 0 else f"moves against {a}" if high < 0 else "no clear change"


SINGLE_SEED = "inconclusive (a recipe with one seed: its training variance not measured)"


def verdict(diff: Difference, margin: float = DEFAULT_MARGIN) -> str:
    """Non-inferiority of A against B on ``diff.measure`` with ``margin`` (in the measure's unit).

    ``no degradation beyond the margin`` when the whole interval lies above -margin (for
    rank distance, where lower is better: below +margin); ``degradation`` when the whole
    interval lies beyond the margin; else ``inconclusive``. With one seed on either side the
    interval covers query noise only, so the answer is ``inconclusive`` whatever it shows.
    """
    if min(diff.seeds_a, diff.seeds_b) < 2:
        return SINGLE_SEED
    sign = 1.0 if HIGHER_IS_BETTER[diff.measure] else -1.0
    low, high = sorted((sign * diff.ci_low, sign * diff.ci_high))
    if low > -margin:
        return "no degradation beyond the margin"
    if high < -margin:
        return "degradation"
    return "inconclusive"


def direction(diff: Difference) -> str:
    """``better``, ``worse`` or ``no clear difference`` for A, from the interval alone."""
    sign = 1.0 if HIGHER_IS_BETTER[diff.measure] else -1.0
    low, high = sorted((sign * diff.ci_low, sign * diff.ci_high))
    return "better" if low > 0 else "worse" if high < 0 else "no clear difference"


def after_holm(direction: str, p_holm: float, level: float = 0.05) -> str:
    """The direction word a row may keep once its family is Holm-adjusted.

    ``direction`` / ``change_direction`` read the unadjusted 95% interval; a claim of better,
    worse or a move survives only where the Holm-adjusted p-value is at most ``level``.
    """
    if p_holm <= level or not direction.startswith(("better", "worse", "moves")):
        return direction
    return f"not clear after Holm (unadjusted: {direction})"
