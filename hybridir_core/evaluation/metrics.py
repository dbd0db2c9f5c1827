"""Average precision and the LAReQA cells and aggregates, from a ranks table (pandas only).

The ranks themselves come from ``ranking.exact_ranks`` (the torch kernel, with the tie rule);
this module is light to import, so the dashboard and the statistics read runs without torch.

AP is untruncated: the mean, over *all* relevant items of the query, of the precision at the
rank of each, ``AP = (1/R) * sum_k k / rank_(k)`` with ranks sorted ascending. Recall@k is the
share of the query's relevant items ranked within the top k.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybridir_core.runs.measures import MULTI


def average_precision(ranks: np.ndarray | list[int]) -> float:
    """Untruncated AP from the 1-based ranks of every relevant item of one query."""
    ordered = np.sort(np.asarray(ranks, dtype=np.float64))
    return float(np.mean(np.arange(1, len(ordered) + 1) / ordered))


def _ap_and_recall(frame: pd.DataFrame, keys: list[str], rank_col: str) -> pd.DataFrame:
    """Per-group AP, Recall@1 and Recall@10 from a rank column."""
    ordered = frame.sort_values(keys + [rank_col])
    k = ordered.groupby(keys, sort=False).cumcount() + 1
    rank = ordered[rank_col]
    parts = pd.DataFrame({
        "ap": k / rank,
        "r1": (rank <= 1).astype(float),
        "r10": (rank <= 10).astype(float),
    })
    grouped = parts.groupby([ordered[key] for key in keys], sort=True).mean()
    return grouped.rename(columns={"r1": "recall_at_1", "r10": "recall_at_10"})


def per_query_scores(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per-query AP/Recall for every cell, from a ranks table (``runs.RANK_COLUMNS``).

    Returns one row per (dataset, question_id, query_lang, candidate_lang) with
    ``candidate_lang == "multi"`` for the pool; columns ``ap, recall_at_1, recall_at_10``.
    """
    q_keys = ["dataset", "question_id", "query_lang"]
    in_lang = _ap_and_recall(ranks, q_keys + ["candidate_lang"], "rank_in_lang").reset_index()
    multi = _ap_and_recall(ranks, q_keys, "rank_multi").reset_index()
    multi["candidate_lang"] = MULTI
    return pd.concat([in_lang, multi], ignore_index=True)


def cell_matrix(per_query: pd.DataFrame) -> pd.DataFrame:
    """Tidy matrix: mean AP (mAP), Recall@1, Recall@10 and query count per cell."""
    keys = ["dataset", "query_lang", "candidate_lang"]
    grouped = per_query.groupby(keys, sort=True)
    out = grouped[["ap", "recall_at_1", "recall_at_10"]].mean()
    out["n_queries"] = grouped.size()
    return out.rename(columns={"ap": "map"}).reset_index()


def aggregates(per_query: pd.DataFrame, matrix: pd.DataFrame) -> dict[str, float]:
    """Mono (diagonal), Cross (off-diagonal), Multi (pool): macro over cells and micro over queries."""
    multi_cells = matrix[matrix.candidate_lang == MULTI]
    lang_cells = matrix[matrix.candidate_lang != MULTI]
    diagonal = lang_cells.query_lang == lang_cells.candidate_lang
    pq_multi = per_query[per_query.candidate_lang == MULTI]
    pq_lang = per_query[per_query.candidate_lang != MULTI]
    pq_diag = pq_lang.query_lang == pq_lang.candidate_lang
    return {
        "mono_map": float(lang_cells[diagonal]["map"].mean()),
        "cross_map": float(lang_cells[~diagonal]["map"].mean()),
        "multi_map": float(multi_cells["map"].mean()),
        "mono_map_micro": float(pq_lang[pq_diag]["ap"].mean()),
        "cross_map_micro": float(pq_lang[~pq_diag]["ap"].mean()),
        "multi_map_micro": float(pq_multi["ap"].mean()),
        "multi_recall_at_10": float(multi_cells["recall_at_10"].mean()),
    }
