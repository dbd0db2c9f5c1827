"""A run's identity is its protocol (``vocabulary.fingerprint``): every field that changes a run's
numbers separates runs, the shipped runs keep their ids, and sweeps and evaluations use it."""

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from hybridir_core import cli
from hybridir_core.cli.options import job_from_args
from hybridir_core.config import STUDY_TRAIN, EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.jobs import pipeline
from hybridir_core.runs import directory as runs
from hybridir_core.runs import protocol as vocabulary

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = json.loads((Path(__file__).parent / "shipped_protocol_ids.json").read_text())


def _config(train: TrainConfig | None = TrainConfig(), evaluation: EvalConfig = EvalConfig(), **extra) -> dict:
    return {"model": {"name": "m"}, "eval": evaluation.to_dict(),
            "train": train.to_dict() if train is not None else None, **extra}


def _id(config: dict) -> str:
    return vocabulary.protocol_id(vocabulary.fingerprint(config))


def test_every_shipped_run_keeps_its_protocol_id():
    """The study's grouping never splits: fields added later are left out at the value those runs had."""
    for path, expected in SHIPPED.items():
        run = runs.load_run(ROOT / path, reference=True)
        assert vocabulary.protocol_id(vocabulary.protocol_of(run)) == expected, path
    assert len(SHIPPED) == sum(1 for root in ("reference", "ladder", "earlier-xnli-protocol", "static")
                               for p in (ROOT / "results" / root).iterdir() if (p / runs.CONFIG).is_file())


@pytest.mark.parametrize("field, value", [
    ("gather_across_devices", True), ("hf_item_column", "id"), ("processes", 4),
    ("gradient_accumulation_steps", 2), ("learning_rate", 1e-4), ("corpus", "xquad"), ("batch_size", 16),
    ("precision", "bf16"), ("steps", 300), ("languages", ["en", "de"]), ("mnrl_scale", 30.0),
    ("max_seq_length", 64), ("freeze_embeddings", False), ("validation_items", 0), ("limit_items", 5),
    ("early_stopping_patience", 2), ("xnli_pairs", "all"), ("warmup_ratio", 0.2), ("weight_decay", 0.0),
])
def test_each_training_field_separates_runs(field, value):
    base = _config()
    changed = _config()
    changed["train"][field] = value
    assert _id(changed) != _id(base)
    assert vocabulary.differing_fields(vocabulary.fingerprint(base), vocabulary.fingerprint(changed)) == \
        [f"train.{field}"] or field == "early_stopping_patience"


def test_neutral_values_keep_the_id_and_cadence_counts_only_under_early_stopping():
    base = _config()
    neutral = _config()
    neutral["train"].update(processes=1, gradient_accumulation_steps=1, gather_across_devices=False)
    assert _id(neutral) == _id(base)
    cadence = _config()
    cadence["train"]["eval_steps"] = 10
    assert _id(cadence) == _id(base)  # without early stopping the validation cadence changes nothing
    stopping = [_config(TrainConfig(early_stopping_patience=2, eval_steps=e)) for e in (10, 50)]
    assert _id(stopping[0]) != _id(stopping[1])


@pytest.mark.parametrize("field, value", [
    ("datasets", ["mlqa-r"]), ("languages", ["de", "en"]), ("limit_per_lang", 20), ("with_context", True),
    ("backend", "int8"),
])
def test_each_evaluation_field_separates_runs(field, value):
    changed = _config(None)
    changed["eval"][field] = value
    assert _id(changed) != _id(_config(None))


def test_languages_are_a_set():
    ids = {_id(_config(None, EvalConfig(languages=langs))) for langs in (("en", "de"), ("de", "en"))}
    assert len(ids) == 1


def test_zero_shot_weights_count_unless_they_are_the_studys_build():
    def zero_shot(weights):
        return {**_config(None), "model": {"name": "me5-small-d2", "weights": weights}}
    study = vocabulary.STUDY_WEIGHTS["me5-small-d2"]
    assert _id(zero_shot(study)) == _id(zero_shot(None)) != _id(zero_shot("ffff0000ffff0000"))
    label = vocabulary.evaluation_label(vocabulary.fingerprint(zero_shot("ffff0000ffff0000"))["eval"])
    assert label == "weights ffff0000"


def test_a_fine_tuned_model_evaluated_later_is_labelled_as_trained(tmp_path):
    train = TrainConfig(model="me5-small-d2", corpus="xquad", sampling=SamplingConfig("mono"), seed=2).to_dict()
    evaluated = _config(None, model_provenance={"run_id": "x", "train": train, "base_model": {"weights": "ab"}})
    run = runs.Run(tmp_path, evaluated, {}, pd.DataFrame())
    described = vocabulary.run_info(run)
    assert (described["sampling"], described["seed"]) == ("mono", 2)
    assert described["trained_on"].startswith("xquad · 200 steps")
    trained_run = _config(TrainConfig.from_dict(train), base_model={"weights": "ab"})
    assert _id(evaluated) == _id(trained_run)  # the same training and evaluation: the same protocol


