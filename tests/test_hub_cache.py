"""Hub presets load through the real hub code from a local Hugging Face cache, offline.

The hub is not reachable here, so the test lays out ``$HF_HOME/hub`` as ``huggingface_hub``
does (``models--intfloat--multilingual-e5-small/refs/main`` naming a snapshot folder) with
me5-small's files in it, sets ``HF_HUB_OFFLINE=1`` and loads the ``e5-small`` preset in a
fresh process (the cache location is read when ``huggingface_hub`` is imported).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures_open import lay_out_hub_cache

from hybridir_core.models.registry import ensure_built, load_model

REVISION = "0123456789abcdef0123456789abcdef01234567"
LOAD = """
import json
from hybridir_core.models.registry import load_model
m = load_model("e5-small", device="cpu")
emb = m.model.encode(["How tall is the tower?"], prompt_name="query", normalize_embeddings=True)
print(json.dumps({**m.record(), "embedding": emb[0].tolist()}))
"""


def hub_cache(home: Path, source: Path) -> Path:
    return lay_out_hub_cache(home, "intfloat/multilingual-e5-small", source, REVISION)


def load_offline(home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow  # loads me5-small twice
def test_e5_small_preset_loads_from_the_local_hub_cache(tmp_path):
    source = ensure_built("me5-small")
    snapshot = hub_cache(tmp_path / "hf", source)
    done = load_offline(tmp_path / "hf")
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["source"] == "hub" and record["hub_id"] == "intfloat/multilingual-e5-small"
    assert record["revision"] == REVISION and Path(record["local_dir"]) == snapshot
    expected = load_model("me5-small", device="cpu").model.encode(
        ["query: How tall is the tower?"], normalize_embeddings=True)[0]
    assert np.allclose(record["embedding"], expected, atol=1e-5)  # the query prompt was applied


def test_an_empty_cache_fails_in_one_line_naming_the_offline_models(tmp_path):
    done = load_offline(tmp_path / "empty")
    assert done.returncode != 0
    assert "not in the local cache" in done.stderr and "me5-small" in done.stderr
