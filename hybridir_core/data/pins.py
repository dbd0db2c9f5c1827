"""Whether the built-in data files a run reads are the pinned ones.

``xquad-r`` or ``mlqa-r`` names a dataset, not its bytes: an edited copy under the same name
would pool with runs on the published files. Each built-in file a run reads is hashed (about
30 ms for all of MLQA-R) and compared with its sha256 in ``data/manifest.json``; the files that
differ (``{"mlqa-r/en.json": sha256}``) are recorded in the run's ``config.json`` and enter its
fingerprint, so such a run is another protocol, never a silent mix. A folder dataset is named by
its content already (``folders.dataset_name``). XNLI's tsv files are converted locally from a
zip that has no pinned sha256 upstream, so they are not compared.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

from hybridir_core.data.fetch import MANIFEST, sha256_of


@functools.cache
def pinned_digests(manifest: Path = MANIFEST) -> dict[str, str]:
    """``{relative path: sha256}`` of every file the manifest pins."""
    files = json.loads(Path(manifest).read_text(encoding="utf-8"))["fetch"]["files"]
    return {path: entry["sha256"] for path, entry in files.items() if entry.get("sha256")}


def unpinned(root: Path, relative_paths: Iterable[str]) -> dict[str, str]:
    """The files under ``root`` whose sha256 is not their pinned one: ``{relative path: sha256}``.

    Files the manifest does not pin, and missing files (their loader says so), are skipped.
    """
    pins = pinned_digests()
    out = {}
    for rel in sorted(set(relative_paths)):
        path = Path(root) / rel
        if rel in pins and path.is_file():
            digest = file_digest(path)
            if digest != pins[rel]:
                out[rel] = digest
    return out


def file_digest(path: Path) -> str:
    """sha256 of a file, computed once per (path, size, modification time) in a process: a load
    checks its files against SHA256SUMS and the pins, and sweeps ask again for every cell."""
    stat = Path(path).stat()
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of(Path(path))


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, once per (path, size, modification time) in a process (sweeps ask often)."""
    return sha256_of(Path(path))


def tatoeba_files(root: Path) -> list[str]:
    """The Tatoeba files under ``root`` that the manifest pins (the loader reads a subset)."""
    return [rel for rel in pinned_digests() if rel.startswith("tatoeba/") and (Path(root) / rel).is_file()]

