"""Rankings out in the TREC formats that trec_eval, ir_measures, ranx and pytrec_eval read.

``<run>/trec/<dataset>.run``: six columns ``qid Q0 docid rank score tag``, the top K of the
multilingual pool per query in hybridir's order (``ranking.top_k_order``: ties put non-relevant
before relevant, then candidate index). The score column is ``K + 1 - rank``, so that every
tool, whatever its own tie rule, reads exactly hybridir's order.

``<run>/trec/<dataset>.qrels``: four columns ``qid 0 docid 1``, every relevant candidate of
every query (all of them, not only those in the top K: AP's denominator is untruncated).

Ids: a query is ``<question id>@<query lang>``; a candidate is ``<lang>:<index>``, its
position within its language's block of candidates (0-based, the order of the dataset files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TREC_DIR = "trec"


def query_ids(question_ids, langs) -> list[str]:
    """``<question id>@<lang>`` for each query row."""
    return [f"{q}@{lang}" for q, lang in zip(question_ids, langs)]


def doc_ids(candidate_langs) -> np.ndarray:
    """``<lang>:<index within the language block>`` for each candidate row."""
    langs = np.asarray(candidate_langs, dtype=object)
    out = np.empty(len(langs), dtype=object)
    for lang in dict.fromkeys(langs):
        rows = np.flatnonzero(langs == lang)
        out[rows] = [f"{lang}:{i}" for i in range(len(rows))]
    return out


def run_lines(qids: list[str], docs: np.ndarray, top: np.ndarray, tag: str) -> list[str]:
    """TREC run lines from each query's top candidates (``-1`` padding skipped)."""
    k = top.shape[1]
    return [f"{qid} Q0 {docs[c]} {rank} {k + 1 - rank} {tag}"
            for qid, row in zip(qids, top) for rank, c in enumerate(row[row >= 0], start=1)]


def qrels_lines(qids: list[str], docs: np.ndarray, relevant: list[np.ndarray]) -> list[str]:
    """TREC qrels lines: every relevant candidate of every query, relevance 1."""
    return [f"{qid} 0 {docs[c]} 1" for qid, rel in zip(qids, relevant) for c in rel]


def write_trec(run_dir: Path, dataset: str, data, top: np.ndarray, tag: str) -> tuple[Path, Path]:
    """Write ``<run_dir>/trec/<dataset>.run`` and ``.qrels`` for ``data`` (a ``LareqaData``)."""
    folder = Path(run_dir) / TREC_DIR
    folder.mkdir(parents=True, exist_ok=True)
    qids = query_ids(data.questions["question_id"], data.questions["lang"])
    docs = doc_ids(data.candidates["lang"])
    run_path, qrels_path = folder / f"{dataset}.run", folder / f"{dataset}.qrels"
    run_path.write_text("\n".join(run_lines(qids, docs, top, tag)) + "\n", encoding="utf-8")
    qrels_path.write_text("\n".join(qrels_lines(qids, docs, data.relevant_candidates())) + "\n",
                          encoding="utf-8")
    return run_path, qrels_path
