"""On-disk cache of a dataset's candidate embeddings for ``search`` (one file per model x data).

``search`` encodes the whole candidate pool before it can rank anything; the pool and the model
rarely change between two queries, so the embeddings are kept in
``~/.cache/hybridir/search/<model>-<dataset>-<key>.npy`` (``HYBRIDIR_SEARCH_CACHE`` moves it).
The key hashes the model's weight files (path, size, modification time: a rebuilt or retrained
model gets a new key without hashing its 470 MB) and the candidates (every text and language),
so a change to either makes a new file; the older file of that model and dataset is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

CACHE_ENV = "HYBRIDIR_SEARCH_CACHE"


def cache_root() -> Path:
    """Where the embeddings are kept (``$HYBRIDIR_SEARCH_CACHE``, else ~/.cache/hybridir/search)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "hybridir" / "search"


def model_signature(model_dir: Path | None, name: str) -> str:
    """The model's name and its weight files' relative paths, sizes and modification times."""
    if model_dir is None or not Path(model_dir).is_dir():
        return name
    parts = [name]
    for path in sorted(Path(model_dir).rglob("*")):
        if path.suffix in (".safetensors", ".bin", ".json") and path.is_file():
            stat = path.stat()
            parts.append(f"{path.relative_to(model_dir).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\n".join(parts)


def data_signature(texts: Sequence[str], langs: Sequence[str], prompt: str | None) -> str:
    """sha256 of the candidates (text and language, in order) and the passage prompt."""
    digest = hashlib.sha256((prompt or "").encode())
    for text, lang in zip(texts, langs, strict=True):
        digest.update(f"{lang}\t{text}\n".encode())
    return digest.hexdigest()


def cache_file(model_name: str, dataset: str, model_sig: str, data_sig: str) -> Path:
    """The file of these embeddings: readable prefix, content key."""
    key = hashlib.sha256(json.dumps([model_sig, dataset, data_sig]).encode()).hexdigest()[:16]
    return cache_root() / f"{_slug(model_name)}-{dataset}-{key}.npy"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "_", name).strip("_")[:80] or "model"


def cached_embeddings(path: Path, encode: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """The embeddings in ``path``, or ``encode()`` written there (atomically); and whether cached.

    A file that cannot be read (truncated, another shape of array) is encoded again.
    """
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False), True
        except (OSError, ValueError):
            pass
    vectors = np.ascontiguousarray(encode(), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    for older in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*.npy"):
        older.unlink(missing_ok=True)  # the same model and dataset with other weights or data
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        np.save(handle, vectors)
    os.replace(tmp, path)
    return vectors, False
