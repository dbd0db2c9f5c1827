"""How texts become embeddings on the CPU: the reference path and faster ones behind a gate.

Backends (``EvalConfig.backend``):

- ``torch``: ``SentenceTransformer.encode`` as a user would call it (the reference).
- ``bucketed``: tokenise once, batch texts of equal *token* length (little padding), run the
  model's own modules; the same float32 arithmetic as ``torch``.
- ``bf16``: ``bucketed`` under ``torch.autocast(bfloat16)``; only where the CPU has native
  bf16 (``avx512_bf16`` or ``amx_bf16`` in ``/proc/cpuinfo``), else refused.
- ``onnx``: the transformer exported once with ``torch.onnx.export`` and fused by ONNX
  Runtime's BERT optimizer, cached beside the model (``.onnx/<key>/``, keyed by the weights'
  hash and the library versions; a corrupt cached graph is rebuilt).
- ``int8``: ``bucketed`` with int8 dynamic quantisation of the Linear layers (a benchmark
  contender; it loses mAP, see bench/README.md).
- ``onnx-int8``: the fused ONNX graph with per-channel int8 weights (ONNX Runtime's dynamic
  quantisation of its MatMul and Attention nodes), cached beside the fp32 graph; a benchmark
  contender, never chosen by ``auto`` (it loses mAP too, see bench/README.md).
- ``auto`` (default): the fastest candidate for this CPU (``bf16``, then ``onnx``, then
  ``bucketed``) that passes the accuracy gate *every time it is chosen*: on probe texts drawn
  from the texts to encode, every cosine to the ``torch`` embeddings must be at least
  ``GATE_MIN_COSINE``; a candidate that fails or cannot run is skipped with one warning line.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridir_core.config import EVAL_BACKENDS
from hybridir_core.devices import CPU_BF16_FLAGS, cpu_flags

logger = logging.getLogger(__name__)
OnBatch = Callable[[int, int], None]
BACKENDS = EVAL_BACKENDS
AUTO_ORDER = ("bf16", "onnx", "bucketed")
CUDA_ORDER = ("fp16", "bucketed")
"""What ``auto`` tries for a model on a CUDA GPU (ONNX and CPU bf16 are CPU paths)."""
GATE_MIN_COSINE = 0.999
PROBE_TEXTS = 64
ENCODE_SLICE = 1024
ONNX_DIR = ".onnx"


class BackendUnavailable(RuntimeError):
    """A backend that cannot run here (missing library, CPU without bf16, unsupported model)."""


def has_native_bf16(flags: set[str] | None = None) -> bool:
    """True where the CPU computes bf16 in hardware (AVX512-BF16 or AMX-BF16)."""
    flags = cpu_flags() if flags is None else flags
    return bool(set(CPU_BF16_FLAGS) & flags)


@dataclass
class Encoder:
    """Encodes texts into normalised float32 embeddings; ``name`` says which backend does it."""

    name: str
    model: object
    batch_size: int
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Subclasses prepare here (quantise, export, check the CPU); raise BackendUnavailable."""

    def encode(self, texts: list[str], prompt: str | None, on_batch: OnBatch | None = None) -> np.ndarray:
        """Embeddings of ``texts`` in their order (``on_batch(done, total)`` after each batch)."""
        raise NotImplementedError


