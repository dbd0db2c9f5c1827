"""Linear contrasts of recipe means with two-component t intervals (docs/protocol.md, section 4).

Every comparison of the study is a linear contrast ``D = sum_g w_g * mean_r m_{g,r}`` of
recipe means, where ``m_{g,r}`` is run ``r`` of recipe ``g``'s value of one measure, a *macro*
mean: the mean over units ``u`` (language cells or query languages) of the unit's mean score.
The interval adds two variance components:

- question component: the cluster-robust (sandwich) variance over questions, a cluster being a
  question id with all its translations. Each run's influence on cluster ``c`` is
  ``(1/U) sum_u (S_rcu - m_ru N_cu) / N_u`` (``S`` score sums, ``N`` query counts); the
  contrast's influence is the weighted mean over runs, and its variance ``C/(C-1) sum_c IF_c^2``.
  The part of it that is seed x question noise (already inside the seed component) is
  subtracted: ``sum_g w_g^2 W_g / n_g`` with ``W_g`` the within-recipe spread of the influences.
- seed component: ``sum_g w_g^2 s_g^2 / n_g``, ``s_g^2`` the sample variance of the recipe's
  run values (0 for a zero-shot recipe: nothing random in it).

``D +- t(nu) sqrt(V)``, ``nu`` by Welch-Satterthwaite. Analytic: no resampling, so no label can
depend on a random seed. ``bench/coverage.py`` checks the 95 % level by simulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybridir_core.evaluation import bias, metrics
from hybridir_core.runs.measures import MEASURE_TABLE, MULTI, Measure

LPR = Measure("lpr", "language_preference_rate", "language preference rate", "lang. pref.", False, 3)
"""The second bias measure (MLAIRE); not in ``MEASURE_TABLE``: shipped ``metrics.json`` files lack it."""
_ALL = (*MEASURE_TABLE, LPR)
MEASURES = tuple(m.name for m in _ALL)
HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in _ALL}
SUMMARY_OF = {m.name: m.column for m in _ALL}
"""The ``metrics.json`` aggregate each measure's macro mean equals (the recipe table's column)."""


def student_t():
    """``scipy.stats.t``, imported on first use: scipy.stats costs every dashboard page ~0.6 s
    of start-up (this module is imported by each), and only an interval needs it."""
    from scipy.stats import t

    return t


@dataclass(frozen=True)
class Units:
    """One run's scores of one measure on one dataset, as arrays over (cluster, unit).

    ``sums[c, u]`` is the score sum of cluster ``c``'s queries in unit ``u``; ``counts`` their
    number (the same for every run of one contrast once aligned).
    """

    sums: np.ndarray
    counts: np.ndarray

    @property
    def unit_means(self) -> np.ndarray:
        return self.sums.sum(axis=0) / self.counts.sum(axis=0)

    @property
    def value(self) -> float:
        return float(np.mean(self.unit_means))

    def influence(self) -> np.ndarray:
        """Per-cluster influence on the macro mean (sums to 0 over clusters)."""
        n_unit = self.counts.sum(axis=0)
        return np.mean((self.sums - self.unit_means * self.counts) / n_unit, axis=1)


def query_values(ranks: pd.DataFrame, dataset: str, measure: str) -> pd.Series:
    """One score per query and unit: index ``(question_id, query_lang, unit)``.

    mono: AP against the query's own language (unit = its language); cross: AP against each
    other language (unit = ``X>Y``); multi: AP in the pool; rank_distance: pool rank distance;
    lpr: 1 if the own-language answer ranks first among the query's relevant candidates
    (queries with an own-language and another answer only). Units of the last three: the
    query language.
    """
    key = (id(ranks), dataset, measure)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is ranks:
        return hit[1]
    rows = ranks[ranks["dataset"] == dataset]
    if measure in ("mono", "cross", "multi"):
        pq = _per_query(ranks, rows, dataset)
        own, cand = pq["candidate_lang"] == pq["query_lang"], pq["candidate_lang"]
        pick = {"mono": own, "multi": cand == MULTI, "cross": ~own & (cand != MULTI)}[measure]
        pq = pq[pick]
        unit = pq["query_lang"] + (">" + pq["candidate_lang"] if measure == "cross" else "")
        values = pd.Series(pq["ap"].to_numpy(float), name=measure, index=pd.MultiIndex.from_arrays(
            [pq["question_id"].astype(str), pq["query_lang"], unit], names=["question_id", "query_lang", "unit"]))
    elif measure == "rank_distance":
        table = bias.rank_distances(rows)
        values = _by_language(table, "rank_distance")
    elif measure == "lpr":
        values = _by_language(bias.language_preference(rows), "prefers_own")
    else:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[key] = (ranks, values)
    return values


_CACHE: dict[tuple, tuple[pd.DataFrame, pd.Series]] = {}


def _per_query(ranks: pd.DataFrame, rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """``metrics.per_query_scores`` of one run's dataset, computed once for mono, cross and multi."""
    key = (id(ranks), dataset, "per_query")
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not ranks:
        hit = _CACHE[key] = (ranks, metrics.per_query_scores(rows))
    return hit[1]


