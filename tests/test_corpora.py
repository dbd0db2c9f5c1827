"""Training corpora: XNLI and Tatoeba from the shared files, HF datasets from a tiny fixture."""

import json

import numpy as np
import pytest

from hybridir_core.config import PAPER_TRAIN_LANGUAGES
from hybridir_core.data import DataError
from hybridir_core.data.corpora import ParallelCorpus, find_corpus_dir, load_hf_parallel, load_tatoeba, load_xnli
from hybridir_core.training.trainer import split_corpus


@pytest.fixture(scope="module")
def xnli():
    return load_xnli()


def _rows(path):
    return [line.split("\t") for line in path.read_bytes().decode("utf-8").split("\r\n") if line]


def test_xnli_pairs_items_and_alignment(xnli):
    assert xnli.languages == PAPER_TRAIN_LANGUAGES
    assert len(xnli) == 2490 + 5010 and xnli.n_items == 2500  # 3 hypotheses per premise
    assert set(np.bincount(xnli.item)) == {3}
    root = find_corpus_dir("xnli")
    de = xnli.languages.index("de")
    dev_de, test_de = _rows(root / "dev-de.tsv"), _rows(root / "test-de.tsv")
    # query = hypothesis, passage = premise; row i of every language is pair i
    assert xnli.text(0, de, de) == (dev_de[0][1], dev_de[0][0])
    assert xnli.text(2490, de, de) == (test_de[0][1], test_de[0][0])
    en = xnli.languages.index("en")
    assert xnli.text(1, en, de) == (_rows(root / "dev-en.tsv")[1][1], dev_de[1][0])
    # the three pairs of an item share the premise in every language
    for lang in range(len(xnli.languages)):
        assert len(set(xnli.passages[xnli.item == 7, lang])) == 1
    elig = xnli.eligibility()
    off_diagonal = ~np.eye(len(xnli.languages), dtype=bool)
    assert elig[:, off_diagonal].all()
    # a monolingual pair whose hypothesis is its premise (3 in the data) is not a training pair
    assert (~elig).sum() == 3


def test_xnli_keeps_unicode_line_separators_inside_fields():
    # test-el holds characters that str.splitlines() would split on; rows must stay 5010
    corpus = load_xnli(languages=("el", "en"), splits=("test",))
    assert len(corpus) == 5010


def test_xnli_limit_and_errors(tmp_path):
    small = load_xnli(languages=("en", "zh"), limit_items=10)
    assert small.n_items == 10 and len(small) == 30
    with pytest.raises(DataError, match="no languages"):
        load_xnli(languages=("en", "xx"))
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli" / "dev-en.tsv").write_bytes(b"premise\thypothesis\r\n")
    with pytest.raises(DataError, match="columns"):
        load_xnli(tmp_path, languages=("en",), splits=("dev",))
    (tmp_path / "xnli" / "dev-en.tsv").write_bytes(b"p\th\tneutral\r\np\th2\tneutral\r\n")
    (tmp_path / "xnli" / "dev-de.tsv").write_bytes(b"p\th\tneutral\r\n")
    with pytest.raises(DataError, match="1 rows, English has 2"):
        load_xnli(tmp_path, languages=("en", "de"), splits=("dev",))


def test_tatoeba_is_cross_lingual_only():
    corpus = load_tatoeba(languages=("en", "de", "th"))
    en, de, th = (corpus.languages.index(x) for x in ("en", "de", "th"))
    assert len(corpus) == 1000 + 548
    elig = corpus.eligibility()
    assert not elig[:, en, en].any() and not elig[:, de, de].any()  # query == passage: trivial
    assert elig[:1000, en, de].all() and elig[:1000, de, en].all()
    assert not elig[:, de, th].any()
    q, p = corpus.text(0, en, de)
    assert q != p and q == corpus.queries[0, en]


def test_concat_and_validation_split_hold_out_whole_items(xnli):
    both = ParallelCorpus.concat([xnli, load_tatoeba()], PAPER_TRAIN_LANGUAGES)
    assert len(both) == len(xnli) + 7548
    assert both.n_items == xnli.n_items + len(np.unique(load_tatoeba().item))
    train, val = split_corpus(both, 50)
    assert val.n_items == 50 and len(val) == 150 and set(val.source) == {"xnli"}
    assert not set(train.item) & set(val.item)
    assert len(train) + len(val) == len(both)
    assert val.eligibility()[:, 0, 1:].all()  # every language pair measured
    # fixed seed: the same slice for every run
    assert np.array_equal(split_corpus(both, 50)[1].item, val.item)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_hf_loader_columns_per_language(tmp_path):
    rows = [
        {"id": "a", "query_en": "what is a cat", "passage_en": "a cat is an animal",
         "query_de": "was ist eine Katze", "passage_de": "eine Katze ist ein Tier"},
        {"id": "a", "query_en": "cats?", "passage_en": "a cat is an animal",
         "query_de": "Katzen?", "passage_de": "eine Katze ist ein Tier"},
        {"id": "b", "query_en": "what is a dog", "passage_en": "a dog barks",
         "query_de": "", "passage_de": None},
    ]
    _write_jsonl(tmp_path / "train.jsonl", rows)
    corpus = load_hf_parallel("json", ("en", "de"), data_files=str(tmp_path / "train.jsonl"),
                              item_column="id", name="toy", cache_dir=str(tmp_path / "cache"))
    assert corpus.name == "toy" and len(corpus) == 3
    assert corpus.item[0] == corpus.item[1] != corpus.item[2]  # grouped by id
    assert corpus.text(0, 1, 0) == ("was ist eine Katze", "a cat is an animal")
    elig = corpus.eligibility()
    assert elig[2, 0, 0] and not elig[2, 1, 1] and not elig[2, 0, 1]  # holes in de
    with pytest.raises(DataError, match="no column"):
        load_hf_parallel("json", ("en", "fr"), data_files=str(tmp_path / "train.jsonl"),
                         cache_dir=str(tmp_path / "cache"))


def test_hf_loader_one_load_per_language(tmp_path):
    for lang, words in (("en", ("one", "two")), ("es", ("uno", "dos"))):
        _write_jsonl(tmp_path / f"train-{lang}.jsonl",
                     [{"query": f"q {w}", "positive": f"p {w}"} for w in words])
    corpus = load_hf_parallel("json", ("en", "es"), query_column="query", passage_column="positive",
                              data_files=str(tmp_path / "train-{lang}.jsonl"),
                              cache_dir=str(tmp_path / "cache"))
    assert len(corpus) == 2 and corpus.text(1, 0, 1) == ("q two", "p dos")
    assert corpus.eligibility().all()
    _write_jsonl(tmp_path / "train-es.jsonl", [{"query": "q", "positive": "p"}])
    with pytest.raises(DataError, match="aligned"):
        load_hf_parallel("json", ("en", "es"), query_column="query", passage_column="positive",
                         data_files=str(tmp_path / "train-{lang}.jsonl"), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match="lang"):
        load_hf_parallel("json", ("en",), query_column="query", passage_column="positive",
                         data_files=str(tmp_path / "train-en.jsonl"))
