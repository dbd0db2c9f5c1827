"""XQuAD-R question -> answer-sentence triplets: built right, held apart from MLQA-R, trainable."""

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_train import FIXTURE, minilm

from hybridir_core import cli
from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.data.corpora import ParallelCorpus, load_xnli
from hybridir_core.data.lareqa import LareqaData, load_lareqa
from hybridir_core.data.qa_pairs import OverlapIndex, load_xquad_qa, measure_overlap, ngrams, tokens
from hybridir_core.training.sampling import LanguageBatchSampler, PairLayout, pair_dataset
from hybridir_core.training.trainer import split_corpus, train_model

LANGS = ("en", "de", "es")


@pytest.fixture(scope="module")
def mlqa_index():
    return OverlapIndex.of(load_lareqa("mlqa-r"))


@pytest.fixture(scope="module")
def xquad():
    return load_lareqa("xquad-r")


@pytest.fixture(scope="module")
def corpus(mlqa_index):
    return load_xquad_qa(exclude=mlqa_index)


def tiny(texts: list[tuple[str, str]]) -> LareqaData:
    questions = pd.DataFrame({"question_id": ["q"], "lang": ["en"], "text": ["a question"], "answer_candidate": [0]})
    candidates = pd.DataFrame({"lang": [lang for _, lang in texts], "text": [t for t, _ in texts],
                               "context": "", "paragraph": 0, "article": 0})
    return LareqaData("tiny", ["en"], questions, candidates)


def test_tokens_keep_words_whole_and_count_characters_where_there_are_no_spaces():
    assert tokens("Hello, World!  (again)", "en") == ["hello", "world", "again"]
    assert tokens("संयुक्त राज्य अमेरिका", "hi") == ["संयुक्त", "राज्य", "अमेरिका"]  # vowel signs stay
    assert tokens("黑豹队的防守。", "zh") == list("黑豹队的防守")
    assert len(ngrams("one two three four five six seven eight nine", "en")) == 2
    assert ngrams("一二三四五六七八九十", "zh") == set()  # 10 characters < 16


def test_overlap_index_finds_exact_and_shared_eight_word_texts():
    index = OverlapIndex.of(tiny([("The cat sat on the mat in the sun today.", "en")]))
    assert index.match("the  CAT sat on the mat in the sun today.", "en") == "exact"
    assert index.match("Yesterday the cat sat on the mat in the sun.", "en") == "ngram"
    assert index.match("The cat sat on a mat.", "en") is None
    assert index.match("a question", "en") == "exact"  # questions are indexed too


@pytest.mark.slow  # corpus: triplets of all XQuAD-R
def test_triplets_are_question_answer_sentence_and_a_sentence_of_the_same_paragraph(corpus, xquad):
    assert corpus.languages == ("ar", "de", "en", "es", "hi", "ru", "th", "tr", "zh")
    cand, q = xquad.candidates, xquad.questions
    qids = sorted(q["question_id"].unique())
    kept = {qid for qid in qids if (q[q.question_id == qid].text.isin(corpus.queries[:, 2])).any()}
    assert len(corpus) == len(kept) and len(corpus) >= 0.98 * len(qids)
    en = q[q.lang == "en"].set_index("text")
    for row in range(0, len(corpus), 97):
        answer = int(en.loc[corpus.queries[row, 2], "answer_candidate"])
        assert corpus.passages[row, 2] == cand.at[answer, "text"]
        same_paragraph = cand[(cand.lang == "en") & (cand.paragraph == cand.at[answer, "paragraph"])].text
        same_article = cand[(cand.lang == "en") & (cand.article == cand.at[answer, "article"])].text
        near = same_paragraph if len(same_paragraph) > 1 else same_article
        assert corpus.negatives[row, 2] in set(near) and corpus.negatives[row, 2] != corpus.passages[row, 2]
        assert corpus.item[row] == cand.at[answer, "paragraph"] and corpus.group[row] == cand.at[answer, "article"]
    assert corpus.eligibility().all()


@pytest.mark.slow  # corpus: triplets of all XQuAD-R
def test_no_training_text_appears_in_mlqa_r(corpus, mlqa_index):
    for table in (corpus.queries, corpus.passages, corpus.negatives):
        for col, lang in enumerate(corpus.languages):
            assert not any(mlqa_index.match(text, lang) for text in table[:, col])


def test_measured_overlap_with_mlqa_r_is_near_zero(xquad, mlqa_index):
    found = measure_overlap(xquad, mlqa_index)
    assert found["sentences"]["total"] == 13_014 and found["questions"]["total"] == 13_090
    assert found["sentences"]["exact"] + found["sentences"]["ngram"] < 0.002 * 13_014
    assert found["questions"]["exact"] + found["questions"]["ngram"] < 0.001 * 13_090


@pytest.mark.slow  # corpus: triplets of all XQuAD-R
def test_validation_holds_out_whole_articles(corpus):
    train, val = split_corpus(corpus, TrainConfig(corpus="xquad").effective_validation_items)
    assert val.n_items >= 40 and not set(val.group) & set(train.group)
    assert len(train) + len(val) == len(corpus)
    again, _ = split_corpus(corpus, 40)
    assert np.array_equal(again.item, train.item)  # seeded: the same articles every run


