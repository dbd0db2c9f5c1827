"""``search`` keeps the candidates' embeddings on disk per (model weights, dataset contents)."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest
from fixtures_runs import minilm_dir

from hybridir_core import cli
from hybridir_core.evaluation import search_cache
from hybridir_core.evaluation.retrieval import search_dataset


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(search_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_cached_file_is_read_back_and_a_new_key_replaces_the_old_file(cache):
    calls = []

    def encode():
        calls.append(1)
        return np.eye(3)

    first = search_cache.cache_file("me5-small", "xquad-r", "weights-a", "data-a")
    vectors, hit = search_cache.cached_embeddings(first, encode)
    assert not hit and vectors.dtype == np.float32 and np.array_equal(vectors, np.eye(3))
    again, hit = search_cache.cached_embeddings(first, encode)
    assert hit and np.array_equal(again, np.eye(3)) and len(calls) == 1
    other = search_cache.cache_file("me5-small", "xquad-r", "weights-b", "data-a")
    assert other != first and other != search_cache.cache_file("me5-small", "xquad-r", "weights-a", "data-b")
    search_cache.cached_embeddings(other, encode)
    assert sorted(p.name for p in cache.iterdir()) == [other.name] and len(calls) == 2


def test_a_truncated_cache_file_is_encoded_again(cache):
    path = search_cache.cache_file("m", "mlqa-r", "w", "d")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x93NUMPY")
    vectors, hit = search_cache.cached_embeddings(path, lambda: np.ones((2, 2)))
    assert not hit and vectors.shape == (2, 2) and np.load(path).shape == (2, 2)


def test_signatures_change_with_the_weights_and_with_the_candidates(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"a")
    before = search_cache.model_signature(model, "m")
    (model / "model.safetensors").write_bytes(b"ab")
    assert search_cache.model_signature(model, "m") != before
    texts, langs = ["a cat", "un chat"], ["en", "fr"]
    base = search_cache.data_signature(texts, langs, "passage: ")
    assert base != search_cache.data_signature(["a cat", "un chien"], langs, "passage: ")
    assert base != search_cache.data_signature(texts, ["en", "de"], "passage: ")
    assert base != search_cache.data_signature(texts, langs, None)


@pytest.mark.slow  # encodes a whole candidate pool (minutes on 2 shared cores)
def test_the_second_search_reads_the_cache_and_answers_the_same(cache, monkeypatch, capsys):
    model = str(minilm_dir())
    seen = []
    first = search_dataset(model, "xquad-r", "Who founded the university?", 3, ["de"],
                           progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert seen and seen[-1][1] == seen[-1][2]  # the progress bar ran to its end
    files = list(cache.iterdir())
    assert len(files) == 1 and os.path.getsize(files[0]) > 0

    def no_encoding(*args, **kwargs):
        raise AssertionError("the candidates were encoded again")

    monkeypatch.setattr("hybridir_core.evaluation.retrieval.make_encoder", no_encoding)
    second = search_dataset(model, "xquad-r", "Who founded the university?", 3, ["de"])
    assert [h["text"] for h in second] == [h["text"] for h in first]
    assert [h["score"] for h in second] == pytest.approx([h["score"] for h in first], abs=1e-5)

    # the CLI's stdin loop: one model and index, one answer block and time per line
    monkeypatch.setattr("sys.stdin", io.StringIO("Who founded the university?\n\nWhen was it built?\n"))
    assert cli.main(["search", "--model", model, "--dataset", "xquad-r", "--languages", "de", "-k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    times = [line for line in out if re.fullmatch(r"\(\d+\.\d\d s\)", line)]
    assert len(times) == 2 and len(out) == 2 * 3 + 2
    assert first[0]["text"][:110] in out[0]
