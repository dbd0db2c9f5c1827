"""``--report-to``: logs under <run>/logs/ that survive checkpoint cleanup, named after the run id,
with the study's settings as hyperparameters and the final metrics of metrics.json."""

import dataclasses
import json

import pytest
from test_train import CONFIG, base_model, corpus, fresh  # noqa: F401  (module fixtures)

from hybridir_core import cli
from hybridir_core.config import EvalConfig
from hybridir_core.jobs.pipeline import train_and_evaluate
from hybridir_core.runs import directory as runs
from hybridir_core.training import tracking


def _read(folder):
    """(last value of each scalar tag, hparams of the session) of every event file under ``folder``."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    scalars, hparams = {}, {}
    for path in sorted({p.parent for p in folder.rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        scalars.update({tag: acc.Scalars(tag)[-1].value for tag in acc.Tags().get("scalars", [])})
        contents = acc.PluginTagToContent("hparams") if _has_hparams(acc) else {}
        for content in contents.values():
            data = plugin_data_pb2.HParamsPluginData.FromString(content)
            if data.HasField("session_start_info"):
                hparams.update({k: getattr(v, v.WhichOneof("kind"))
                                for k, v in data.session_start_info.hparams.items()})
    return scalars, hparams


def _has_hparams(acc) -> bool:
    try:
        acc.PluginTagToContent("hparams")
    except KeyError:
        return False
    return True


def test_a_four_step_run_keeps_tensorboard_logs_with_alpha_and_final_multi(
        base_model, corpus, tmp_path, monkeypatch):  # noqa: F811
    pytest.importorskip("tensorboard")
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    run_dir = tmp_path / "minilm_hybrid-a0.5_s5"
    config = dataclasses.replace(CONFIG, steps=4, keep_checkpoints=False, report_to=("tensorboard",))
    evaluation = EvalConfig(model="minilm", datasets=("xquad-r",), languages=("de", "en"), limit_per_lang=10)
    train_and_evaluate(run_dir, config, evaluation, corpus=corpus, model=fresh(base_model))
    assert not (run_dir / "checkpoints").exists() and (run_dir / "logs" / "tensorboard").is_dir()
    scalars, hparams = _read(run_dir / "logs")
    metrics = json.loads((run_dir / runs.METRICS).read_text())
    assert scalars["final/xquad-r/multi_map"] == pytest.approx(metrics["datasets"]["xquad-r"]["multi_map"], abs=1e-6)
    assert any(t.endswith("loss") for t in scalars)  # the trainer's own curves are kept too
    assert (hparams["alpha"], hparams["sampling"], hparams["seed"]) == (0.5, "hybrid", 5)
    assert (hparams["model"], hparams["corpus"]) == ("minilm", "xnli")


@pytest.mark.parametrize("choice, words", [("comet", "not supported"), ("wandb", "not installed")])
def test_an_unsupported_tracker_fails_before_training(choice, words, tmp_path, capsys):
    if choice == "wandb" and tracking.importlib.util.find_spec("wandb"):
        pytest.skip("wandb is installed here")
    code = cli.main(["train", "--model", "minilm", "--report-to", choice, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_none_means_no_tracker():
    assert tracking.check_report_to(["none"]) == ()
