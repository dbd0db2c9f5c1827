"""Recipe differences with intervals that respect how the data was drawn, and verdicts.

A query of LAReQA is one question in one language; the 11 (XQuAD-R) or 2-4 (MLQA-R)
translations of a question are not independent, and a recipe's seeds vary the training.
``recipe_difference`` therefore resamples *nested*: seeds of each recipe with replacement,
then question ids (clusters: all translations move together) with replacement, the same
clusters for both recipes (the queries are paired). The statistic is the difference of the
recipes' scores averaged within each query language and then over languages (the paper's
macro view; per-query scores from ``stats.query_scores`` and ``bias.rank_distances``).

``verdict`` turns an interval into one of three words for a non-inferiority question with a
declared margin: *no degradation beyond the margin*, *degradation*, or *inconclusive*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybridir_core.analysis import stats
from hybridir_core.evaluation import bias, metrics
from hybridir_core.runs.measures import MEASURE_LABELS, MEASURE_TABLE

MEASURES = tuple(MEASURE_LABELS)
HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in MEASURE_TABLE}
DEFAULT_MARGIN = 0.01
DEFAULT_RESAMPLES = 2_000
KEYS = ["question_id", "query_lang"]


@dataclass(frozen=True)
class Difference:
    """Recipe A - recipe B on one dataset and measure, with a nested-bootstrap interval.

    ``p_value`` is the two-sided bootstrap p-value, never below ``p_floor`` = 2 / (R + 1);
    ``at_floor`` says it sits there (print it as "<= p_floor").
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


def query_table(ranks: pd.DataFrame, dataset: str, measure: str) -> pd.Series:
    """One score per query (question id, language) of one run on one dataset.

    The per-query scores of a ranks table are computed once and kept (``_PER_QUERY``), so
    the four measures and both comparisons of a report reuse them.
    """
    key = (id(ranks), dataset)
    cached = _PER_QUERY.get(key)
    if cached is None or cached[0] is not ranks:  # the table itself is kept, so its id is not reused
        if len(_PER_QUERY) > 64:
            _PER_QUERY.clear()
        rows = ranks[ranks["dataset"] == dataset]
        cached = _PER_QUERY[key] = (ranks, rows, metrics.per_query_scores(rows))
    _, rows, per_query = cached
    if measure == "rank_distance":
        return bias.rank_distances(rows).set_index(KEYS)["rank_distance"].astype(float)
    return stats.query_scores(per_query, measure).droplevel("dataset")


_PER_QUERY: dict[tuple, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]] = {}


def _aligned(runs: Sequence[pd.DataFrame], dataset: str, measure: str) -> pd.DataFrame:
    """Queries x runs, the queries every run has."""
    return pd.concat([query_table(r, dataset, measure) for r in runs], axis=1, join="inner")


