"""Average precision and the LAReQA cells and aggregates, from a ranks table (pandas only).

The ranks themselves come from ``ranking.exact_ranks`` (the torch kernel, with the tie rule);
this module is light to import, so the dashboard and the statistics read runs without torch.

AP is untruncated: the mean, over *all* relevant items of the query, of the precision at the
rank of each, ``AP = (1/R) * sum_k k / rank_(k)`` with ranks sorted ascending. Recall@k is the
share of the query's relevant items ranked within the top k. With binary relevance,
``nDCG@10 = sum_{rank_k <= 10} 1/log2(rank_k + 1) / sum_{i <= min(R, 10)} 1/log2(i + 1)`` and
``MRR@10 = 1/rank_(1)`` when the best relevant rank is within 10, else 0 (MTEB's headline
measures for XQuAD/MLQA retrieval; trec_eval's ``ndcg_cut_10`` and ``recip_rank`` at 10).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hybridir_core.runs.measures import MULTI

EXTRA_MEASURES = ("ndcg_at_10", "mrr_at_10")


def average_precision(ranks: np.ndarray | list[int]) -> float:
    """Untruncated AP from the 1-based ranks of every relevant item of one query."""
    ordered = np.sort(np.asarray(ranks, dtype=np.float64))
    return float(np.mean(np.arange(1, len(ordered) + 1) / ordered))


CUTOFF = 10
_IDEAL_DCG = np.cumsum(1.0 / np.log2(np.arange(2, CUTOFF + 2)))  # [i-1] = ideal DCG@10 of i relevant


def _ap_and_recall(frame: pd.DataFrame, keys: list[str], rank_col: str) -> pd.DataFrame:
    """Per-group AP, Recall@1, Recall@10, nDCG@10 and MRR@10 from a rank column."""
    ordered = frame.sort_values(keys + [rank_col])
    by = [ordered[key] for key in keys]
    k = ordered.groupby(keys, sort=False).cumcount() + 1
    rank = ordered[rank_col]
    within = rank <= CUTOFF
    parts = pd.DataFrame({
        "ap": k / rank,
        "r1": (rank <= 1).astype(float),
        "r10": within.astype(float),
        "gain": np.where(within, 1.0 / np.log2(rank.clip(lower=1) + 1.0), 0.0),
        "rr": np.where(within & (k == 1), 1.0 / rank, 0.0),
    })
    grouped = parts.groupby(by, sort=True)
    out = grouped[["ap", "r1", "r10"]].mean()
    n_relevant = grouped.size().clip(upper=CUTOFF).to_numpy()
    out["ndcg_at_10"] = grouped["gain"].sum().to_numpy() / _IDEAL_DCG[n_relevant - 1]
    out["mrr_at_10"] = grouped["rr"].sum().to_numpy()
    return out.rename(columns={"r1": "recall_at_1", "r10": "recall_at_10"})


def per_query_scores(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per-query AP/Recall for every cell, from a ranks table (``runs.RANK_COLUMNS``).

    Returns one row per (dataset, question_id, query_lang, candidate_lang) with
    ``candidate_lang == "multi"`` for the pool; columns ``ap, recall_at_1, recall_at_10,
    ndcg_at_10, mrr_at_10``.
    """
    q_keys = ["dataset", "question_id", "query_lang"]
    in_lang = _ap_and_recall(ranks, q_keys + ["candidate_lang"], "rank_in_lang").reset_index()
    multi = _ap_and_recall(ranks, q_keys, "rank_multi").reset_index()
    multi["candidate_lang"] = MULTI
    return pd.concat([in_lang, multi], ignore_index=True)


def cell_matrix(per_query: pd.DataFrame) -> pd.DataFrame:
    """Tidy matrix: mean AP (mAP), Recall@1, Recall@10, query count, nDCG@10, MRR@10 per cell."""
    keys = ["dataset", "query_lang", "candidate_lang"]
    grouped = per_query.groupby(keys, sort=True)
    out = grouped[["ap", "recall_at_1", "recall_at_10"]].mean()
    out["n_queries"] = grouped.size()
    for name in [c for c in EXTRA_MEASURES if c in per_query]:  # per-query tables of older runs lack them
        out[name] = grouped[name].mean()
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
