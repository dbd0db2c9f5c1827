"""Paired tests and corrections, by hand and against scipy.stats."""

import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss

from hybridir_core.analysis import stats


def _mean_diff(x, y, axis=-1):
    return np.mean(x - y, axis=axis)


def _pairs(n, shift, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random(n)
    return a, np.clip(a - shift + rng.normal(0, 0.15, n), 0, 1)


def test_randomization_exact_matches_scipy():
    a, b = _pairs(11, 0.08)
    ours = stats.randomization_test(a, b, n_resamples=10_000)
    ref = ss.permutation_test((a, b), _mean_diff, permutation_type="samples", n_resamples=10_000,
                              alternative="two-sided")
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert ours.mean_diff == pytest.approx(np.mean(a - b))


def test_randomization_exact_by_hand():
    # d = (1, 1): sign vectors give means 1, 0, 0, -1; |mean| >= 1 for 2 of 4 -> p = 0.5
    assert stats.randomization_test([1.0, 1.0], [0.0, 0.0]).p_value == 0.5
    # identical runs: every sign vector ties the observed 0 -> p = 1
    assert stats.randomization_test([0.3, 0.7, 0.1], [0.3, 0.7, 0.1]).p_value == 1.0


def test_randomization_sampled_close_to_scipy_and_seeded():
    a, b = _pairs(300, 0.02, seed=1)
    ours = stats.randomization_test(a, b, n_resamples=20_000, seed=5)
    ref = ss.permutation_test((a, b), _mean_diff, permutation_type="samples", n_resamples=20_000,
                              alternative="two-sided", rng=np.random.default_rng(2))
    assert ours.p_value == pytest.approx(ref.pvalue, abs=0.02)  # Monte Carlo error ~0.003
    assert stats.randomization_test(a, b, n_resamples=20_000, seed=5) == ours
    assert 0 < ours.p_value <= 1


def test_randomization_detects_a_clear_difference():
    a, b = _pairs(200, 0.2, seed=3)
    assert stats.randomization_test(a, b, n_resamples=2_000).p_value == pytest.approx(1 / 2_001)


def test_bootstrap_interval_close_to_scipy():
    a, b = _pairs(250, 0.03, seed=4)
    ours = stats.bootstrap_test(a, b, n_resamples=20_000, seed=0)
    ref = ss.bootstrap((a - b,), np.mean, n_resamples=20_000, method="percentile",
                       rng=np.random.default_rng(1)).confidence_interval
    width = ref.high - ref.low
    assert ours.ci_low == pytest.approx(ref.low, abs=0.05 * width)
    assert ours.ci_high == pytest.approx(ref.high, abs=0.05 * width)
    assert ours.ci_low < ours.mean_diff < ours.ci_high
    assert stats.bootstrap_test(a, b, n_resamples=20_000, seed=0) == ours


def test_bootstrap_p_agrees_with_randomization_roughly():
    a, b = _pairs(400, 0.015, seed=6)
    rand = stats.randomization_test(a, b, n_resamples=20_000)
    boot = stats.bootstrap_test(a, b, n_resamples=20_000)
    assert boot.p_value == pytest.approx(rand.p_value, abs=0.05)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.2 -> 4*0.01, max(.04, 3*.03), max(.09, 2*.04), max(.09, .2)
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.2]), [0.04, 0.09, 0.09, 0.2])
    np.testing.assert_allclose(stats.holm([0.5, 0.6]), [1.0, 1.0])
    assert stats.holm([]).size == 0


def test_paired_inputs_checked():
    with pytest.raises(ValueError):
        stats.randomization_test([0.1, 0.2], [0.1])
    with pytest.raises(ValueError):
        stats.bootstrap_test([], [])


def _ranks(rank_shift: int) -> pd.DataFrame:
    """Two queries in en/de, each relevant to its en and de sentence."""
    rows = []
    for qid, base in (("q1", 1), ("q2", 3)):
        for q_lang in ("de", "en"):
            for c_lang, extra in (("de", 0), ("en", 1)):
                own = 1 if q_lang == c_lang else 2
                rows.append(dict(dataset="xquad-r", question_id=qid, query_lang=q_lang, candidate_lang=c_lang,
                                 rank_multi=base + extra + rank_shift, rank_in_lang=own + rank_shift))
    return pd.DataFrame(rows)


def test_query_scores_settings():
    from hybridir_core.evaluation import metrics

    pq = metrics.per_query_scores(_ranks(0))
    mono = stats.query_scores(pq, "mono")
    assert mono.tolist() == [1.0, 1.0, 1.0, 1.0]  # own-language candidate at in-language rank 1
    assert stats.query_scores(pq, "cross").tolist() == [0.5] * 4
    assert len(stats.query_scores(pq, "multi")) == 4
    with pytest.raises(ValueError):
        stats.query_scores(pq, "bogus")


def test_compare_runs_table():
    table = stats.compare_runs(_ranks(0), _ranks(1), n_resamples=200)
    assert list(table.setting) == ["mono", "cross", "multi"]
    assert (table.n_queries == 4).all()
    assert (table["diff"] > 0).all()  # run A ranks everything one place higher
    assert (table.p_holm >= table.p_randomization).all()
    same = stats.compare_runs(_ranks(0), _ranks(0), n_resamples=200)
    assert (same["diff"] == 0).all() and (same.p_randomization == 1).all()


def test_cell_tests_cover_every_cell():
    cells = stats.cell_tests(_ranks(0), _ranks(1), "xquad-r", n_resamples=100)
    assert set(zip(cells.query_lang, cells.candidate_lang)) == {
        (q, c) for q in ("de", "en") for c in ("de", "en", "multi")}
    assert (cells.n_queries == 2).all() and (cells.p_holm <= 1).all()


def test_compare_run_groups_average_each_query_over_the_group():
    # mono AP with the own-language candidate at in-language rank 1 + shift is 1 / (1 + shift)
    table = stats.compare_run_groups([_ranks(0), _ranks(2)], [_ranks(1)], n_resamples=200).set_index("setting")
    assert table.loc["mono", "map_a"] == pytest.approx((1 + 1 / 3) / 2)
    assert table.loc["mono", "map_b"] == pytest.approx(1 / 2)
    assert table.loc["mono", "diff"] == pytest.approx(1 / 6)
    single = stats.compare_run_groups([_ranks(0)], [_ranks(1)], n_resamples=200)
    pd.testing.assert_frame_equal(single, stats.compare_runs(_ranks(0), _ranks(1), n_resamples=200))
    with pytest.raises(ValueError):
        stats.compare_run_groups([], [_ranks(1)])
