"""estimate: a job's expected time from the rates finished runs record (hand-built runs)."""

import json
from pathlib import Path

import pandas as pd
import pytest

from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.jobs import estimate
from hybridir_core.runs.directory import Run

REPO = Path(__file__).resolve().parent.parent


def fake_run(model: str, layers: int, wall: float | None, encode: float, reference: bool = False,
             limit: int | None = None, precision: str = "fp32") -> Run:
    """A run of ``model`` that trained 100 steps of 10 pairs in ``wall`` s (None: zero-shot) and
    spent ``encode`` s encoding and scoring MLQA-R."""
    train = None if wall is None else {"precision": precision, "seed": 0}
    stats = None if wall is None else {"wall_seconds": wall, "steps": 100, "batch_size": 10}
    config = {"model": {"name": model, "layers": layers}, "eval": {"limit_per_lang": limit}, "train": train}
    metrics = {"mlqa-r": {"encode_seconds": encode, "metrics_seconds": 0.0}}
    return Run(Path(f"/nowhere/{model}-{wall}-{reference}"), config, metrics, pd.DataFrame(), stats, reference)


TEXTS = sum(estimate.DATASET_TEXTS["mlqa-r"])


def job(model: str = "m", steps: int | None = 200, limit: int | None = None) -> JobConfig:
    evaluation = EvalConfig(model=model, datasets=("mlqa-r",), limit_per_lang=limit)
    if steps is None:
        return JobConfig("evaluate", evaluation)
    sampling = SamplingConfig("hybrid", 0.5)
    return JobConfig("train", evaluation, TrainConfig(model=model, corpus="xquad", sampling=sampling, steps=steps,
                                                     batch_size=32))


def test_training_and_evaluation_follow_the_measured_rates():
    found = [fake_run("m", 2, wall=100.0, encode=TEXTS * 0.001)]  # 0.1 s per pair, 1 ms per text
    guess = estimate.estimate(job(), found, layers=2)
    assert guess.phases["training"] == pytest.approx(0.1 * 200 * 32)
    assert guess.phases["evaluation"] == pytest.approx(TEXTS * 0.001)
    assert guess.seconds == pytest.approx(640 + TEXTS * 0.001 + estimate.OVERHEAD_S)
    assert not guess.rough and "measured on this machine (1 run of m)" in guess.basis


def test_this_machine_first_then_the_shipped_runs_by_median():
    shipped = [fake_run("m", 2, wall=w, encode=1.0, reference=True) for w in (100.0, 300.0, 500.0)]
    assert estimate.estimate(job(), shipped, 2).phases["training"] == pytest.approx(0.3 * 6400)
    assert "shipped runs' machines (3 runs of m)" in estimate.estimate(job(), shipped, 2).basis
    local = fake_run("m", 2, wall=50.0, encode=1.0)
    assert estimate.estimate(job(), [*shipped, local], 2).phases["training"] == pytest.approx(0.05 * 6400)


def test_an_unmeasured_model_is_scaled_by_layers_and_said_rough():
    guess = estimate.estimate(job("deep"), [fake_run("m", 2, wall=100.0, encode=TEXTS * 0.001)], layers=6)
    assert guess.phases["training"] == pytest.approx(0.3 * 6400) and guess.rough
    assert "rough: m's rate scaled to 6 layers" in guess.basis
    nothing = estimate.estimate(job("deep"), [], layers=4)
    assert nothing.phases["training"] == pytest.approx(estimate.ROUGH_TRAIN_S_PER_PAIR_LAYER * 4 * 6400)
    assert nothing.rough and "no comparable run" in nothing.basis


def test_quick_mode_encodes_fewer_questions_and_a_build_adds_its_time():
    found = [fake_run("m", 2, wall=None, encode=TEXTS * 0.001)]
    full = estimate.estimate(job(steps=None), found, 2)
    quick = estimate.estimate(job(steps=None, limit=50), found, 2, build_s=120.0)
    questions, candidates = estimate.DATASET_TEXTS["mlqa-r"]
    assert quick.phases["evaluation"] == pytest.approx((50 * 7 + candidates) * 0.001)
    assert quick.phases["build the model"] == 120.0 and "training" not in full.phases


def test_bf16_runs_do_not_set_the_rate_of_an_fp32_job():
    found = [fake_run("m", 2, wall=10.0, encode=1.0, precision="bf16"), fake_run("m", 2, wall=100.0, encode=1.0)]
    assert estimate.estimate(job(), found, 2).phases["training"] == pytest.approx(0.1 * 6400)


def test_dataset_sizes_are_the_shipped_runs():
    shipped = json.loads((REPO / "results" / "ladder" / "zs-me5-small" / "metrics.json").read_text())["datasets"]
    for dataset, (questions, candidates) in estimate.DATASET_TEXTS.items():
        assert (shipped[dataset]["n_questions"], shipped[dataset]["n_candidates"]) == (questions, candidates)


def test_build_seconds_reads_a_card(tmp_path):
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"wall_seconds": 544.9}))
    assert estimate.build_seconds(card) == 544.9 and estimate.build_seconds(tmp_path / "none.json") is None
