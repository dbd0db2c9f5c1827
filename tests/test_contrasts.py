"""The two-component t interval (docs/protocol.md, section 4) on cases whose answer is known,
the language preference rate, and the estimands on the shipped runs."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from hybridir_core.analysis import contrasts
from hybridir_core.evaluation import bias

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"


def units(values_by_cluster: np.ndarray, counts: np.ndarray | None = None) -> contrasts.Units:
    """One run's Units from a (clusters, units) array of per-cluster sums (one query each by default)."""
    values = np.asarray(values_by_cluster, dtype=float).reshape(len(values_by_cluster), -1)
    return contrasts.Units(values, np.ones_like(values) if counts is None else counts)


def test_seed_component_alone_is_welchs_t_test():
    """Every question moves with the seed: no question variance, so the contrast is Welch's test
    of the run values (scipy), interval and p-value."""
    a_vals, b_vals = [0.61, 0.64, 0.60], [0.58, 0.57, 0.60, 0.59]
    groups = [[units(np.full(40, v)) for v in vals] for vals in (a_vals, b_vals)]
    got = contrasts.contrast_of_units(groups, [1.0, -1.0], [True, True])
    ref = scipy_stats.ttest_ind(a_vals, b_vals, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert got.se_questions == pytest.approx(0.0, abs=1e-12)
    assert got.estimate == pytest.approx(np.mean(a_vals) - np.mean(b_vals))
    assert (got.ci_low, got.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert got.p_value == pytest.approx(ref.pvalue) and got.df == pytest.approx(ref.df)


def test_zero_shot_recipes_have_no_seed_component():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    got = contrasts.contrast_of_units([[units(a)], [units(b)]], [1.0, -1.0], [False, False])
    ref = scipy_stats.ttest_rel(a, b)
    assert not got.one_seed and got.se_seeds == 0
    assert got.p_value == pytest.approx(ref.pvalue) and got.df == pytest.approx(29)


def test_a_trained_recipe_with_one_seed_is_flagged():
    got = contrasts.contrast_of_units([[units(np.arange(5.0))], [units(np.ones(5))]], [1, -1], [True, True])
    assert got.one_seed


def test_seed_by_question_noise_is_not_counted_twice():
    """Runs that differ only by noise per question (no shift of the whole run): the interval
    must not be wider than the seed component alone already makes it."""
    rng = np.random.default_rng(3)
    base = rng.random(400)
    groups = [[units(base + rng.normal(0, 0.05, 400)) for _ in range(3)] for _ in range(2)]
    got = contrasts.contrast_of_units(groups, [1.0, -1.0], [True, True])
    seed_only = np.sqrt(sum(np.var([u.value for u in g], ddof=1) / 3 for g in groups))
    assert got.se == pytest.approx(seed_only, rel=0.15)  # not sqrt(2) x: the noise is counted once
    assert got.se_questions < 0.5 * seed_only + 1e-3  # the shared question effect cancels (paired)


def test_the_estimate_is_the_mean_of_unit_means():
    """Two units with 1 and 3 queries: macro = mean of the unit means, not of the queries."""
    run = contrasts.Units(np.array([[1.0, 0.0], [0.0, 3.0]]), np.array([[1.0, 0.0], [0.0, 3.0]]))
    assert run.value == pytest.approx((1.0 + 1.0) / 2)
    assert run.influence().sum() == pytest.approx(0.0)


def test_language_preference_on_a_hand_built_pool():
    rows = [("q1", "en", "en", 1), ("q1", "en", "de", 2),   # own language first: 1
            ("q2", "en", "en", 3), ("q2", "en", "de", 1), ("q2", "en", "es", 2),  # not first: 0
            ("q1", "de", "en", 1), ("q1", "de", "de", 5),   # not first: 0
            ("q3", "de", "de", 4)]                           # only one answer: left out
    ranks = pd.DataFrame(rows, columns=["question_id", "query_lang", "candidate_lang", "rank_multi"]).assign(
        dataset="d", rank_in_lang=1)
    table = bias.language_preference(ranks)
    assert sorted(zip(table["question_id"], table["query_lang"], table["prefers_own"])) == [
        ("q1", "de", 0.0), ("q1", "en", 1.0), ("q2", "en", 0.0)]
    summary = bias.language_preference_summary(ranks)
    assert summary["language_preference_rate"] == pytest.approx((0.5 + 0.0) / 2)  # en 1/2, de 0
    assert summary["language_preference_chance"] == pytest.approx(((1 / 2 + 1 / 3) / 2 + 1 / 2) / 2)


def _reference(run_id: str) -> tuple[pd.DataFrame, dict]:
    ranks = pd.read_parquet(REFERENCE / run_id / "ranks.parquet")
    metrics = json.loads((REFERENCE / run_id / "metrics.json").read_text())["datasets"]["mlqa-r"]
    return ranks, metrics


@pytest.mark.parametrize("measure", ["mono", "cross", "multi", "rank_distance"])
def test_a_verdict_estimate_is_the_difference_of_the_recipe_table(measure):
    """On the shipped d2 runs: hybrid − mono equals the difference of the metrics.json means."""
    hybrid = [_reference(f"me5-small-d2_hybrid-a0.5_s{s}") for s in range(3)]
    mono = [_reference(f"me5-small-d2_mono_s{s}") for s in range(3)]
    got = contrasts.linear_contrast([[r for r, _ in hybrid], [r for r, _ in mono]], [1, -1], "mlqa-r", measure)
    column = contrasts.SUMMARY_OF[measure]
    expected = np.mean([m[column] for _, m in hybrid]) - np.mean([m[column] for _, m in mono])
    assert got.estimate == pytest.approx(expected, abs=1e-12)
    assert got.ci_low < got.estimate < got.ci_high and got.seeds == (3, 3)
