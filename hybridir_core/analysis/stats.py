"""Paired significance tests over per-query AP, and multiple-testing corrections.

Two runs evaluated on the same queries give paired scores ``a_i, b_i``; the tests work on the
differences ``d_i = a_i - b_i`` and the statistic ``mean(d)``.

- Randomization (sign-flip) test: under H0 the two runs are exchangeable for every query, so
  each ``d_i`` is equally likely ``+d_i`` or ``-d_i``. Two-sided
  ``p = (1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + R)`` over R random sign vectors ``s``;
  exact enumeration of all ``2^n`` sign vectors (``p = #{...} / 2^n``) when that is at most R.
- Paired bootstrap: resample queries with replacement; the percentile interval of
  ``mean(d*)`` and the two-sided p-value of the null-shifted bootstrap,
  ``p = (1 + #{|mean(d*) - mean(d)| >= |mean(d)|}) / (1 + R)``.
- Holm (family-wise) adjusts many p-values, e.g.
  one per language cell.

Every test is seeded (``numpy.random.default_rng(seed)``), so a page shows the same p-value on
every reload. ``tests/test_stats.py`` cross-checks them against ``scipy.stats``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybridir_core.evaluation import metrics
from hybridir_core.runs.measures import MULTI, SETTINGS

_CHUNK = 512
_TOL = 1e-12


@dataclass(frozen=True)
class PairedResult:
    """Outcome of a paired test on ``d = a - b``."""

    n: int
    """Paired observations (queries)."""
    mean_a: float
    mean_b: float
    mean_diff: float
    """``mean(a - b)``: above zero when A scores higher."""
    p_value: float
    """Two-sided."""
    ci_low: float | None = None
    ci_high: float | None = None
    """The percentile interval of ``mean_diff`` (bootstrap only)."""


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two 1-D arrays of one length, got {a.shape} and {b.shape}")
    if len(a) == 0:
        raise ValueError("no paired scores")
    return a, b


def randomization_test(a, b, n_resamples: int = 10_000, seed: int = 0) -> PairedResult:
    """Two-sided paired sign-flip randomization test of ``mean(a - b) = 0``.

    Exact (all ``2^n`` sign vectors) when ``2^n <= n_resamples``, else ``n_resamples`` random
    sign vectors with the ``(1 + count) / (1 + R)`` estimate, never 0.
    """
    a, b = _paired(a, b)
    d = a - b
    n = len(d)
    observed = abs(d.mean())
    threshold = observed - _TOL * max(1.0, observed)
    if n < 63 and 2 ** n <= n_resamples:
        signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        hits = int(np.sum(np.abs(signs @ d / n) >= threshold))
        p = hits / 2 ** n
    else:
        rng = np.random.default_rng(seed)
        hits = 0
        for lo in range(0, n_resamples, _CHUNK):
            size = min(_CHUNK, n_resamples - lo)
            signs = rng.integers(0, 2, size=(size, n), dtype=np.int8) * 2 - 1
            hits += int(np.sum(np.abs(signs @ d / n) >= threshold))
        p = (hits + 1) / (n_resamples + 1)
    return PairedResult(n, float(a.mean()), float(b.mean()), float(d.mean()), float(min(p, 1.0)))


def bootstrap_test(a, b, n_resamples: int = 10_000, seed: int = 0,
                   confidence: float = 0.95) -> PairedResult:
    """Paired bootstrap over queries: percentile interval of ``mean(a - b)`` and a p-value."""
    a, b = _paired(a, b)
    d = a - b
    n = len(d)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for lo in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - lo)
        means[lo:lo + size] = d[rng.integers(0, n, size=(size, n))].mean(axis=1)
    observed = d.mean()
    hits = int(np.sum(np.abs(means - observed) >= abs(observed) - _TOL * max(1.0, abs(observed))))
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedResult(n, float(a.mean()), float(b.mean()), float(observed),
                        float(min((hits + 1) / (n_resamples + 1), 1.0)), float(low), float(high))


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values: ``max_{j<=i} min(1, (m - j + 1) p_(j))`` in sorted order."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def query_scores(per_query: pd.DataFrame, setting: str, value: str = "ap") -> pd.Series:
    """One score per query ``(dataset, question_id, query_lang)`` for a setting.

    ``mono``: the query's AP against its own language; ``cross``: the mean of its APs against
    every other language (one value per query, so queries stay the independent unit);
    ``multi``: its AP in the pooled ranking.

    Args:
        per_query: ``metrics.per_query_scores`` output.
        setting: ``mono``, ``cross`` or ``multi``.
        value: the per-query column (``ap``, ``recall_at_1``, ``recall_at_10``).
    """
    keys = ["dataset", "question_id", "query_lang"]
    cand, query = per_query["candidate_lang"], per_query["query_lang"]
    masks = {"mono": cand == query, "multi": cand == MULTI,
             "cross": (cand != query) & (cand != MULTI)}
    if setting not in masks:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    return per_query[masks[setting]].groupby(keys, sort=True)[value].mean()


def compare_runs(ranks_a: pd.DataFrame, ranks_b: pd.DataFrame, n_resamples: int = 10_000,
                 seed: int = 0) -> pd.DataFrame:
    """Paired tests of run A against run B for every dataset and setting they share.

    Queries are paired on ``(dataset, question_id, query_lang)``; rows whose query exists in
    one run only are left out (``n_queries`` says how many were paired). ``p_holm`` adjusts the
    randomization p-values over all rows of the table.

    Returns:
        columns ``dataset, setting, n_queries, map_a, map_b, diff, ci_low, ci_high,
        p_randomization, p_bootstrap, p_holm``.
    """
    return compare_run_groups([ranks_a], [ranks_b], n_resamples, seed)


def _group_scores(per_queries: list[pd.DataFrame], dataset: str, setting: str) -> pd.Series:
    """A query's score averaged over the runs of a group (queries every run has)."""
    columns = [query_scores(pq[pq["dataset"] == dataset], setting) for pq in per_queries]
    return pd.concat(columns, axis=1, join="inner").mean(axis=1)


