"""Exact ranks of the relevant candidates, LAReQA style (the torch kernel).

Tie rule (pessimistic): candidates are ordered by score, descending; a relevant candidate is
placed *below* every non-relevant candidate with the same score, and relevant candidates with
equal scores keep their candidate-index order. So a constant scorer gets the worst possible
ranks instead of whatever order the candidates were stored in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def ranks_of_relevant(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Reference (slow, obvious) 1-based ranks of ``relevant`` indices under the tie rule.

    rank(r) = #{c: s_c > s_r} + #{non-relevant c: s_c == s_r} + #{relevant r' <= r: s_r' == s_r}
    """
    scores = np.asarray(scores)
    relevant = np.asarray(relevant)
    is_rel = np.zeros(len(scores), dtype=bool)
    is_rel[relevant] = True
    out = []
    for r in relevant:
        s = scores[r]
        higher = np.sum(scores > s)
        tied_nonrel = np.sum((scores == s) & ~is_rel)
        tied_rel_before = np.sum((scores[relevant] == s) & (relevant <= r))
        out.append(higher + tied_nonrel + tied_rel_before)
    return np.asarray(out, dtype=np.int64)


@dataclass
class RankBlocks:
    """Ranks of every (query, relevant candidate) pair, flattened.

    ``query`` and ``candidate`` index the query and candidate tables; ``rank_multi`` is the
    rank in the pool of all candidates, ``rank_in_lang`` in the pool of the candidate's own
    language block.
    """

    query: np.ndarray
    candidate: np.ndarray
    rank_multi: np.ndarray
    rank_in_lang: np.ndarray


def _chunk_ranks(scores: torch.Tensor, rel: torch.Tensor, rel_block: torch.Tensor, starts: np.ndarray,
                 ends: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Ranks (in the pool, in the own block) of the relevant candidates ``rel`` (-1 = padding) of
    one chunk of queries, from its ``scores`` (B, N); the tie rule of the module docstring."""
    valid = rel >= 0
    rel_scores = torch.gather(scores, 1, rel.clamp(min=0))  # (B, R)
    rel_scores = torch.where(valid, rel_scores, torch.full_like(rel_scores, float("inf")))
    per_block = torch.stack(
        [(scores[:, s:e, None] >= rel_scores[:, None, :]).sum(1) for s, e in zip(starts, ends)],
        dim=2,
    )  # (B, R, n_blocks): candidates of each block scoring >= each relevant
    # Tied relevant candidates later in index order are placed after this one.
    tie_later = (
        (rel_scores[:, :, None] == rel_scores[:, None, :])
        & (rel[:, None, :] > rel[:, :, None])
        & valid[:, None, :]
    )
    same_block = rel_block[:, :, None] == rel_block[:, None, :]
    multi = per_block.sum(2) - tie_later.sum(2)
    own = torch.gather(per_block, 2, rel_block.clamp(min=0).unsqueeze(2)).squeeze(2)
    return multi, own - (tie_later & same_block).sum(2)


def exact_ranks(
    query_emb: np.ndarray,
    cand_emb: np.ndarray,
    relevant: list[np.ndarray],
    cand_block: np.ndarray,
    chunk_size: int = 512,
    progress=None,
) -> RankBlocks:
    """Exact ranks of every relevant candidate, in the multilingual pool and in its language.

    Scores are dot products (embeddings are normalised: cosine), computed in query chunks so
    memory stays ``chunk_size x n_candidates``. For each relevant candidate, the rank counts
    candidates with a score >= its own per language block (one comparison pass), then
    removes tied relevant candidates that come later in index order (the tie rule above).

    Args:
        query_emb: (n_queries, d) float32.
        cand_emb: (n_candidates, d) float32.
        relevant: per query, sorted candidate indices of its relevant candidates.
        cand_block: (n_candidates,) int language-block id of each candidate; blocks must be
            contiguous and in increasing order.
        chunk_size: queries per matrix product.
        progress: optional callable ``(done, total)``.
    """
    n_q = len(query_emb)
    blocks = np.asarray(cand_block)
    if np.any(np.diff(blocks) < 0):
        raise ValueError("candidates must be grouped by language block in increasing order")
    bounds = np.flatnonzero(np.r_[True, np.diff(blocks) != 0, True])
    starts, ends = bounds[:-1], bounds[1:]
    width = max(len(r) for r in relevant)
    rel_idx = np.full((n_q, width), -1, dtype=np.int64)
    for i, r in enumerate(relevant):
        rel_idx[i, : len(r)] = r
    cands = torch.from_numpy(np.ascontiguousarray(cand_emb, dtype=np.float32))
    queries = torch.from_numpy(np.ascontiguousarray(query_emb, dtype=np.float32))
    rel_all = torch.from_numpy(rel_idx)
    rel_block_all = torch.from_numpy(np.where(rel_idx >= 0, blocks[np.maximum(rel_idx, 0)], -1))
    rank_multi = np.zeros((n_q, width), dtype=np.int64)
    rank_lang = np.zeros((n_q, width), dtype=np.int64)
    with torch.inference_mode():
        for lo in range(0, n_q, chunk_size):
            hi = min(lo + chunk_size, n_q)
            multi, in_lang = _chunk_ranks(queries[lo:hi] @ cands.T, rel_all[lo:hi], rel_block_all[lo:hi],
                                          starts, ends)
            rank_multi[lo:hi] = multi.numpy()
            rank_lang[lo:hi] = in_lang.numpy()
            if progress is not None:
                progress(hi, n_q)
    q, slot = np.nonzero(rel_idx >= 0)
    return RankBlocks(q, rel_idx[q, slot], rank_multi[q, slot], rank_lang[q, slot])
