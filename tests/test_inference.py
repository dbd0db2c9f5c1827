"""Nested, clustered recipe differences and the non-inferiority verdict, on hand-built ranks."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from hybridir_core.analysis import intervals as inference


def ranks_with_ap(aps: dict[tuple[str, str], float], dataset: str = "d") -> pd.DataFrame:
    """A ranks table whose Mono AP of each (question, language) is the given 1/k (one relevant)."""
    rows = []
    for (qid, lang), ap in aps.items():
        rank = int(round(1 / ap))
        rows.append(dict(dataset=dataset, question_id=qid, query_lang=lang, candidate_lang=lang,
                         rank_multi=rank, rank_in_lang=rank))
    return pd.DataFrame(rows)


def test_one_seed_one_language_is_the_paired_t_interval():
    """One run per recipe, one query per question: the interval is scipy's paired t interval."""
    rng = np.random.default_rng(1)
    ks_a, ks_b = rng.integers(1, 6, 60), rng.integers(1, 6, 60)
    a = ranks_with_ap({(f"q{i}", "en"): 1 / k for i, k in enumerate(ks_a)})
    b = ranks_with_ap({(f"q{i}", "en"): 1 / k for i, k in enumerate(ks_b)})
    got = inference.recipe_difference([a], [b], "d", "mono")
    d = 1 / ks_a - 1 / ks_b
    assert got.diff == pytest.approx(d.mean())
    ref = scipy_stats.ttest_rel(1 / ks_a, 1 / ks_b)
    ci = ref.confidence_interval(0.95)
    assert got.ci_low == pytest.approx(ci.low, abs=1e-12) and got.ci_high == pytest.approx(ci.high, abs=1e-12)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert got.n_queries == got.n_clusters == 60 and got.seeds_a == got.seeds_b == 1


def test_translations_move_together():
    """Eleven identical translations of each question carry no more evidence than one."""
    rng = np.random.default_rng(2)
    ks_a, ks_b = rng.integers(1, 6, 40), rng.integers(1, 6, 40)
    langs = [f"l{j}" for j in range(11)]
    one = [ranks_with_ap({(f"q{i}", "en"): 1 / k for i, k in enumerate(ks)}) for ks in (ks_a, ks_b)]
    many = [ranks_with_ap({(f"q{i}", lang): 1 / k for i, k in enumerate(ks) for lang in langs})
            for ks in (ks_a, ks_b)]
    single = inference.recipe_difference([one[0]], [one[1]], "d", "mono", seed=3)
    clustered = inference.recipe_difference([many[0]], [many[1]], "d", "mono", seed=3)
    assert clustered.n_queries == 440 and clustered.n_clusters == 40
    assert clustered.ci_high - clustered.ci_low == pytest.approx(single.ci_high - single.ci_low, rel=1e-9)


def test_seed_spread_widens_the_interval():
    """Same queries, recipe A's seeds disagree: the interval must include the seed spread."""
    base = {(f"q{i}", "en"): 1 / (1 + i % 3) for i in range(90)}
    shifted_up = {k: 1 / max(1, round(1 / v) - 1) for k, v in base.items()}
    a_seeds = [ranks_with_ap(base), ranks_with_ap(shifted_up)]
    b_seed = [ranks_with_ap(base)]
    nested = inference.recipe_difference(a_seeds, b_seed, "d", "mono", seed=0)
    only_first = inference.recipe_difference(a_seeds[:1], b_seed, "d", "mono", seed=0)
    assert only_first.ci_low == only_first.ci_high == 0  # identical runs: no uncertainty at all
    gap = inference.recipe_difference(a_seeds[1:], b_seed, "d", "mono").diff
    assert nested.ci_low < 0 and nested.ci_high > gap  # either seed's value lies inside


def test_direction_reads_the_interval_in_the_measures_sense():
    def diff(low, high, measure="mono"):
        return inference.Difference("d", measure, 10, 10, 3, 3, (low + high) / 2, low, high, 0.5, 0.0)

    assert inference.direction(diff(-50, -5, "rank_distance")) == "better"  # lower rank distance
    assert inference.direction(diff(0.002, 0.01)) == "better"
    assert inference.direction(diff(-0.01, 0.01)) == "no clear difference"


def test_rank_distance_is_averaged_per_language_first():
    rows = []
    for qid, lang, ranks in (("q1", "en", (1, 11)), ("q2", "en", (1, 11)), ("q3", "en", (1, 11)),
                             ("q1", "de", (1, 2))):
        for r in ranks:
            rows.append(dict(dataset="d", question_id=qid, query_lang=lang, candidate_lang="x",
                             rank_multi=r, rank_in_lang=1))
    a = pd.DataFrame(rows)
    b = a.assign(rank_multi=1)  # every relevant candidate at the top: distance 0
    got = inference.recipe_difference([a], [b], "d", "rank_distance", n_resamples=200)
    assert got.diff == pytest.approx((10 + 1) / 2)  # mean of en (10) and de (1), not of the 4 queries
