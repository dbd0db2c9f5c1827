"""Rank distance: per-language (macro) and per-query (micro) means against hand-built ranks."""

import pandas as pd
import pytest

from hybridir_core.evaluation import bias


def _ranks(rows, dataset="d"):
    """Ranks rows from (question_id, query_lang, [rank_multi of each relevant candidate])."""
    out = [(dataset, qid, lang, f"c{i}", rank, 1)
           for qid, lang, pooled in rows for i, rank in enumerate(pooled)]
    return pd.DataFrame(out, columns=["dataset", "question_id", "query_lang", "candidate_lang",
                                      "rank_multi", "rank_in_lang"])


def test_macro_averages_languages_not_queries():
    # en: one query, distance 11 - 1 = 10; de: three queries, distance 0 each
    ranks = _ranks([("q1", "en", [1, 11]), ("q1", "de", [3]), ("q2", "de", [5]), ("q3", "de", [2])])
    summary = bias.rank_distance_summary(ranks)
    assert summary["mean_rank_distance"] == pytest.approx((10 + 0) / 2)
    assert summary["mean_rank_distance_micro"] == pytest.approx(10 / 4)
    assert summary["median_rank_distance"] == 0


def test_macro_equals_micro_when_languages_are_balanced():
    ranks = _ranks([("q1", "en", [1, 4]), ("q2", "en", [2, 3]), ("q1", "de", [2, 1]), ("q2", "de", [10, 1])])
    summary = bias.rank_distance_summary(ranks)
    assert summary["mean_rank_distance"] == summary["mean_rank_distance_micro"] == pytest.approx(14 / 4)
    assert summary["median_rank_distance"] == pytest.approx(2.0)


def test_macro_by_hand_with_three_languages():
    # en: 4, 6 -> 5; de: 0 -> 0; zh: 1, 2, 3 -> 2; macro (5 + 0 + 2) / 3; micro 16 / 6
    ranks = _ranks([("a", "en", [1, 5]), ("b", "en", [2, 8]), ("a", "de", [7]),
                    ("a", "zh", [1, 2]), ("b", "zh", [3, 5]), ("c", "zh", [1, 4])])
    summary = bias.rank_distance_summary(ranks)
    assert summary["mean_rank_distance"] == pytest.approx(7 / 3)
    assert summary["mean_rank_distance_micro"] == pytest.approx(16 / 6)
    assert summary["median_rank_distance"] == pytest.approx(2.5)


def test_summary_refuses_two_datasets():
    both = pd.concat([_ranks([("q1", "en", [1, 2])], "x"), _ranks([("q1", "en", [1, 2])], "y")])
    with pytest.raises(ValueError, match="per dataset"):
        bias.rank_distance_summary(both)