class TorchEncoder(Encoder):
    """``SentenceTransformer.encode``, longest texts first in slices (the progress unit)."""

    def encode(self, texts, prompt, on_batch=None):
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), _dimension(self.model)), dtype=np.float32)
        for lo in range(0, len(order), ENCODE_SLICE):
            idx = order[lo:lo + ENCODE_SLICE]
            out[idx] = self.model.encode([texts[i] for i in idx], prompt=prompt or None,
                                         batch_size=self.batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
            if on_batch:
                on_batch(min(lo + ENCODE_SLICE, len(order)), len(order))
        return out


def _dimension(model) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def tokenize(model, texts: list[str], prompt: str | None) -> list[list[int]]:
    """Token ids of each text as the model sees it (prompt prepended, truncated), once."""
    max_length = getattr(model, "max_seq_length", None) or 512
    return model.tokenizer([(prompt or "") + t for t in texts], add_special_tokens=True,
                           truncation=True, max_length=max_length)["input_ids"]


def length_batches(ids: list[list[int]], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar token length, longest first."""
    order = np.argsort([-len(i) for i in ids], kind="stable")
    return [order[lo:lo + batch_size] for lo in range(0, len(order), batch_size)]


def padded(ids: list[list[int]], idx: np.ndarray, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, attention_mask)`` int64 arrays of one batch, padded to its longest text."""
    width = max(len(ids[i]) for i in idx)
    input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    for row, i in enumerate(idx):
        input_ids[row, :len(ids[i])] = ids[i]
        mask[row, :len(ids[i])] = 1
    return input_ids, mask


class BucketedEncoder(Encoder):
    """Tokenise once, batch by token length, run the model's modules (optionally in bf16)."""

    dtype = None  # torch dtype for autocast, None = float32

    def _forward(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        device = model_device(self.model)
        features = {"input_ids": torch.from_numpy(input_ids).to(device),
                    "attention_mask": torch.from_numpy(mask).to(device)}
        with torch.inference_mode(), torch.autocast(device.type, dtype=self.dtype or torch.float32,
                                                    enabled=self.dtype is not None):
            emb = self.model(features)["sentence_embedding"]
        return emb.float().cpu().numpy()

    def encode(self, texts, prompt, on_batch=None):
        ids = tokenize(self.model, texts, prompt)
        out = np.zeros((len(texts), _dimension(self.model)), dtype=np.float32)
        pad = self.model.tokenizer.pad_token_id or 0
        done = 0
        for idx in length_batches(ids, self.batch_size):
            out[idx] = self._forward(*padded(ids, idx, pad))
            done += len(idx)
            if on_batch:
                on_batch(done, len(texts))
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)


class Bf16Encoder(BucketedEncoder):
    """``bucketed`` under bf16 autocast; refused where the CPU has no native bf16."""

    def __post_init__(self) -> None:
        import torch

        if not has_native_bf16():
            raise BackendUnavailable("this CPU has no native bf16 (avx512_bf16 / amx_bf16)")
        self.dtype = torch.bfloat16


class Fp16Encoder(BucketedEncoder):
    """``bucketed`` under fp16 autocast, for a model on a CUDA GPU (CPUs have no fast fp16)."""

    def __post_init__(self) -> None:
        import torch

        if model_device(self.model).type != "cuda":
            raise BackendUnavailable("fp16 encoding needs the model on a CUDA GPU")
        self.dtype = torch.float16


def model_device(model):
    """The torch device the model's weights sit on (CPU for models without parameters)."""
    import torch

    return getattr(model, "device", None) or torch.device("cpu")


class OnnxEncoder(BucketedEncoder):
    """The transformer as a fused ONNX Runtime graph; mean pooling and normalisation in numpy."""

    def __post_init__(self) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailable("onnxruntime is not installed") from None
        transformer, _ = _onnx_parts(self.model)
        model_dir = self.info.get("model_dir")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(os.environ.get("OMP_NUM_THREADS", 0)) or _threads())
        # without a model folder the graph lives only until the session has read it
        with contextlib.nullcontext(model_dir) if model_dir else tempfile.TemporaryDirectory() as where:
            path = self.graph(cached_onnx(transformer, Path(where)))
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.info["onnx_graph"] = str(path) if model_dir else None

    def graph(self, fused: Path) -> Path:
        """The graph this encoder runs, given the cached fused fp32 one."""
        return fused

    def _forward(self, input_ids, mask):
        hidden = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        m = mask[..., None].astype(np.float32)
        return (hidden * m).sum(1) / m.sum(1).clip(min=1e-9)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _onnx_parts(model):
    """The HF transformer and the pooling module, if the model is transformer + mean pooling."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if len(modules) < 2 or names[0] != "Transformer" or names[1] != "Pooling" or any(
            n not in ("Normalize",) for n in names[2:]):
        raise BackendUnavailable(f"onnx supports Transformer + mean Pooling (+ Normalize), not {names}")
    if getattr(modules[1], "pooling_mode", "mean") != "mean":
        raise BackendUnavailable(f"onnx supports mean pooling only, not {modules[1].pooling_mode}")
    return modules[0].auto_model, modules[1]


def onnx_key(transformer) -> str:
    """Hash of the weights and of the exporting / running library versions."""
    import onnxruntime
    import torch

    digest = hashlib.sha256(f"{torch.__version__}|{onnxruntime.__version__}".encode())
    for name, tensor in sorted(transformer.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def cached_onnx(transformer, model_dir: Path) -> Path:
    """The fused graph of ``transformer`` under ``model_dir/.onnx/<key>/``, exported once.

    Export and fusion go to a temporary sibling renamed into place (atomic); a cached graph
    that ONNX cannot load is rebuilt.
    """
    final = Path(model_dir) / ONNX_DIR / onnx_key(transformer)
    graph = final / "model.onnx"
    if graph.is_file():
        if _loads(graph):
            return graph
        shutil.rmtree(final, ignore_errors=True)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=final.parent))
    try:
        export_fused(transformer, tmp / "model.onnx")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return graph


def _loads(graph: Path) -> bool:
    """Whether a cached graph passes ONNX's checker (a warning says why not)."""
    import onnx

    try:
        onnx.checker.check_model(str(graph))
        return True
    except Exception as exc:  # noqa: BLE001 - any damage means: build it again
        logger.warning("cached ONNX graph %s is unusable (%s); building it again", graph, exc)
        return False


def cached_int8(fused: Path) -> Path:
    """Per-channel int8 weights of the fused graph, beside it (``model-int8.onnx``), made once.

    ONNX Runtime's dynamic quantisation of the MatMul and Attention nodes (activations are
    quantised per batch at run time); the word embeddings stay float32. Written to a temporary
    name and renamed into place; a cached file that ONNX cannot load is made again.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = fused.with_name("model-int8.onnx")
    if out.is_file() and _loads(out):
        return out
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        quantize_dynamic(fused, tmp, per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Attention"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def export_fused(transformer, out: Path) -> dict[str, int]:
    """Export ``transformer`` (eager attention) to ONNX and apply the BERT fusions.

    Returns ONNX Runtime's fused-operator counts (``Attention``, ``SkipLayerNormalization``, ...).
    """
    import torch
    from onnxruntime.transformers import optimizer

    class LastHidden(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    config = transformer.config
    previous = getattr(config, "_attn_implementation", None)
    config._attn_implementation = "eager"  # the fusable attention pattern
    raw = out.with_name("raw.onnx")
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes it treats as constants
            torch.onnx.export(LastHidden(transformer).eval(), example, str(raw), dynamo=False,
                              input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden": axes},
                              opset_version=17)
    finally:
        config._attn_implementation = previous
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=1)
    fused.save_model_to_file(str(out))
    raw.unlink(missing_ok=True)
    counts = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    (out.parent / "fused_operators.txt").write_text(repr(counts) + "\n", encoding="utf-8")
    return counts


class OnnxInt8Encoder(OnnxEncoder):
    """``onnx`` with per-channel int8 weights (lossy: a benchmark contender, outside ``auto``)."""

    def graph(self, fused: Path) -> Path:
        return cached_int8(fused)


class Int8Encoder(BucketedEncoder):
    """``bucketed`` on a copy whose Linear layers are dynamically quantised to int8."""

    def __post_init__(self) -> None:
        import torch

        with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao
            warnings.simplefilter("ignore")
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear},
                                                                dtype=torch.qint8, inplace=False)


_CLASSES = {"torch": TorchEncoder, "bucketed": BucketedEncoder, "bf16": Bf16Encoder,
            "fp16": Fp16Encoder, "onnx": OnnxEncoder, "onnx-int8": OnnxInt8Encoder,
            "int8": Int8Encoder}


def build(backend: str, model, batch_size: int, model_dir: Path | None = None) -> Encoder:
    """The encoder of one named backend (not ``auto``).

    Raises:
        BackendUnavailable: the backend cannot run here, or the model is not a transformer.
    """
    if backend not in _CLASSES:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "torch" and not _starts_with_transformer(model):
        raise BackendUnavailable("the model does not start with a transformer (a static model?): "
                                 "only torch applies")
    return _CLASSES[backend](backend, model, batch_size, {"model_dir": str(model_dir) if model_dir else None})


def _starts_with_transformer(model) -> bool:
    """Whether the faster paths apply: they feed ``input_ids`` from a callable HF tokenizer to
    a leading ``Transformer`` module (a static model's tokenizer is a bare ``tokenizers.Tokenizer``)."""
    modules = list(model) if hasattr(model, "__iter__") else []
    return (bool(modules) and type(modules[0]).__name__ == "Transformer"
            and callable(getattr(model, "tokenizer", None)))


def probe(texts: list[str], n: int = PROBE_TEXTS) -> list[str]:
    """``n`` texts spread evenly over ``texts`` (deterministic), the longest included."""
    if len(texts) <= n:
        return list(texts)
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    picks = set(np.linspace(0, len(texts) - 1, n - 1).astype(int).tolist()) | {longest}
    return [texts[i] for i in sorted(picks)]


def gate(candidate: Encoder, reference: Encoder, texts: list[str], prompt: str | None) -> float:
    """The smallest cosine between the candidate's and the reference's embeddings of ``texts``."""
    a, b = candidate.encode(texts, prompt), reference.encode(texts, prompt)
    return float((a * b).sum(axis=1).min())


def choose(model, batch_size: int, probe_texts: list[str], prompt: str | None,
           model_dir: Path | None = None, order: tuple[str, ...] = AUTO_ORDER) -> Encoder:
    """The first backend of ``order`` that runs here and passes the accuracy gate, else ``torch``.

    Every choice is proven: the candidate encodes ``probe_texts`` and each cosine to the
    ``torch`` embeddings must reach ``GATE_MIN_COSINE``. The encoder's ``info`` records the
    choice, the probe size, the smallest cosine and why other candidates were passed over.
    """
    reference = build("torch", model, batch_size)
    if model_device(model).type == "cuda" and order == AUTO_ORDER:
        order = CUDA_ORDER
    skipped = {}
    for name in order:
        try:
            candidate = build(name, model, batch_size, model_dir)
            cosine = gate(candidate, reference, probe_texts, prompt)
        except BackendUnavailable as exc:
            skipped[name] = str(exc)
            continue
        if cosine >= GATE_MIN_COSINE:
            candidate.info.update(chosen_by="auto", probe_texts=len(probe_texts), gate_min_cosine=cosine,
                                  skipped=skipped)
            return candidate
        skipped[name] = f"failed the accuracy gate (min cosine {cosine:.6f} < {GATE_MIN_COSINE})"
        logger.warning("encoder %s %s; trying the next one", name, skipped[name])
    for name, why in skipped.items():
        logger.warning("encoder %s not used: %s", name, why)
    reference.info.update(chosen_by="auto", skipped=skipped)
    return reference
