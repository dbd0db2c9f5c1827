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

from . import bias, metrics, stats

MEASURES = ("mono", "cross", "multi", "rank_distance")
HIGHER_IS_BETTER = {"mono": True, "cross": True, "multi": True, "rank_distance": False}
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


def recipe_difference(group_a: Sequence[pd.DataFrame], group_b: Sequence[pd.DataFrame], dataset: str,
                      measure: str, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                      confidence: float = 0.95) -> Difference:
    """Recipe A - recipe B (ranks tables, one per seed) with a seeds-then-questions bootstrap."""
    if not group_a or not group_b:
        raise ValueError("each recipe needs at least one run")
    table = _aligned([*group_a, *group_b], dataset, measure)
    if table.empty:
        raise ValueError(f"{dataset}: the two recipes share no query")
    sums, counts = _cluster_sums(table)
    n_a, n_b = len(group_a), len(group_b)
    ones = np.ones((1, counts.shape[0]))
    observed = float(_macro(sums[:n_a], counts, ones, np.full((1, n_a), 1 / n_a))[0]
                     - _macro(sums[n_a:], counts, ones, np.full((1, n_b), 1 / n_b))[0])
    rng = np.random.default_rng(seed)
    clusters = rng.multinomial(counts.shape[0], np.full(counts.shape[0], 1 / counts.shape[0]),
                               size=n_resamples).astype(float)
    seeds_a = rng.multinomial(n_a, np.full(n_a, 1 / n_a), size=n_resamples) / n_a
    seeds_b = rng.multinomial(n_b, np.full(n_b, 1 / n_b), size=n_resamples) / n_b
    boot = _macro(sums[:n_a], counts, clusters, seeds_a) - _macro(sums[n_a:], counts, clusters, seeds_b)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    floor = 2 / (n_resamples + 1)  # two-sided: the smallest p the resampling can give
    p = 2 * min((boot <= 0).sum() + 1, (boot >= 0).sum() + 1) / (n_resamples + 1)
    return Difference(dataset, measure, len(table), counts.shape[0], n_a, n_b, observed,
                      float(low), float(high), float(min(max(p, floor), 1.0)), floor)


SINGLE_SEED = "inconclusive (one seed per recipe: training variance not measured)"


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
