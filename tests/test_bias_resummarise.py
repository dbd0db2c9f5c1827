"""Re-summarising a run from its ranks.parquet, on a tiny run written by the real pipeline."""

import json
import shutil
import zlib

import numpy as np
import pytest
from fixtures_runs import fixture_model

from hybridir_core.config import EvalConfig
from hybridir_core.evaluation import bias, evaluate
from hybridir_core.runs import directory as runs

CONFIG = EvalConfig(model="hashed", datasets=("xquad-r", "mlqa-r"), languages=("de", "en"),
                    limit_per_lang=6, chunk_size=16)


class HashedEncoder:
    """A fixed pseudo-random unit vector per text: cheap, deterministic, ranks spread out."""

    def get_sentence_embedding_dimension(self):
        return 8

    def encode(self, texts, **kwargs):
        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(8) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "hashed"
    loaded = fixture_model(HashedEncoder(), "hashed", params=0, layers=0, dim=8, scale="test")
    fresh = evaluate.run_evaluation(loaded, out, CONFIG)
    return out, fresh


def _age(path):
    """Turn metrics.json into what an older version wrote: query-level mean, no micro key."""
    payload = json.loads(path.read_text())
    for stored in payload["datasets"].values():
        stored["mean_rank_distance"] = stored.pop("mean_rank_distance_micro")
        stored["multi_map"] = -1.0
    path.write_text(json.dumps(payload))
    return payload


def test_resummarise_recomputes_aggregates_and_keeps_the_rest(tiny_run, tmp_path):
    source, fresh = tiny_run
    run_dir = tmp_path / "hashed"
    shutil.copytree(source, run_dir)
    old = _age(run_dir / runs.METRICS)
    new = evaluate.resummarise_run(run_dir)
    assert new == fresh  # every field, derived or kept, as the pipeline wrote it
    on_disk = runs.load_run(run_dir).metrics
    assert on_disk == new
    for name, stored in on_disk.items():
        for key in ("n_questions", "n_candidates", "encode_seconds", "metrics_seconds", "n_skipped"):
            assert stored[key] == old["datasets"][name][key]
        again = bias.rank_distance_summary(runs.read_ranks(run_dir).query("dataset == @name"))
        assert stored["mean_rank_distance"] == pytest.approx(again["mean_rank_distance"])
    assert not list(run_dir.glob(".*.tmp"))


def test_macro_and_micro_differ_on_unbalanced_languages(tiny_run):
    _, fresh = tiny_run
    # quick mode on MLQA-R keeps every English copy of a kept id: en outnumbers de
    mlqa = fresh["mlqa-r"]
    assert mlqa["mean_rank_distance"] != pytest.approx(mlqa["mean_rank_distance_micro"])


def test_resummarise_refuses_ranks_that_disagree_with_counts(tiny_run, tmp_path):
    source, _ = tiny_run
    run_dir = tmp_path / "hashed"
    shutil.copytree(source, run_dir)
    payload = json.loads((run_dir / runs.METRICS).read_text())
    payload["datasets"]["xquad-r"]["n_questions"] += 1
    (run_dir / runs.METRICS).write_text(json.dumps(payload))
    with pytest.raises(runs.RunError, match="xquad-r has"):
        evaluate.resummarise_run(run_dir)
    assert json.loads((run_dir / runs.METRICS).read_text()) == payload
