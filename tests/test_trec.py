"""TREC run and qrels files checked with ir_measures (trec_eval through pytrec_eval) as the oracle."""

import json

import ir_measures
import numpy as np
import pandas as pd
import pytest
from fixtures_open import ngram_model
from ir_measures import AP, RR, nDCG

from hybridir_core.config import EvalConfig
from hybridir_core.data.trec import TREC_DIR, doc_ids
from hybridir_core.evaluation import evaluate, metrics, ranking
from hybridir_core.runs import directory as runs

K = 100


def test_top_k_order_puts_tied_relevant_below_tied_non_relevant():
    scores = np.array([0.2, 0.9, 0.5, 0.5, 0.5, 0.1])
    order = ranking.top_k_order(scores, np.array([2, 5]), 5)
    assert order.tolist() == [1, 3, 4, 2, 0]  # 2 is tied with 3 and 4 and relevant: after them
    assert ranking.ranks_of_relevant(scores, np.array([2])).tolist() == [4]
    assert ranking.top_k_order(scores[:2], np.array([0]), 4).tolist() == [1, 0, -1, -1]


def test_doc_ids_count_within_each_language():
    assert doc_ids(["de", "de", "en", "es", "es"]).tolist() == ["de:0", "de:1", "en:0", "es:0", "es:1"]


def truncated_ap(ranks: pd.Series, k: int) -> float:
    """hybridir's AP truncated at k: (1/R) sum over relevant ranked within k of (position / rank)."""
    ordered = np.sort(ranks.to_numpy())
    hits = np.arange(1, len(ordered) + 1) / ordered
    return float(hits[ordered <= k].sum() / len(ordered))


def oracle(run_dir, dataset, measures):
    folder = run_dir / TREC_DIR
    qrels = list(ir_measures.read_trec_qrels(str(folder / f"{dataset}.qrels")))
    run = list(ir_measures.read_trec_run(str(folder / f"{dataset}.run")))
    out = {}
    for m in ir_measures.iter_calc(measures, qrels, run):
        out.setdefault(m.query_id, {})[str(m.measure)] = m.value
    return out


def agreement(run_dir, dataset):
    """Largest |hybridir - ir_measures| of AP@K, nDCG@10 and RR@10 over the queries of the pool."""
    ranks = runs.load_run(run_dir).ranks
    ranks = ranks[ranks.dataset == dataset]
    theirs = oracle(run_dir, dataset, [AP @ K, nDCG @ 10, RR @ 10])
    ours = metrics.per_query_scores(ranks)
    ours = ours[ours.candidate_lang == "multi"].set_index(["question_id", "query_lang"])
    gaps = {"AP@K": 0.0, "nDCG@10": 0.0, "RR@10": 0.0}
    assert len(theirs) == len(ours)
    for (qid, lang), group in ranks.groupby(["question_id", "query_lang"]):
        t = theirs[f"{qid}@{lang}"]
        row = ours.loc[(qid, lang)]
        gaps["AP@K"] = max(gaps["AP@K"], abs(t[f"AP@{K}"] - truncated_ap(group.rank_multi, K)))
        gaps["nDCG@10"] = max(gaps["nDCG@10"], abs(t["nDCG@10"] - row.ndcg_at_10))
        gaps["RR@10"] = max(gaps["RR@10"], abs(t["RR@10"] - row.mrr_at_10))
    return gaps, len(ours)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ngram"
    config = EvalConfig(model="ngram", datasets=("mlqa-r",), languages=("de", "en", "es"), limit_per_lang=30,
                        backend="torch", save_run=K)
    evaluate.run_evaluation(ngram_model(), out, config)
    return out


def test_run_file_is_the_top_k_in_six_columns(quick_run):
    lines = (quick_run / TREC_DIR / "mlqa-r.run").read_text().splitlines()
    cols = [line.split() for line in lines]
    assert {len(c) for c in cols} == {6} and cols[0][1] == "Q0" and cols[0][3] == "1"
    assert cols[0][4] == str(K) and cols[0][5] == "ngram"
    per_query = pd.Series([c[0] for c in cols]).value_counts()
    assert (per_query == K).all()
    assert json.loads((quick_run / "config.json").read_text())["eval"]["save_run"] == K


def test_ir_measures_agrees_with_truncated_ap_ndcg_and_mrr(quick_run):
    gaps, n = agreement(quick_run, "mlqa-r")
    assert n > 90
    assert max(gaps.values()) <= 1e-9, gaps


def test_duplicated_candidates_tie_the_same_way_in_both(tmp_path):
    folder = tmp_path / "dup"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "text": t, "lang": lang} for i, (t, lang) in enumerate([
        ("the red house", "en"), ("the red house", "en"), ("a blue car", "en"), ("the red house", "de"),
        ("das rote Haus", "de"), ("ein blaues Auto", "de")])]
    queries = [{"_id": "q1", "text": "red house", "lang": "en"}, {"_id": "q2", "text": "rote Haus", "lang": "de"}]
    qrels = [("q1", "d1"), ("q1", "d4"), ("q2", "d3"), ("q2", "d4")]  # d1 ties with d0 (non-relevant), d3 with both
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (folder / "qrels" / "test.tsv").write_text("".join(f"{q}\t{d}\t1\n" for q, d in qrels))
    out = tmp_path / "run"
    config = EvalConfig(model="ngram", datasets=(str(folder),), backend="torch", save_run=3, chunk_size=1)
    evaluate.run_evaluation(ngram_model(), out, config)
    name = next(iter(runs.load_run(out).metrics))
    ranks = runs.load_run(out).ranks
    q1 = ranks[ranks.question_id == "q1"].sort_values("candidate_lang")
    assert q1.rank_multi.tolist()[1] >= 2  # d1 ("en:1") is tied with d0 and placed after it
    theirs = oracle(out, name, [AP @ 3])
    for (qid, lang), group in ranks.groupby(["question_id", "query_lang"]):
        assert theirs[f"{qid}@{lang}"]["AP@3"] == pytest.approx(truncated_ap(group.rank_multi, 3), abs=1e-12)
