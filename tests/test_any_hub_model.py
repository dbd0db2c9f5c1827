"""Any sentence-transformers hub id, offline from a local Hugging Face cache laid out from me5-small.

The cache (``$HF_HOME/hub/models--<owner>--<name>/snapshots/<commit>``, ``refs/main``) holds
me5-small's files under a hub id that is no preset, so the id goes through the generic hub path.
It must give exactly the preset's metrics (same weights, the model's own prompts) and record
the hub id, the snapshot commit and the prompts in ``config.json``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from fixtures_open import lay_out_hub_cache

from hybridir_core.models.registry import ensure_built, load_model
from hybridir_core.paths import REPO_ROOT

HUB_ID = "hybridir-test/me5-small-copy"
COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
BEIR = Path(__file__).parent / "data" / "tiny-beir"


def lay_out_cache(home: Path, hub_id: str, source: Path) -> Path:
    return lay_out_hub_cache(home, hub_id, source, COMMIT)


def evaluate_cli(home: Path, model: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-m", "hybridir_core", "evaluate", "--model", model, "--dataset", str(BEIR),
                           "--backend", "torch", "--out", str(out), *extra],
                          capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf")
    lay_out_cache(home, HUB_ID, ensure_built("me5-small"))
    return home


@pytest.mark.slow  # two full XQuAD-R evaluations
def test_hub_id_gives_the_preset_metrics_and_records_its_commit(home, tmp_path):
    for model, out in ((HUB_ID, tmp_path / "hub"), ("me5-small", tmp_path / "preset")):
        done = evaluate_cli(home, model, out)
        assert done.returncode == 0, done.stderr[-2000:]
    hub, preset = (pd.read_csv(tmp_path / name / "matrix.csv") for name in ("hub", "preset"))
    pd.testing.assert_frame_equal(hub, preset, check_exact=True)
    multi = hub.loc[hub.candidate_lang == "multi", "map"]
    assert multi.gt(0.5).all() and multi.lt(1).any()  # not a trivial ranking: a prompt change would show
    record = json.loads((tmp_path / "hub" / "config.json").read_text())["model"]
    assert record["source"] == "hub" and record["hub_id"] == HUB_ID and record["revision"] == COMMIT
    assert (record["query_prompt"], record["passage_prompt"], record["trust_remote_code"]) == ("query: ", "passage: ",
                                                                                                False)


def test_a_hub_id_missing_offline_fails_in_one_line_naming_the_cache_folder(home, tmp_path):
    done = evaluate_cli(home, "nobody/missing-model", tmp_path / "run")
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert done.returncode != 0 and "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert f"{home}/hub/models--nobody--missing-model/snapshots" in lines[0]


def test_prompts_given_replace_the_models_own_and_are_recorded():
    loaded = load_model("me5-small", device="cpu", query_prompt="Q: ", passage_prompt="")
    record = loaded.record()
    assert (record["query_prompt"], record["passage_prompt"]) == ("Q: ", "")
    assert load_model("me5-small", device="cpu").record()["query_prompt"] == "query: "
