"""Nested, clustered recipe differences and the non-inferiority verdict, on hand-built ranks."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from hybridir_core.analysis import intervals


def ranks_with_ap(aps: dict[tuple[str, str], float], dataset: str = "d") -> pd.DataFrame:
    """A ranks table whose Mono AP of each (question, language) is the given 1/k (one relevant)."""
    rows = []
    for (qid, lang), ap in aps.items():
        rank = int(round(1 / ap))
        rows.append(dict(dataset=dataset, question_id=qid, query_lang=lang, candidate_lang=lang,
                         rank_multi=rank, rank_in_lang=rank))
    return pd.DataFrame(rows)


def test_one_seed_one_language_matches_scipy_bootstrap():
    rng = np.random.default_rng(1)
    ks_a, ks_b = rng.integers(1, 6, 60), rng.integers(1, 6, 60)
    a = ranks_with_ap({(f"q{i}", "en"): 1 / k for i, k in enumerate(ks_a)})
    b = ranks_with_ap({(f"q{i}", "en"): 1 / k for i, k in enumerate(ks_b)})
    got = intervals.recipe_difference([a], [b], "d", "mono", n_resamples=4000)
    d = 1 / ks_a - 1 / ks_b
    assert got.diff == pytest.approx(d.mean())
    ref = scipy_stats.bootstrap((d,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    assert got.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert got.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.01)
    assert got.n_queries == got.n_clusters == 60 and got.seeds_a == got.seeds_b == 1


def test_translations_move_together():
    """Eleven identical translations of each question carry no more evidence than one."""
    rng = np.random.default_rng(2)
    ks_a, ks_b = rng.integers(1, 6, 40), rng.integers(1, 6, 40)
    langs = [f"l{j}" for j in range(11)]
    one = [ranks_with_ap({(f"q{i}", "en"): 1 / k for i, k in enumerate(ks)}) for ks in (ks_a, ks_b)]
    many = [ranks_with_ap({(f"q{i}", lang): 1 / k for i, k in enumerate(ks) for lang in langs})
            for ks in (ks_a, ks_b)]
    single = intervals.recipe_difference([one[0]], [one[1]], "d", "mono", seed=3)
    clustered = intervals.recipe_difference([many[0]], [many[1]], "d", "mono", seed=3)
    assert clustered.n_queries == 440 and clustered.n_clusters == 40
    assert clustered.ci_high - clustered.ci_low == pytest.approx(single.ci_high - single.ci_low, rel=1e-9)


def test_seed_spread_widens_the_interval():
    """Same queries, recipe A's seeds disagree: the interval must include the seed spread."""
    base = {(f"q{i}", "en"): 1 / (1 + i % 3) for i in range(90)}
    shifted_up = {k: 1 / max(1, round(1 / v) - 1) for k, v in base.items()}
    a_seeds = [ranks_with_ap(base), ranks_with_ap(shifted_up)]
    b_seed = [ranks_with_ap(base)]
    nested = intervals.recipe_difference(a_seeds, b_seed, "d", "mono", seed=0)
    only_first = intervals.recipe_difference(a_seeds[:1], b_seed, "d", "mono", seed=0)
    assert only_first.ci_low == only_first.ci_high == 0  # identical runs: no uncertainty at all
    assert nested.ci_low == pytest.approx(0, abs=1e-12) and nested.ci_high > 0.1  # a seed can be either


def test_verdicts():
    def diff(low, high, measure="mono", seeds=3):
        return intervals.Difference("d", measure, 10, 10, seeds, 3, (low + high) / 2, low, high, 0.5, 1 / 2001)

    assert intervals.verdict(diff(-0.004, 0.002, seeds=1)) == intervals.SINGLE_SEED  # query noise only
    assert intervals.verdict(diff(-0.004, 0.002)) == "no degradation beyond the margin"
    assert intervals.verdict(diff(-0.03, -0.015)) == "degradation"
    assert intervals.verdict(diff(-0.02, 0.001)) == "inconclusive"
    # rank distance: lower is better, so a rise is the degradation
    assert intervals.verdict(diff(20, 40, "rank_distance"), margin=10) == "degradation"
    assert intervals.verdict(diff(-50, 5, "rank_distance"), margin=10) == "no degradation beyond the margin"
    assert intervals.direction(diff(-50, -5, "rank_distance")) == "better"
    assert intervals.direction(diff(-0.01, 0.01)) == "no clear difference"