def _by_language(table: pd.DataFrame, column: str) -> pd.Series:
    index = pd.MultiIndex.from_arrays([table["question_id"].astype(str), table["query_lang"], table["query_lang"]],
                                      names=["question_id", "query_lang", "unit"])
    return pd.Series(table[column].to_numpy(float), index=index)


def aligned_units(tables: Sequence[pd.Series]) -> list[Units]:
    """Each run's ``Units`` over the queries every run has (the runs are paired on them)."""
    joined = pd.concat(list(tables), axis=1, join="inner")
    if joined.empty:
        raise ValueError("the runs share no query")
    clusters = pd.factorize(joined.index.get_level_values("question_id"))[0]
    units = pd.factorize(joined.index.get_level_values("unit"))[0]
    shape = (clusters.max() + 1, units.max() + 1)
    counts = np.zeros(shape)
    np.add.at(counts, (clusters, units), 1.0)
    out = []
    for column in range(joined.shape[1]):
        sums = np.zeros(shape)
        np.add.at(sums, (clusters, units), joined.iloc[:, column].to_numpy(float))
        out.append(Units(sums, counts))
    return out


@dataclass(frozen=True)
class Contrast:
    """A linear contrast of recipe means with its two-component t interval.

    ``se_questions`` / ``se_seeds`` are the two components (as standard errors); ``df`` the
    Satterthwaite degrees of freedom; ``p_value`` two-sided. ``one_seed`` says some trained
    recipe has a single run, so its training variance is unmeasured (the interval misses it).
    """

    estimate: float
    se: float
    se_questions: float
    se_seeds: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    n_clusters: int
    n_queries: int
    seeds: tuple[int, ...]
    means: tuple[float, ...]
    one_seed: bool

    def p_beyond(self, bound: float, above: bool) -> float:
        """One-sided p of H0: D <= bound (``above``) or H0: D >= bound (the t test's)."""
        if self.se == 0:
            return 0.0 if (self.estimate > bound if above else self.estimate < bound) else 1.0
        t = (self.estimate - bound) / self.se
        return float(student_t().sf(t, self.df) if above else student_t().cdf(t, self.df))


def contrast_of_units(groups: Sequence[Sequence[Units]], weights: Sequence[float], trained: Sequence[bool],
                      confidence: float = 0.95, n_queries: int = 0) -> Contrast:
    """The contrast ``sum_g w_g mean(group g)`` from aligned ``Units`` (the array-level core)."""
    values = [np.array([u.value for u in g]) for g in groups]
    infl = [np.array([u.influence() for u in g]) for g in groups]  # (runs, clusters) per group
    n_c = groups[0][0].counts.shape[0]
    scale = n_c / max(n_c - 1, 1)
    total_if = sum(w * f.mean(axis=0) for w, f in zip(weights, infl))
    v_q = scale * float(np.sum(total_if ** 2))
    seed_terms, one_seed = [], False
    for w, vals, f, is_trained in zip(weights, values, infl, trained):
        n = len(vals)
        if not is_trained:
            continue
        if n < 2:
            one_seed = True
            continue
        within = scale * float(np.sum((f - f.mean(axis=0)) ** 2)) / (n - 1)
        v_q -= w ** 2 * within / n
        seed_terms.append((w ** 2 * float(np.var(vals, ddof=1)) / n, n - 1))
    v_q = max(v_q, 0.0)
    v_s = sum(t for t, _ in seed_terms)
    var = v_q + v_s
    denom = v_q ** 2 / max(n_c - 1, 1) + sum(t ** 2 / df for t, df in seed_terms)
    df = var ** 2 / denom if denom > 0 else float("inf")
    estimate = float(sum(w * v.mean() for w, v in zip(weights, values)))
    se = float(np.sqrt(var))
    half = float(student_t().ppf(0.5 + confidence / 2, df)) * se
    p = float(2 * student_t().sf(abs(estimate) / se, df)) if se > 0 else float(estimate == 0)
    return Contrast(estimate, se, float(np.sqrt(v_q)), float(np.sqrt(v_s)), float(df), estimate - half,
                    estimate + half, p, n_c, n_queries, tuple(len(v) for v in values),
                    tuple(float(v.mean()) for v in values), one_seed)


