"""Where things live: the repository, the data folders, the run folders.

One resolver for every dataset (LAReQA files, XNLI, Tatoeba) so that the documented order
holds everywhere: ``--data-dir``, ``$HYBRIDIR_DATA_DIR``, ``data/`` in the repository,
``../shared/datasets`` beside the checkout. A folder the user names is authoritative: it is
searched alone, so files from two places are never mixed silently.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "HYBRIDIR_DATA_DIR"
RUNS_DIR_ENV = "HYBRIDIR_RUNS_DIR"
REFERENCE_DIR_ENV = "HYBRIDIR_REFERENCE_DIR"
DEFAULT_DATA_ROOTS = (REPO_ROOT / "data", REPO_ROOT.parent / "shared" / "datasets")


def data_roots(explicit: str | Path | None = None) -> list[Path]:
    """The folders to search for datasets, in order.

    Raises:
        FileNotFoundError: ``explicit`` or ``$HYBRIDIR_DATA_DIR`` names a missing folder.
    """
    for value, what in ((explicit, "data directory"), (os.environ.get(DATA_DIR_ENV), DATA_DIR_ENV)):
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(f"{path}: {what} does not exist")
            return [path]
    return list(DEFAULT_DATA_ROOTS)


def user_chose_data_dir(explicit: str | Path | None = None) -> bool:
    """True when ``explicit`` or ``$HYBRIDIR_DATA_DIR`` names the data folder."""
    return bool(explicit or os.environ.get(DATA_DIR_ENV))


def find_data(relative: str, explicit: str | Path | None = None) -> Path | None:
    """The first data root holding ``relative`` (a file or folder), else None."""
    for root in data_roots(explicit):
        if (root / relative).exists():
            return root
    return None


def cache_root() -> Path:
    """hybridir's own cache outside the repository: ``$XDG_CACHE_HOME/hybridir`` or ``~/.cache/hybridir``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path("~/.cache").expanduser()) / "hybridir"


def runs_root() -> Path:
    """Where local runs live: ``$HYBRIDIR_RUNS_DIR``, else ``runs/`` in the repository."""
    env = os.environ.get(RUNS_DIR_ENV)
    return Path(env).expanduser() if env else REPO_ROOT / "runs"


def reference_root() -> Path:
    """The shipped reference runs: ``$HYBRIDIR_REFERENCE_DIR``, else ``results/reference/``."""
    env = os.environ.get(REFERENCE_DIR_ENV)
    return Path(env).expanduser() if env else REPO_ROOT / "results" / "reference"