def compare_run_groups(group_a: list[pd.DataFrame], group_b: list[pd.DataFrame],
                       n_resamples: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """``compare_runs`` for two groups of runs, e.g. the seeds of two training recipes.

    Each query's score is its mean over the runs of its group, so the tests ask whether
    recipe A beats recipe B on the same queries once training noise is averaged over seeds;
    the spread across seeds themselves is ``report.seed_differences``. One run per group is
    exactly ``compare_runs``.
    """
    if not group_a or not group_b:
        raise ValueError("each group needs at least one run")
    pq_a = [metrics.per_query_scores(r) for r in group_a]
    pq_b = [metrics.per_query_scores(r) for r in group_b]
    shared = set.intersection(*(set(pq["dataset"]) for pq in pq_a + pq_b))
    rows = []
    for dataset in sorted(shared):
        for setting in SETTINGS:
            a = _group_scores(pq_a, dataset, setting)
            b = _group_scores(pq_b, dataset, setting)
            joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner")
            if joined.empty:
                continue
            rand = randomization_test(joined["a"], joined["b"], n_resamples, seed)
            boot = bootstrap_test(joined["a"], joined["b"], n_resamples, seed)
            rows.append({
                "dataset": dataset, "setting": setting, "n_queries": rand.n,
                "map_a": rand.mean_a, "map_b": rand.mean_b, "diff": rand.mean_diff,
                "ci_low": boot.ci_low, "ci_high": boot.ci_high,
                "p_randomization": rand.p_value, "p_bootstrap": boot.p_value,
            })
    columns = ["dataset", "setting", "n_queries", "map_a", "map_b", "diff", "ci_low", "ci_high",
               "p_randomization", "p_bootstrap", "p_holm"]
    out = pd.DataFrame(rows, columns=columns[:-1])
    out["p_holm"] = holm(out["p_randomization"].to_numpy())
    return out[columns]


def cell_tests(ranks_a: pd.DataFrame, ranks_b: pd.DataFrame, dataset: str, value: str = "ap",
               n_resamples: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Paired randomization test per (query language, candidate language) cell, Holm-adjusted.

    Returns:
        columns ``query_lang, candidate_lang, n_queries, diff, p_value, p_holm``; the multi
        column is included (``candidate_lang == "multi"``).
    """
    keys = ["question_id", "query_lang", "candidate_lang"]
    pq_a = metrics.per_query_scores(ranks_a[ranks_a["dataset"] == dataset]).set_index(keys)[value]
    pq_b = metrics.per_query_scores(ranks_b[ranks_b["dataset"] == dataset]).set_index(keys)[value]
    joined = pd.concat([pq_a.rename("a"), pq_b.rename("b")], axis=1, join="inner").reset_index()
    rows = []
    for (q_lang, c_lang), cell in joined.groupby(["query_lang", "candidate_lang"], sort=True):
        result = randomization_test(cell["a"], cell["b"], n_resamples, seed)
        rows.append({"query_lang": q_lang, "candidate_lang": c_lang, "n_queries": result.n,
                     "diff": result.mean_diff, "p_value": result.p_value})
    out = pd.DataFrame(rows, columns=["query_lang", "candidate_lang", "n_queries", "diff", "p_value"])
    out["p_holm"] = holm(out["p_value"].to_numpy())
    return out