def linear_contrast(groups: Sequence[Sequence[pd.DataFrame]], weights: Sequence[float], dataset: str,
                    measure: str, trained: Sequence[bool] | None = None, confidence: float = 0.95) -> Contrast:
    """``sum_g w_g * (mean over group g's runs of the measure)`` from ranks tables, paired on queries.

    Args:
        groups: per recipe, the ranks tables of its runs (one per seed).
        weights: one weight per group (e.g. ``[1, -1]`` for A - B).
        trained: per group, whether its runs vary with a training seed (False: zero-shot).
    """
    if len(groups) != len(weights) or any(not g for g in groups):
        raise ValueError("one weight per group, and at least one run in each group")
    trained = [True] * len(groups) if trained is None else list(trained)
    tables = [query_values(r, dataset, measure) for g in groups for r in g]
    units = aligned_units(tables)
    n_queries = len(pd.concat(tables, axis=1, join="inner"))
    bounds = np.cumsum([0, *(len(g) for g in groups)])
    split = [units[bounds[i]:bounds[i + 1]] for i in range(len(groups))]
    return contrast_of_units(split, weights, trained, confidence, n_queries)


def ratio_of_contrasts(num: Sequence[Sequence[pd.DataFrame]], num_w: Sequence[float],
                       den_w: Sequence[float], dataset: str, measure: str, trained: Sequence[bool],
                       confidence: float = 0.95) -> tuple[float, float, float, float]:
    """``(sum w_num m) / (sum w_den m)`` over the same groups, with a delta-method t interval.

    The ratio's linearisation ``N - R D`` (R the observed ratio) is itself a linear contrast, so
    its two-component variance divided by ``D^2`` is the ratio's. Returns (ratio, low, high, df).
    """
    num_c = linear_contrast(num, num_w, dataset, measure, trained, confidence)
    den_c = linear_contrast(num, den_w, dataset, measure, trained, confidence)
    ratio = num_c.estimate / den_c.estimate
    lin = linear_contrast(num, [a - ratio * b for a, b in zip(num_w, den_w)], dataset, measure, trained, confidence)
    half = float(student_t().ppf(0.5 + confidence / 2, lin.df)) * lin.se / abs(den_c.estimate)
    return ratio, ratio - half, ratio + half, lin.df


def nested_bootstrap(groups: Sequence[Sequence[pd.DataFrame]], weights: Sequence[float], dataset: str,
                     measure: str, n_resamples: int = 2_000, seed: int = 0) -> tuple[float, float]:
    """The earlier method, kept as a cross-check: percentile 95 % interval of the contrast over
    nested resamples (question clusters with replacement, shared by all groups; then each group's
    runs with replacement). Its labels are never used (docs/protocol.md, section 4)."""
    units = aligned_units([query_values(r, dataset, measure) for g in groups for r in g])
    rng = np.random.default_rng(seed)
    n_c = units[0].counts.shape[0]
    w = rng.multinomial(n_c, np.full(n_c, 1 / n_c), size=n_resamples).astype(float)  # (B, C)
    den = w @ units[0].counts  # (B, U)
    per_run = np.array([np.mean((w @ u.sums) / den, axis=1) for u in units])  # (runs, B)
    boot, start = np.zeros(n_resamples), 0
    for weight, group in zip(weights, groups):
        n = len(group)
        pick = rng.multinomial(n, np.full(n, 1 / n), size=n_resamples) / n  # (B, n)
        boot += weight * np.sum(pick * per_run[start:start + n].T, axis=1)
        start += n
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(low), float(high)
