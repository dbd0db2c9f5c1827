"""Ranks and AP against hand-computed rankings, the slow reference and scikit-learn."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from hybridir_core.evaluation import bias, metrics, ranking


def test_ap_one_relevant_is_reciprocal_rank():
    assert metrics.average_precision([1]) == 1.0
    assert metrics.average_precision([4]) == 0.25


def test_ap_many_relevant_by_hand():
    # relevant at ranks 1, 3, 6: precisions 1/1, 2/3, 3/6 -> mean 0.7222...
    assert metrics.average_precision([6, 1, 3]) == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)


def test_ranks_by_hand_with_ties_pessimistic():
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    # relevant 2 ties with non-relevant 1 and 3: it goes below both -> rank 4
    assert ranking.ranks_of_relevant(scores, np.array([2])).tolist() == [4]
    # two tied relevant (1, 2) and one tied non-relevant (3): 1 -> 3, 2 -> 4
    assert ranking.ranks_of_relevant(scores, np.array([1, 2])).tolist() == [3, 4]


def test_constant_scorer_gets_worst_ranks():
    scores = np.zeros(10)
    ranks = ranking.ranks_of_relevant(scores, np.array([0, 5]))
    assert ranks.tolist() == [9, 10]
    assert metrics.average_precision(ranks) == pytest.approx((1 / 9 + 2 / 10) / 2)


def test_ap_matches_sklearn_without_ties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = rng.normal(size=40)
        relevant = np.sort(rng.choice(40, size=rng.integers(1, 6), replace=False))
        labels = np.zeros(40, dtype=int)
        labels[relevant] = 1
        ours = metrics.average_precision(ranking.ranks_of_relevant(scores, relevant))
        assert ours == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def _random_problem(rng, n_q, n_c, n_blocks, ties):
    d = 8
    blocks = np.sort(rng.integers(0, n_blocks, size=n_c))
    q = rng.normal(size=(n_q, d)).astype(np.float32)
    c = rng.normal(size=(n_c, d)).astype(np.float32)
    if ties:  # coarse values make many exact score ties
        q, c = np.round(q), np.round(c)
        c[1] = c[0]
    relevant = [np.sort(rng.choice(n_c, size=rng.integers(1, 5), replace=False)) for _ in range(n_q)]
    return q, c, blocks, relevant


@pytest.mark.parametrize("ties", [False, True])
def test_exact_ranks_match_reference(ties):
    rng = np.random.default_rng(1)
    q, c, blocks, relevant = _random_problem(rng, 37, 60, 3, ties)
    got = ranking.exact_ranks(q, c, relevant, blocks, chunk_size=8)
    scores = q @ c.T
    expected_multi, expected_lang = [], []
    for i, rel in enumerate(relevant):
        expected_multi.extend(ranking.ranks_of_relevant(scores[i], rel))
        for r in rel:
            in_block = np.flatnonzero(blocks == blocks[r])
            rel_in_block = np.intersect1d(rel, in_block)
            local = ranking.ranks_of_relevant(scores[i, in_block], np.searchsorted(in_block, rel_in_block))
            expected_lang.append(local[list(rel_in_block).index(r)])
    assert got.rank_multi.tolist() == expected_multi
    assert got.rank_in_lang.tolist() == expected_lang
    assert got.query.tolist() == [i for i, rel in enumerate(relevant) for _ in rel]


def test_exact_ranks_reject_unsorted_blocks():
    with pytest.raises(ValueError):
        ranking.exact_ranks(np.ones((1, 2)), np.ones((3, 2)), [np.array([0])], np.array([1, 0, 1]))


def _ranks_frame(rows):
    return pd.DataFrame(rows, columns=["dataset", "question_id", "query_lang", "candidate_lang",
                                       "rank_multi", "rank_in_lang"])


def test_cells_aggregates_and_rank_distance_by_hand():
    # two languages, two questions; each question relevant once per language
    ranks = _ranks_frame([
        ("d", "q1", "en", "en", 1, 1), ("d", "q1", "en", "de", 4, 2),
        ("d", "q1", "de", "en", 2, 1), ("d", "q1", "de", "de", 1, 1),
        ("d", "q2", "en", "en", 2, 2), ("d", "q2", "en", "de", 3, 1),
        ("d", "q2", "de", "en", 10, 5), ("d", "q2", "de", "de", 1, 1),
    ])
    per_query = metrics.per_query_scores(ranks)
    matrix = metrics.cell_matrix(per_query).set_index(["query_lang", "candidate_lang"])
    assert matrix.loc[("en", "en"), "map"] == pytest.approx((1 + 1 / 2) / 2)
    assert matrix.loc[("en", "de"), "map"] == pytest.approx((1 / 2 + 1) / 2)
    assert matrix.loc[("de", "en"), "recall_at_1"] == pytest.approx(0.5)
    # multilingual pool, en q1: ranks 1, 4 -> (1 + 2/4)/2; en q2: ranks 2, 3 -> (1/2 + 2/3)/2
    assert matrix.loc[("en", "multi"), "map"] == pytest.approx(((1 + 0.5) / 2 + (0.5 + 2 / 3) / 2) / 2)
    assert matrix.loc[("de", "multi"), "recall_at_10"] == pytest.approx(1.0)
    agg = metrics.aggregates(per_query, metrics.cell_matrix(per_query))
    assert agg["mono_map"] == pytest.approx(((1 + 0.5) / 2 + 1.0) / 2)
    distances = bias.rank_distances(ranks).set_index(["question_id", "query_lang"])["rank_distance"]
    assert distances.to_dict() == {("q1", "de"): 1, ("q1", "en"): 3, ("q2", "de"): 9, ("q2", "en"): 1}
    assert bias.rank_distance_summary(ranks)["mean_rank_distance"] == pytest.approx(14 / 4)


def test_skipped_query_is_absent_from_cell():
    ranks = _ranks_frame([("d", "q1", "en", "en", 1, 1), ("d", "q2", "en", "en", 1, 1),
                          ("d", "q2", "en", "de", 2, 1)])
    matrix = metrics.cell_matrix(metrics.per_query_scores(ranks)).set_index(["query_lang", "candidate_lang"])
    assert matrix.loc[("en", "de"), "n_queries"] == 1
    assert matrix.loc[("en", "en"), "n_queries"] == 2
