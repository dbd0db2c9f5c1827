"""Folder datasets: a BEIR folder with a ``lang`` field, LAReQA-style files, the BEIR converter."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from fixtures_open import ngram_model

from hybridir_core.config import EvalConfig
from hybridir_core.data.folders import dataset_name, load_folder, write_beir
from hybridir_core.data.lareqa import DataError, load_lareqa, resolve_data_dir
from hybridir_core.evaluation import evaluate
from hybridir_core.paths import REPO_ROOT
from hybridir_core.runs import directory as runs

LANGS = ("de", "en", "es")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beir") / "mlqa-r"
    write_beir(load_lareqa("mlqa-r"), folder)
    return folder


def _same_content(a, b):
    cols = ["question_id", "lang", "text"]
    pd.testing.assert_frame_equal(a.questions[cols], b.questions[cols])
    pd.testing.assert_frame_equal(a.candidates[["lang", "text", "context"]], b.candidates[["lang", "text", "context"]])
    assert all(np.array_equal(x, y) for x, y in zip(a.relevant_candidates(), b.relevant_candidates(), strict=True))


def test_converted_folder_holds_the_same_queries_candidates_and_relevance(converted):
    _same_content(load_lareqa("mlqa-r", languages=LANGS, limit_per_lang=20),
                  load_folder(converted, LANGS, 20))


def test_converted_folder_gives_row_identical_ranks(converted, tmp_path):
    config = EvalConfig(model="ngram", datasets=("mlqa-r",), languages=LANGS, limit_per_lang=20, backend="torch")
    evaluate.run_evaluation(ngram_model(), tmp_path / "builtin", config)
    folder_config = EvalConfig(model="ngram", datasets=(str(converted),), languages=LANGS, limit_per_lang=20,
                               backend="torch")
    evaluate.run_evaluation(ngram_model(), tmp_path / "folder", folder_config)
    a, b = runs.load_run(tmp_path / "builtin"), runs.load_run(tmp_path / "folder")
    name = dataset_name(converted)
    assert list(b.metrics) == [name] and name.startswith("mlqa-r-")
    pd.testing.assert_frame_equal(a.ranks.drop(columns="dataset"), b.ranks.drop(columns="dataset"))
    pd.testing.assert_frame_equal(a.matrix.drop(columns="dataset"), b.matrix.drop(columns="dataset"))
    assert b.config["dataset_sources"][name]["format"] == "beir"


def _handmade(folder, corpus, queries, qrels):
    (folder / "qrels").mkdir(parents=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t{s}\n" for q, d, s in qrels), encoding="utf-8")
    return folder


CORPUS = [{"_id": "d1", "text": "Paris is the capital of France.", "lang": "en"},
          {"_id": "d2", "text": "Paris ist die Hauptstadt Frankreichs.", "lang": "de"},
          {"_id": "d3", "text": "Berlin is the capital of Germany.", "lang": "en"},
          {"_id": "d4", "text": "Berlin ist die Hauptstadt Deutschlands.", "lang": "de"}]
QUERIES = [{"_id": "q1", "text": "capital of France?", "lang": "en", "group": "g1"},
           {"_id": "q2", "text": "Hauptstadt Frankreichs?", "lang": "de", "group": "g1"},
           {"_id": "q3", "text": "capital of Germany?", "lang": "en"}]
QRELS = [("q1", "d1", 1), ("q1", "d2", 1), ("q2", "d1", 1), ("q2", "d2", 1), ("q3", "d3", 1), ("q3", "d4", 0)]


def test_handmade_beir_folder_groups_queries_and_ignores_zero_scores(tmp_path):
    data = load_folder(_handmade(tmp_path / "tiny", CORPUS, QUERIES, QRELS))
    assert data.languages == ["de", "en"] and list(data.candidates["text"].str[:5]) == ["Paris", "Berli", "Paris",
                                                                                     "Berli"]
    rel = dict(zip(zip(data.questions["question_id"], data.questions["lang"]), data.relevant_candidates()))
    assert rel[("g1", "de")].tolist() == [0, 2] and rel[("q3", "en")].tolist() == [3]
    assert data.name == dataset_name(tmp_path / "tiny") and data.name.startswith("tiny-")


def test_two_different_folders_never_share_a_name(tmp_path):
    a = _handmade(tmp_path / "a" / "col", CORPUS, QUERIES, QRELS)
    b = _handmade(tmp_path / "b" / "col", CORPUS, QUERIES, QRELS[:-1])
    assert dataset_name(a) != dataset_name(b)
    assert dataset_name(a) == dataset_name(shutil.copytree(a, tmp_path / "c" / "col"))


def test_lareqa_style_folder_reads_like_the_builtin_dataset(tmp_path):
    root = resolve_data_dir()
    for lang in ("de", "en"):
        shutil.copy(root / "xquad-r" / f"{lang}.json", tmp_path / f"{lang}.json")
    _same_content(load_lareqa("xquad-r", languages=["de", "en"], limit_per_lang=10), load_folder(tmp_path, None, 10))


@pytest.mark.parametrize("corpus, queries, qrels, message", [
    ([{**CORPUS[0], "lang": None}, *CORPUS[1:]], QUERIES, QRELS, "corpus.jsonl: line 1 (_id 'd1'): field 'lang'"),
    (CORPUS, [*QUERIES, {"_id": "q4", "lang": "en"}], QRELS, "queries.jsonl: line 4 (_id 'q4'): field 'text'"),
    (CORPUS, QUERIES, [*QRELS, ("q1", "d9", 1)], "test.tsv: line 8: corpus-id 'd9' is not in the corpus file"),
    (CORPUS, QUERIES, [("q1", "d1", "yes")], "test.tsv: line 2: score 'yes' is not a number"),
    (CORPUS, [*QUERIES, {"_id": "q5", "text": "x", "lang": "en", "group": "g1"}], [*QRELS, ("q5", "d1", 1)],
     "queries.jsonl: line 4: a second en query in group 'g1'"),
    ([*CORPUS, CORPUS[0]], QUERIES, QRELS, "corpus.jsonl: line 5: duplicate _id 'd1'"),
])
def test_bad_beir_files_name_file_line_and_field(tmp_path, corpus, queries, qrels, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_folder(_handmade(tmp_path / "bad", corpus, queries, qrels))


def test_malformed_json_line_is_named(tmp_path):
    folder = _handmade(tmp_path / "bad", CORPUS, QUERIES, QRELS)
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "a", "lang": "en"}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"corpus.jsonl: line 2: malformed JSON"):
        load_folder(folder)


def test_cli_reports_a_bad_folder_in_one_line(tmp_path):
    folder = _handmade(tmp_path / "bad", [{**CORPUS[0], "lang": 3}], QUERIES[:1], QRELS[:1])
    done = subprocess.run([sys.executable, "-m", "hybridir_core", "evaluate", "--model", "me5-small",
                           "--dataset", str(folder), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert "corpus.jsonl: line 1 (_id 'd1'): field 'lang' must be a non-empty string, got 3" in lines[0]
