"""Language bias in the multilingual pool (LAReQA's rank-distance view).

A language-agnostic retriever ranks all translations of the answer together; a biased one
pushes some languages down. The rank distance of a query is the largest minus the smallest
multilingual-pool rank of its relevant candidates: R - 1 at best, when its R relevant
candidates are adjacent in the ranking; large when some languages are pushed far down.
"""

from __future__ import annotations

import pandas as pd

QUERY_KEYS = ["dataset", "question_id", "query_lang"]


def rank_distances(ranks: pd.DataFrame) -> pd.DataFrame:
    """One row per query: ``rank_distance = max(rank_multi) - min(rank_multi)``.

    Args:
        ranks: a ranks table (``runs.RANK_COLUMNS``).

    Returns:
        columns ``dataset, question_id, query_lang, rank_distance, n_relevant``.
    """
    grouped = ranks.groupby(QUERY_KEYS, sort=True)["rank_multi"]
    out = (grouped.max() - grouped.min()).rename("rank_distance").to_frame()
    out["n_relevant"] = grouped.size()
    return out.reset_index()


def rank_distance_summary(ranks: pd.DataFrame) -> dict[str, float]:
    """Rank distance of ONE dataset, with ``d_q`` the rank distance of query ``q``.

    - ``mean_rank_distance`` (macro, as in the paper's Tables 7-8):
      ``mean over query languages L of (mean over queries q in L of d_q)``;
    - ``mean_rank_distance_micro``: ``mean over all queries of d_q``;
    - ``median_rank_distance``: ``median over all queries of d_q``.

    The two means differ when languages hold different numbers of queries (MLQA-R).

    Raises:
        ValueError: ``ranks`` holds more than one dataset (their languages must not pool).
    """
    datasets = ranks["dataset"].unique()
    if len(datasets) > 1:
        raise ValueError(f"rank distance is per dataset; got {sorted(datasets)}")
    per_query = rank_distances(ranks)
    distances = per_query["rank_distance"]
    return {
        "mean_rank_distance": float(distances.groupby(per_query["query_lang"]).mean().mean()),
        "mean_rank_distance_micro": float(distances.mean()),
        "median_rank_distance": float(distances.median()),
    }


def rank_by_candidate_language(ranks: pd.DataFrame) -> pd.DataFrame:
    """Where each candidate language lands in the pool: mean/median ``rank_multi``.

    Returns one row per (dataset, query_lang, candidate_lang) with ``mean_rank``,
    ``median_rank`` and ``n``; a language whose candidates sit low is pushed down.
    """
    grouped = ranks.groupby(["dataset", "query_lang", "candidate_lang"], sort=True)["rank_multi"]
    return pd.DataFrame({
        "mean_rank": grouped.mean(),
        "median_rank": grouped.median(),
        "n": grouped.size(),
    }).reset_index()