@pytest.mark.slow  # corpus: triplets of all XQuAD-R
def test_pair_dataset_carries_the_hard_negative_in_the_passage_language(corpus):
    small = corpus.limit_items(40)
    sampler = LanguageBatchSampler(pair_dataset(small), 8, seed=1, corpus=small,
                                   sampling=SamplingConfig("cross", 0.0))
    batch = next(iter(sampler.sampled_batches(0)))
    texts = pair_dataset(small)[batch.rows]
    pairs, xs, ys = PairLayout(len(small), small.languages).decode(np.asarray(batch.rows))
    for pair, x, y, passage, negative in zip(pairs, xs, ys, texts["passage"], texts["negative"]):
        assert (small.passages[pair, y], small.negatives[pair, y]) == (passage, negative) and x != y


def test_a_missing_negative_makes_the_pair_unusable_in_that_language():
    text = np.array([["q1", "q2"]], dtype=object)
    corpus = ParallelCorpus("t", ("en", "de"), np.zeros(1, np.int64), text, text + "!",
                            np.array(["qa"], dtype=object), np.array([["n", None]], dtype=object))
    assert corpus.eligibility()[0].tolist() == [[True, False], [True, False]]
    with pytest.raises(ValueError, match="cannot be joined"):
        ParallelCorpus.concat([corpus, corpus], ("en", "de"))


def test_xnli_entailment_only_keeps_labelled_entailments():
    pairs = load_xnli(languages=("en", "de"), entailment_only=True)
    everything = load_xnli(languages=("en",), splits=("dev",))
    assert len(pairs) == 830 and pairs.n_items == 830  # dev: one entailment per premise; test unlabelled
    labels = dict(zip(everything.queries[:, 0], [None] * len(everything)))
    assert set(pairs.queries[:, 0]) <= set(labels)
    from hybridir_core.data.corpora import _read_tsv, find_corpus_dir

    rows = _read_tsv(find_corpus_dir("xnli") / "dev-en.tsv", (3,))
    entailed = {r[1] for r in rows if r[2] == "entailment"}
    assert set(pairs.queries[:, 0]) <= entailed


def test_corpus_options_and_old_run_files():
    with pytest.raises(ValueError, match="trained on alone"):
        TrainConfig(corpus="xquad+xnli")
    with pytest.raises(ValueError, match="xnli_pairs"):
        TrainConfig(xnli_pairs="some")
    with pytest.raises(ValueError, match="cannot be evaluated on it"):
        JobConfig("train", EvalConfig(datasets=("xquad-r", "mlqa-r")), TrainConfig(corpus="xquad"))
    assert JobConfig("train", EvalConfig(datasets=("mlqa-r",)), TrainConfig(corpus="xquad")).train.corpus == "xquad"
    assert TrainConfig(corpus="xquad").effective_validation_items == 40
    assert TrainConfig().effective_validation_items == 200
    old = TrainConfig.from_dict({"corpus": "xnli", "validation_items": 200})
    assert old.xnli_pairs == "all"  # runs before the option trained on every row
    assert TrainConfig.from_dict(TrainConfig(corpus="xquad").to_dict()) == TrainConfig(corpus="xquad")


@pytest.mark.training
def test_training_on_triplets_lowers_the_triplet_loss(corpus, tmp_path):
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(str(FIXTURE), device="cpu")
    small = corpus.select_languages(LANGS).limit_items(60)
    config = TrainConfig(model="minilm", corpus="xquad", languages=LANGS, steps=6, batch_size=8,
                         learning_rate=1e-4, warmup_ratio=0.0, validation_items=10, eval_steps=3,
                         logging_steps=1, max_seq_length=64, sampling=SamplingConfig("hybrid", 0.5), seed=2)
    result = train_model(minilm(copy.deepcopy(base)), tmp_path / "run", config, corpus=small)
    train_corpus, _ = split_corpus(small, 10)
    dataset = pair_dataset(train_corpus)
    sampler = LanguageBatchSampler(dataset, 8, seed=2, corpus=train_corpus, sampling=config.sampling)

    def triplet_loss(model, texts) -> float:
        q = model.encode(texts["query"], prompt="query: ", convert_to_tensor=True, normalize_embeddings=True)
        p = model.encode(texts["passage"] + texts["negative"], prompt="passage: ", convert_to_tensor=True,
                         normalize_embeddings=True)
        return torch.nn.functional.cross_entropy(20 * q @ p.T, torch.arange(len(q))).item()

    batches = [dataset[rows] for rows in list(sampler)[:6]]
    before = np.mean([triplet_loss(base, b) for b in batches])
    after = np.mean([triplet_loss(result.loaded.model, b) for b in batches])
    assert after < before - 0.02
    stats = json.loads((tmp_path / "run" / "train_stats.json").read_text())
    assert stats["corpus"]["name"] == "xquad"


def test_data_overlap_command_prints_and_writes_the_counts(tmp_path, capsys):
    out = tmp_path / "overlap.json"
    assert cli.main(["data", "overlap", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["questions_kept"] + report["questions_left_out"] == 1190
    assert "sentences" in capsys.readouterr().out