def _trained_model(tmp_path: Path, corpus: str = "xquad") -> Path:
    model_dir = tmp_path / "run" / "model"
    model_dir.mkdir(parents=True)
    runs.write_training_card(model_dir, {"run_id": "run", "train": TrainConfig(corpus=corpus).to_dict()})
    return model_dir


def test_in_sample_evaluation_is_refused_unless_allowed(tmp_path):
    model = str(_trained_model(tmp_path))
    with pytest.raises(ValueError, match=r"in-sample.*--allow-in-sample"):
        pipeline.provenance_record(EvalConfig(model=model, datasets=("xquad-r",)))
    assert "in_sample" not in pipeline.provenance_record(EvalConfig(model=model, datasets=("mlqa-r",)))
    allowed = pipeline.provenance_record(EvalConfig(model=model, datasets=("xquad-r",), allow_in_sample=True))
    assert allowed["in_sample"] is True
    assert "IN-SAMPLE" in vocabulary.evaluation_label(vocabulary.fingerprint(_config(None, **allowed))["eval"])


def test_in_sample_guard_reads_the_run_config_of_older_models(tmp_path):
    model_dir = tmp_path / "old" / "model"
    model_dir.mkdir(parents=True)
    runs.write_json(model_dir.parent / runs.CONFIG, _config(TrainConfig(corpus="xquad")))
    assert runs.model_provenance(model_dir)["train"]["corpus"] == "xquad"
    assert runs.model_provenance("me5-small") is None


def test_cli_refuses_in_sample_evaluation_in_one_line(tmp_path, capsys):
    model = _trained_model(tmp_path)
    code = cli.main(["evaluate", "--model", str(model), "--dataset", "xquad-r", "--out", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "in-sample" in err


def _complete(run_dir: Path, job: JobConfig) -> None:
    run_dir.mkdir(parents=True)
    runs.write_json(run_dir / runs.CONFIG, vocabulary.job_record(job))
    for name in (runs.METRICS, runs.MATRIX, runs.RANKS):
        (run_dir / name).write_text("x")


def test_sweep_stops_before_any_work_naming_the_differing_field(tmp_path):
    base = JobConfig("train", EvalConfig(model="m", datasets=("mlqa-r",)),
                     dataclasses.replace(STUDY_TRAIN, model="m"))
    cells = pipeline.sweep_grid(base, ["m"], ["mono", "cross"], [0.5], [0], [200])
    old = dataclasses.replace(cells[1].job, train=dataclasses.replace(cells[1].job.train, learning_rate=3e-5))
    _complete(tmp_path / cells[1].run_id, old)
    new = [dataclasses.replace(c, job=dataclasses.replace(c.job, train=dataclasses.replace(
        c.job.train, learning_rate=1e-4))) for c in cells]
    ran = []
    with pytest.raises(ValueError, match=r"m_cross_s0: train.learning_rate 3e-05 there, 0.0001 asked") as info:
        pipeline.run_sweep(new, tmp_path, runner=lambda d, j: ran.append(d) or 0)
    assert ran == [] and "\n" not in str(info.value)  # the first (incomplete) cell was not run either
    assert pipeline.run_sweep(cells, tmp_path, runner=lambda d, j: ran.append(d) or 0) == (["m_cross_s0"], [])


def test_train_without_options_is_the_study():
    job = job_from_args(cli.build_parser().parse_args(["train", "--out", "runs/x"]))
    assert job.train.model == "me5-small" and job.train.corpus == "xquad"
    assert (job.train.steps, job.train.batch_size, job.train.learning_rate) == (200, 32, 3e-5)
    assert job.eval.datasets == ("mlqa-r",) and job.eval.limit_per_lang is None
    sweep = cli.build_parser().parse_args(["sweep"])
    assert sweep.models == ["me5-small"] and sweep.corpus == "xquad" and sweep.dataset == "mlqa-r"


def test_the_onnx_cache_key_covers_weights_and_architecture():
    pytest.importorskip("onnxruntime")
    from transformers import BertConfig, BertModel

    from hybridir_core.models.encoders import onnx_key

    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16)
    model = BertModel(config)
    other_heads = BertModel(BertConfig(**{**config.to_dict(), "num_attention_heads": 4}))
    other_heads.load_state_dict(model.state_dict())  # the same weights, read with other heads
    moved = BertModel(config)
    moved.load_state_dict(model.state_dict())
    moved.config._name_or_path = "/elsewhere"
    assert onnx_key(model) == onnx_key(moved) != onnx_key(other_heads)
    with __import__("torch").no_grad():
        next(moved.parameters()).add_(1.0)
    assert onnx_key(moved) != onnx_key(model)
