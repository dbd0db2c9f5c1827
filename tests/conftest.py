"""Shared test set-up: one model cache for the whole session (built once by scripts/setup.sh)."""

import os
from pathlib import Path

os.environ.setdefault("HYBRIDIR_MODEL_CACHE", str(Path.home() / ".cache" / "hybridir" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