def test_a_direction_word_needs_its_holm_adjusted_p_value():
    assert intervals.after_holm("better", 0.03) == "better"
    assert intervals.after_holm("worse", 0.126) == "not clear after Holm (unadjusted: worse)"
    assert intervals.after_holm("moves against hybrid", 0.2).startswith("not clear after Holm")
    assert intervals.after_holm("no clear difference", 0.9) == "no clear difference"
    assert intervals.after_holm("inconclusive: a recipe with one seed", 0.9).startswith("inconclusive")


def test_p_value_floor_is_reported_as_such():
    a = ranks_with_ap({(f"q{i}", "en"): 1.0 for i in range(50)})
    b = ranks_with_ap({(f"q{i}", "en"): 0.5 for i in range(50)})
    got = intervals.recipe_difference([a], [b], "d", "mono", n_resamples=999)
    assert got.at_floor and got.p_value == pytest.approx(2 / 1000)
    assert intervals.format_p(got.p_value, got.p_floor) == "<= 0.002"
    frame = intervals.differences_frame([got, got], family="hybrid vs mono, all scales")
    assert (frame["p_holm"] >= frame["p_floor"]).all() and frame["family"].iloc[0].startswith("hybrid")


def test_rank_distance_is_averaged_per_language_first():
    rows = []
    for qid, lang, ranks in (("q1", "en", (1, 11)), ("q2", "en", (1, 11)), ("q3", "en", (1, 11)),
                             ("q1", "de", (1, 2))):
        for r in ranks:
            rows.append(dict(dataset="d", question_id=qid, query_lang=lang, candidate_lang="x",
                             rank_multi=r, rank_in_lang=1))
    a = pd.DataFrame(rows)
    b = a.assign(rank_multi=1)  # every relevant candidate at the top: distance 0
    got = intervals.recipe_difference([a], [b], "d", "rank_distance", n_resamples=200)
    assert got.diff == pytest.approx((10 + 1) / 2)  # mean of en (10) and de (1), not of the 4 queries


def _two_seeds(ks: np.ndarray, shift: int = 0) -> list[pd.DataFrame]:
    """Two seeds of a recipe: Mono AP 1/k per question, the second seed one rank better on every
    third question (so the seeds differ a little)."""
    first = {(f"q{i}", lang): 1 / max(1, k + shift) for i, k in enumerate(ks) for lang in ("en", "de")}
    second = {key: 1 / max(1, round(1 / v) - (int(key[0][1:]) % 3 == 0)) for key, v in first.items()}
    return [ranks_with_ap(first), ranks_with_ap(second)]


def test_scale_change_is_the_difference_of_the_two_differences():
    rng = np.random.default_rng(5)
    ks = rng.integers(2, 6, 80)
    small = (_two_seeds(ks), _two_seeds(ks, shift=2))       # A clearly better than B at the small scale
    large = (_two_seeds(ks), _two_seeds(ks, shift=0))       # no gap at the large one
    got = intervals.scale_change(small, large, "d", "mono", n_resamples=1000)
    at_small = intervals.recipe_difference(*small, "d", "mono").diff
    at_large = intervals.recipe_difference(*large, "d", "mono").diff
    assert got.small_diff == pytest.approx(at_small) and got.large_diff == pytest.approx(at_large)
    assert got.change == pytest.approx(at_large - at_small) and got.change < 0
    assert got.ci_high < 0 and intervals.change_direction(got, "hybrid") == "moves against hybrid"
    assert got.seeds == (2, 2, 2, 2) and got.n_clusters == 80


def test_an_unchanged_gap_gives_no_clear_change_and_one_seed_is_inconclusive():
    rng = np.random.default_rng(6)
    ks = rng.integers(2, 6, 80)
    same = (_two_seeds(ks), _two_seeds(ks, shift=1))
    got = intervals.scale_change(same, same, "d", "mono", n_resamples=500)
    assert got.change == 0 and got.ci_low <= 0 <= got.ci_high  # seeds resampled apart, centred on zero
    assert intervals.change_direction(got) == "no clear change"
    one_seed = ([same[0][0]], same[1])
    assert intervals.change_direction(intervals.scale_change(one_seed, same, "d", "mono", n_resamples=200)) \
        .startswith("inconclusive")