def _cluster_sums(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per (run, cluster, language) score sums and per (cluster, language) query counts."""
    qid = table.index.get_level_values("question_id")
    lang = table.index.get_level_values("query_lang")
    clusters, c_idx = np.unique(np.asarray(qid, dtype=str), return_inverse=True)
    langs, l_idx = np.unique(np.asarray(lang, dtype=str), return_inverse=True)
    sums = np.zeros((table.shape[1], len(clusters), len(langs)))
    counts = np.zeros((len(clusters), len(langs)))
    values = table.to_numpy(dtype=float)
    for r in range(table.shape[1]):
        np.add.at(sums[r], (c_idx, l_idx), values[:, r])
    np.add.at(counts, (c_idx, l_idx), 1.0)
    return sums, counts


def _macro(sums: np.ndarray, counts: np.ndarray, cluster_w: np.ndarray, seed_w: np.ndarray) -> np.ndarray:
    """Mean over languages of the language means, one value per resample.

    ``sums`` (R, C, L) are one recipe's per-run cluster sums, ``cluster_w`` (B, C) and
    ``seed_w`` (B, R) the resampled cluster counts and seed shares.
    """
    num = sum(seed_w[:, [r]] * (cluster_w @ sums[r]) for r in range(len(sums)))  # (B, L)
    den = cluster_w @ counts
    with np.errstate(invalid="ignore", divide="ignore"):
        per_lang = num / den
    return np.nanmean(per_lang, axis=1)


def _contrast(groups: Sequence[Sequence[pd.DataFrame]], weights: Sequence[float], dataset: str, measure: str,
              n_resamples: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, list[float], np.ndarray]:
    """sum(weight x group score) over nested resamples: the same question ids for every group
    (the queries are shared), then each group's seeds with replacement.

    Returns the aligned query table, the cluster counts, each group's observed score and the
    resampled contrast.
    """
    if any(not group for group in groups):
        raise ValueError("each recipe needs at least one run")
    table = _aligned([r for group in groups for r in group], dataset, measure)
    if table.empty:
        raise ValueError(f"{dataset}: the recipes share no query")
    sums, counts = _cluster_sums(table)
    bounds = np.cumsum([0, *(len(g) for g in groups)])
    parts = [sums[bounds[i]:bounds[i + 1]] for i in range(len(groups))]
    ones = np.ones((1, counts.shape[0]))
    observed = [float(_macro(part, counts, ones, np.full((1, len(part)), 1 / len(part)))[0]) for part in parts]
    rng = np.random.default_rng(seed)
    clusters = rng.multinomial(counts.shape[0], np.full(counts.shape[0], 1 / counts.shape[0]),
                               size=n_resamples).astype(float)
    boot = np.zeros(n_resamples)
    for weight, part in zip(weights, parts):
        seed_w = rng.multinomial(len(part), np.full(len(part), 1 / len(part)), size=n_resamples) / len(part)
        boot = boot + weight * _macro(part, counts, clusters, seed_w)
    return table, counts, observed, boot


def _interval_and_p(boot: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """Percentile interval, two-sided bootstrap p-value (never below the floor 2 / (R + 1)), floor."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    floor = 2 / (len(boot) + 1)  # two-sided: the smallest p the resampling can give
    p = 2 * min((boot <= 0).sum() + 1, (boot >= 0).sum() + 1) / (len(boot) + 1)
    return float(low), float(high), float(min(max(p, floor), 1.0)), floor


def recipe_difference(group_a: Sequence[pd.DataFrame], group_b: Sequence[pd.DataFrame], dataset: str,
                      measure: str, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                      confidence: float = 0.95) -> Difference:
    """Recipe A - recipe B (ranks tables, one per seed) with a seeds-then-questions bootstrap."""
    table, counts, (a, b), boot = _contrast([group_a, group_b], [1.0, -1.0], dataset, measure, n_resamples, seed)
    low, high, p, floor = _interval_and_p(boot, confidence)
    return Difference(dataset, measure, len(table), counts.shape[0], len(group_a), len(group_b), a - b,
                      low, high, p, floor)


@dataclass(frozen=True)
class ScaleChange:
    """How A - B changes from a smaller model to a larger one, on the same questions.

    ``change`` = (A - B at the larger) - (A - B at the smaller), with a nested-bootstrap
    interval: the same question ids for all four recipes, each recipe's seeds resampled on
    their own. ``seeds`` is (A small, B small, A large, B large).
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
    _, counts, (a_large, b_large, a_small, b_small), boot = _contrast(
        groups, [1.0, -1.0, -1.0, 1.0], dataset, measure, n_resamples, seed)
    low, high, p, floor = _interval_and_p(boot, confidence)
    small_diff, large_diff = a_small - b_small, a_large - b_large
    return ScaleChange(dataset, measure, counts.shape[0], tuple(len(g) for g in (*small, *large)),
                       small_diff, large_diff, large_diff - small_diff, low, high, p, floor)


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


def differences_frame(rows: Sequence[Difference], family: str) -> pd.DataFrame:
    """The differences as a table with Holm-adjusted p-values over the stated ``family``."""
    frame = pd.DataFrame([{**vars(r), "at_floor": r.at_floor} for r in rows])
    if frame.empty:
        return frame
    frame["p_holm"] = np.maximum(stats.holm(frame["p_value"].to_numpy()), frame["p_floor"])
    frame["family"] = family
    return frame


def format_p(p: float, floor: float) -> str:
    """``<= 0.0005`` at the resampling floor, else three significant digits."""
    return f"<= {floor:.2g}" if p <= floor + 1e-12 else f"{p:.3g}"
