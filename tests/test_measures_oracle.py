"""nDCG@10, MRR@10 and AP of every matrix cell against ir_measures (trec_eval) on exact rankings."""

import ir_measures
import numpy as np
import pandas as pd
import pytest
from ir_measures import AP, RR, nDCG

from hybridir_core.evaluation import metrics, ranking
from hybridir_core.runs import schema


def full_ranking(scores, relevant):
    """ScoredDocs whose order is hybridir's (``ranking.top_k_order`` over the whole pool)."""
    order = ranking.top_k_order(scores, relevant, len(scores))
    return [(f"c{c}", float(len(order) - i)) for i, c in enumerate(order)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_cell_matches_ir_measures(seed):
    rng = np.random.default_rng(seed)
    n_q, n_c, langs = 30, 60, np.array(["de", "en", "es"])
    blocks = np.sort(rng.integers(0, 3, size=n_c))
    scores = np.round(rng.normal(size=(n_q, n_c)), 1)  # coarse: many ties
    relevant = [np.sort(rng.choice(n_c, size=rng.integers(1, 14), replace=False)) for _ in range(n_q)]
    q_lang = langs[rng.integers(0, 3, size=n_q)]
    rows, qrels, run = [], [], []
    for q in range(n_q):
        for pool, members in [("multi", np.arange(n_c))] + [(lang, np.flatnonzero(blocks == b))
                                                            for b, lang in enumerate(langs)]:
            rel = np.intersect1d(relevant[q], members)
            if not len(rel):
                continue
            local = np.searchsorted(members, rel)
            qid = f"q{q}/{pool}"
            qrels += [ir_measures.Qrel(qid, f"c{c}", 1) for c in local]
            run += [ir_measures.ScoredDoc(qid, d, s) for d, s in full_ranking(scores[q, members], local)]
            if pool != "multi":
                ranks_multi = ranking.ranks_of_relevant(scores[q], relevant[q])
                ranks_lang = ranking.ranks_of_relevant(scores[q, members], local)
                for rm, rl in zip(ranks_multi[np.isin(relevant[q], rel)], ranks_lang, strict=True):
                    rows.append(("d", f"q{q}", q_lang[q], pool, int(rm), int(rl)))
    ranks = pd.DataFrame(rows, columns=["dataset", "question_id", "query_lang", "candidate_lang", "rank_multi",
                                        "rank_in_lang"])
    ours = metrics.per_query_scores(ranks)
    theirs = {}
    for m in ir_measures.iter_calc([AP, nDCG @ 10, RR @ 10], qrels, run):
        theirs.setdefault(m.query_id, {})[str(m.measure)] = m.value
    assert len(ours) == len(theirs)
    for row in ours.itertuples():
        t = theirs[f"{row.question_id}/{row.candidate_lang}"]
        assert row.ap == pytest.approx(t["AP"], abs=1e-9)
        assert row.ndcg_at_10 == pytest.approx(t["nDCG@10"], abs=1e-9)
        assert row.mrr_at_10 == pytest.approx(t["RR@10"], abs=1e-9)


def test_matrix_carries_ndcg_and_mrr_and_old_matrices_still_load(tmp_path):
    ranks = pd.DataFrame({"dataset": "d", "question_id": ["a", "a", "b"], "query_lang": "en",
                          "candidate_lang": ["en", "de", "en"], "rank_multi": [1, 12, 3], "rank_in_lang": [1, 2, 3]})
    matrix = metrics.cell_matrix(metrics.per_query_scores(ranks))
    cells = matrix.set_index(["query_lang", "candidate_lang"])
    assert cells.loc[("en", "en"), "mrr_at_10"] == pytest.approx((1 + 1 / 3) / 2)
    # pool: a has 2 relevant at 1 and 12 (DCG 1, ideal 1 + 1/log2 3); b has 1 at 3 (DCG 1/log2 4)
    assert cells.loc[("en", "multi"), "ndcg_at_10"] == pytest.approx((1 / (1 + 1 / np.log2(3)) + 0.5) / 2)
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    matrix.to_csv(new, index=False)
    matrix[schema.MATRIX_COLUMNS].to_csv(old, index=False)
    assert list(schema.read_matrix(new).columns) == schema.MATRIX_COLUMNS + schema.MATRIX_EXTRA
    assert list(schema.read_matrix(old).columns) == schema.MATRIX_COLUMNS
