"""Fine-tuning with ``SentenceTransformerTrainer`` and language-aware batches, then evaluation.

``train_model`` trains a ``models.LoadedModel`` on a parallel corpus with
``MultipleNegativesRankingLoss`` (in-batch negatives), batches from
``sampling.LanguageBatchSampler``, the model's query/passage prompts, AdamW. It keeps
checkpoints in ``<run>/checkpoints`` (resumed after an interruption), can stop early on a
held-out validation loss, mirrors progress into ``status.json`` and writes the model to
``<run>/model`` and the realised batch composition to ``train_stats.json``.
``train_and_evaluate`` then evaluates that model into the same run directory.

Several GPUs: the same command under torchrun, e.g.
``torchrun --nproc_per_node 4 -m hybridir_core train --model me5-small-l6 --sampling hybrid
--out runs/x``. ``--batch-size`` is per process; the sampler reads ``WORLD_SIZE`` so that
all ranks share each step's batch type and language, and only rank 0 writes files.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import runs
from .config import EvalConfig, SamplingConfig, TrainConfig
from .corpora import ParallelCorpus, load_hf_parallel, load_tatoeba, load_xnli

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]

CHECKPOINTS, MODEL_DIR = "checkpoints", "model"
# Validation batches: per-pair mix (each batch half monolingual, half cross-lingual pairs,
# like LAReQA's multilingual pool) with a fixed seed, so the loss is comparable across
# evaluations, strategies and seeds.
VALIDATION_SAMPLING = SamplingConfig(strategy="hybrid", alpha=0.5, mix="per-pair")
VALIDATION_SEED = 0


# Options that do not change what is trained (a resumed run may change them).
_NOT_TRAINING = ("report_to", "keep_checkpoints", "resume", "logging_steps", "data_dir")
SETTINGS_FILE = "hybridir_train_config.json"


def _training_settings(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in config.to_dict().items() if k not in _NOT_TRAINING}


def _check_same_training(path: Path, config: TrainConfig) -> None:
    """Refuse to resume or reuse a training made with other settings."""
    if not path.is_file():
        return
    data = runs.read_json(path)
    recorded = _training_settings(TrainConfig.from_dict(data.get("train_config", data)))
    wanted = _training_settings(config)
    diff = sorted(k for k in wanted if recorded.get(k) != wanted[k])
    if diff:
        raise ValueError(f"{path.parent}: holds a training with other settings ({', '.join(diff)}); "
                         "use another --out, or --no-resume to start over")


@dataclasses.dataclass
class TrainResult:
    """The trained model (a ``LoadedModel`` whose ``local_dir`` is ``<run>/model``) and stats."""

    loaded: Any
    stats: dict[str, Any]


# -- corpora ----------------------------------------------------------------------------------
def build_corpus(config: TrainConfig) -> ParallelCorpus:
    """The training corpus of ``config`` (sources joined over the training languages)."""
    parts = []
    for source in config.corpus.split("+"):
        if source == "xnli":
            parts.append(load_xnli(config.data_dir, config.languages, limit_items=config.limit_items))
        elif source == "tatoeba":
            parts.append(load_tatoeba(config.data_dir, config.languages, limit_items=config.limit_items))
        else:
            parts.append(load_hf_parallel(
                config.hf_path, config.languages, config.hf_query_column, config.hf_passage_column,
                config=config.hf_config, data_files=config.hf_data_files, split=config.hf_split,
                item_column=config.hf_item_column, limit_items=config.limit_items,
            ))
    return parts[0] if len(parts) == 1 else ParallelCorpus.concat(parts, config.languages)


def split_corpus(corpus: ParallelCorpus, validation_items: int) -> tuple[ParallelCorpus, ParallelCorpus | None]:
    """Training and validation slices; validation items are drawn from the first source
    (XNLI by default: items present in every language), with a seed fixed across runs."""
    if validation_items == 0:
        return corpus, None
    first = corpus.source == corpus.source[0]
    _, held = corpus.subset(first).split(validation_items, seed=VALIDATION_SEED)
    in_val = first & np.isin(corpus.item, held.item)
    return corpus.subset(~in_val), corpus.subset(in_val)


# -- model helpers ----------------------------------------------------------------------------
def freeze_word_embeddings(model) -> int:
    """Freeze the input word-embedding matrix of the model's transformer; returns #params frozen.

    A static (model2vec) model has no transformer: nothing is frozen (its embeddings are
    the whole model) and a warning is logged.
    """
    from transformers import PreTrainedModel

    for module in model.modules():
        if isinstance(module, PreTrainedModel):
            embedding = module.get_input_embeddings()
            n = 0
            for param in embedding.parameters():
                param.requires_grad_(False)
                n += param.numel()
            return n
    logger.warning("no transformer in the model: word embeddings are not frozen")
    return 0


def set_max_seq_length(model, value: int | None) -> bool:
    """Truncate inputs to ``value`` tokens where the model has such a limit.

    A static (model2vec) model has none: its ``max_seq_length`` is a read-only property, and
    the call leaves it alone (returns False).
    """
    try:
        model.max_seq_length = value
    except AttributeError:
        return False
    return True


def _replace(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` for dataclasses, ``_replace`` for named tuples."""
    if dataclasses.is_dataclass(obj):
        return dataclasses.replace(obj, **changes)
    return obj._replace(**changes)


def sampling_label(sampling: SamplingConfig) -> str:
    """Short name of a sampling configuration: ``mono``, ``cross``, ``hybrid-a0.5``, ``hybrid-pp-a0.5``."""
    if sampling.strategy in ("mono", "cross"):
        label = sampling.strategy
    else:
        label = f"hybrid{'-pp' if sampling.mix == 'per-pair' else ''}-a{sampling.alpha:g}"
    return label + ("-pb" if sampling.cross_pair_per_batch and sampling.strategy != "mono" else "")


def trained_model(base, model, model_dir: Path, config: TrainConfig, run_id: str):
    """A ``LoadedModel`` for the fine-tuned ``model`` saved in ``model_dir``.

    The spec keeps the base model's name (runs group by model and sampling: export and the
    dashboard read the sampling from the run's training configuration); source is ``local``.
    """
    label = sampling_label(config.sampling)
    spec = _replace(base.spec, source="local", hub_id=None,
                    description=f"{base.spec.name} fine-tuned on {config.corpus} ({label}, "
                                f"{config.steps} steps) in run {run_id}")
    return _replace(base, model=model, spec=spec, local_dir=model_dir)


def _spec_dict(loaded) -> dict[str, Any]:
    spec = loaded.spec
    return {"name": spec.name, "local_dir": str(loaded.local_dir), "source": spec.source,
            "params": spec.params, "layers": spec.layers, "dim": spec.dim, "scale": spec.scale}


# -- callbacks --------------------------------------------------------------------------------
def _callbacks():
    """Callback classes, built lazily so that importing this module stays light."""
    from transformers import TrainerCallback

    class StatusCallback(TrainerCallback):
        """Mirror training progress into ``status.json`` (phase "training", step, total, loss).

        Also times clean steps (no evaluation or checkpoint in between) for the throughput.
        """

        def __init__(self, status: runs.StatusWriter | None, min_interval: float = 1.0) -> None:
            self.status = status
            self.min_interval = min_interval
            self.last_write = 0.0
            self.loss: float | None = None
            self.eval_loss: float | None = None
            self.started = time.time()
            self._last_end: float | None = None
            self._last_dirty = True
            self.clean_seconds = 0.0
            self.clean_steps = 0

        def _write(self, state, force: bool = False, **extra: Any) -> None:
            now = time.time()
            if self.status is None or not state.is_world_process_zero:
                return
            if force or now - self.last_write >= self.min_interval:
                self.status.update(state="running", phase="training", step=state.global_step,
                                   total=state.max_steps, loss=self.loss, eval_loss=self.eval_loss,
                                   phase_started=self.started, **extra)
                self.last_write = now

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.time()
            self._write(state, force=True, message="training")

        def on_step_end(self, args, state, control, **kwargs):
            now = time.time()
            if self._last_end is not None and not self._last_dirty:
                self.clean_seconds += now - self._last_end
                self.clean_steps += 1
            self._last_end = now
            # DefaultFlowCallback (first in the list) has already decided this step's work
            self._last_dirty = bool(control.should_evaluate or control.should_save)
            self._write(state)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" in logs:
                self.loss = float(logs["loss"])
            if "eval_loss" in logs:
                self.eval_loss = float(logs["eval_loss"])

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metrics and "eval_loss" in metrics:
                self.eval_loss = float(metrics["eval_loss"])
            self._write(state, force=True, message=f"validation loss {self.eval_loss:.4f}"
                        if self.eval_loss is not None else "")

        def on_train_end(self, args, state, control, **kwargs):
            self._write(state, force=True, message="training finished")

    class SamplerEpochCallback(TrainerCallback):
        """Set the sampler's epoch at each epoch start.

        The trainer does it too, except when resuming under DDP, where accelerate's skip
        wrapper hides the sampler; ``floor(state.epoch)`` is the epoch about to run.
        """

        def __init__(self, samplers: dict) -> None:
            self.samplers = samplers

        def on_epoch_begin(self, args, state, control, **kwargs):
            sampler = self.samplers.get("train")
            if sampler is not None:
                sampler.set_epoch(int((state.epoch or 0.0) + 1e-9))

    return StatusCallback, SamplerEpochCallback


# -- training ---------------------------------------------------------------------------------
def train_model(
    model,
    run_dir: Path,
    config: TrainConfig,
    status: runs.StatusWriter | None = None,
    corpus: ParallelCorpus | None = None,
    callbacks: list | None = None,
) -> TrainResult:
    """Fine-tune ``model`` (registry name, path or ``LoadedModel``) into ``run_dir``.

    Args:
        model: the base model.
        run_dir: run directory; ``checkpoints/`` and ``model/`` go there.
        config: training options.
        status: where progress goes (default: a ``StatusWriter`` on ``run_dir``).
        corpus: a corpus to use instead of ``build_corpus(config)`` (tests).
        callbacks: extra ``transformers.TrainerCallback`` objects.

    Returns:
        The trained model and the ``train_stats.json`` payload (also written).

    Raises:
        ValueError: options that cannot work (batch larger than the corpus, ...).
    """
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import EarlyStoppingCallback
    from transformers.trainer_utils import get_last_checkpoint

    from .sampling import SamplerFactory, batches_consumed, composition, pair_dataset, world_size_from_env

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.early_stopping_patience and config.effective_save_steps % config.eval_steps:
        raise ValueError("with early stopping, save_steps must be a multiple of eval_steps")
    ckpt_dir = run_dir / CHECKPOINTS
    if not config.resume:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    _check_same_training(ckpt_dir / SETTINGS_FILE, config)
    base = _load(model)
    st_model = base.model
    if status is None:
        status = runs.StatusWriter(run_dir)
    status.update(state="running", phase="loading training data", step=0, total=1)

    corpus = corpus if corpus is not None else build_corpus(config)
    train_corpus, val_corpus = split_corpus(corpus, config.validation_items)
    world = world_size_from_env()
    if val_corpus is not None and len(set(val_corpus.item.tolist())) < config.batch_size * world:
        raise ValueError(f"validation_items={config.validation_items} is below batch_size x processes "
                         f"({config.batch_size * world}): raise it, or set it to 0")
    train_ds = pair_dataset(train_corpus)
    val_ds = pair_dataset(val_corpus) if val_corpus is not None else None
    roles = {id(train_ds): ("train", train_corpus, config.sampling, None)}
    if val_ds is not None:
        roles[id(val_ds)] = ("validation", val_corpus, VALIDATION_SAMPLING, VALIDATION_SEED)
    factory = SamplerFactory(roles, world)
    samplers = factory.created

    frozen = freeze_word_embeddings(st_model) if config.freeze_embeddings else 0
    trainable = sum(p.numel() for p in st_model.parameters() if p.requires_grad)
    if trainable == 0:
        raise ValueError("no trainable parameters left (freeze_embeddings on a static model?)")
    original_max_len = st_model.max_seq_length
    set_max_seq_length(st_model, config.max_seq_length)

    prompts = {col: p for col, p in (("query", base.spec.query_prompt),
                                     ("passage", base.spec.passage_prompt)) if p}
    early = config.early_stopping_patience is not None
    args = SentenceTransformerTrainingArguments(
        output_dir=str(ckpt_dir),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio (transformers 5)
        optim="adamw_torch",
        seed=config.seed,
        batch_sampler=factory,
        prompts=prompts or None,
        eval_strategy="steps" if val_ds is not None else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.effective_save_steps,
        save_total_limit=2,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if val_ds is not None else None,
        greater_is_better=False,
        logging_steps=config.logging_steps,
        report_to=list(config.report_to) or "none",
        dataloader_drop_last=True,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )
    StatusCallback, SamplerEpochCallback = _callbacks()
    status_cb = StatusCallback(status)
    callbacks = [status_cb, SamplerEpochCallback(samplers), *(callbacks or [])]
    if early:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    loss = MultipleNegativesRankingLoss(st_model, scale=config.scale)
    trainer = SentenceTransformerTrainer(model=st_model, args=args, train_dataset=train_ds,
                                         eval_dataset=val_ds, loss=loss, callbacks=callbacks)

    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if trainer.is_world_process_zero():
        runs.write_json(ckpt_dir / SETTINGS_FILE, config.to_dict())
    if last:
        logger.info("resuming from %s", last)
    resumed_step = int(last.rsplit("-", 1)[-1]) if last else 0
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    wall = time.perf_counter() - started
    state = trainer.state
    evals = [h for h in state.log_history if "eval_loss" in h]
    final_eval = None
    if val_ds is not None:
        if evals and evals[-1]["step"] == state.global_step and not early:
            final_eval = evals[-1]["eval_loss"]
        else:  # the model at hand (the best checkpoint after early stopping)
            final_eval = trainer.evaluate()["eval_loss"]

    set_max_seq_length(st_model, original_max_len)
    grad_accum = args.gradient_accumulation_steps
    consumed = batches_consumed(samplers["train"], state.global_step, grad_accum)
    pairs_per_step = config.batch_size * world * grad_accum
    steps_now = state.global_step - resumed_step
    losses = [{"step": h["step"], "loss": h["loss"]} for h in state.log_history if "loss" in h]
    evals = [{"step": h["step"], "eval_loss": h["eval_loss"]} for h in evals]
    stats = {
        "schema_version": runs.SCHEMA_VERSION,
        "run_id": run_dir.name,
        "train_config": config.to_dict(),
        "base_model": base.spec.name,
        "corpus": {
            "name": corpus.name, "languages": list(corpus.languages),
            "train_pairs": len(train_corpus), "train_items": train_corpus.n_items,
            "validation_pairs": len(val_corpus) if val_corpus is not None else 0,
            "validation_items": val_corpus.n_items if val_corpus is not None else 0,
        },
        "sampling": config.sampling.to_dict(),
        "composition": composition(consumed),
        "steps": state.global_step,
        "max_steps": config.steps,
        "stopped_early": state.global_step < config.steps,
        "epochs": round(float(state.epoch or 0.0), 4),
        "batch_size": config.batch_size,
        "world_size": world,
        "gradient_accumulation_steps": grad_accum,
        "resumed_from_step": resumed_step or None,
        "wall_seconds": round(wall, 2),
        "steps_this_session": steps_now,
        "pairs_per_second": round(steps_now * pairs_per_step / wall, 3) if wall > 0 and steps_now else None,
        "pairs_per_second_clean": (round(status_cb.clean_steps * pairs_per_step / status_cb.clean_seconds, 3)
                                   if status_cb.clean_seconds > 0 else None),
        "final_train_loss": losses[-1]["loss"] if losses else None,
        "final_validation_loss": final_eval,
        "best_validation_loss": state.best_metric,
        "best_checkpoint_step": (int(state.best_model_checkpoint.rsplit("-", 1)[-1])
                                 if state.best_model_checkpoint else None),
        "frozen_parameters": frozen,
        "trainable_parameters": trainable,
        "max_seq_length": config.max_seq_length,
        "device": str(st_model.device),
        "torch_threads": torch.get_num_threads(),
        "loss_history": losses,
        "validation_history": evals,
    }
    model_dir = run_dir / MODEL_DIR
    if trainer.is_world_process_zero():
        tmp = run_dir / f".{MODEL_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        st_model.save_pretrained(str(tmp))
        shutil.rmtree(model_dir, ignore_errors=True)
        os.replace(tmp, model_dir)
        runs.write_json(run_dir / runs.TRAIN_STATS, stats)
        if not config.keep_checkpoints:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
    for param in st_model.parameters():
        param.requires_grad_(True)
    return TrainResult(trained_model(base, st_model, model_dir, config, run_dir.name), stats)


def _load(model):
    if isinstance(model, (str, Path)):
        from .models import load_model

        return load_model(str(model))
    return model


def load_trained(run_dir: Path, config: TrainConfig, base=None) -> TrainResult | None:
    """A finished training of ``run_dir`` (``model/`` and ``train_stats.json``), else None."""
    run_dir = Path(run_dir)
    stats_path = run_dir / runs.TRAIN_STATS
    if not ((run_dir / MODEL_DIR).is_dir() and stats_path.is_file()):
        return None
    _check_same_training(stats_path, config)
    from sentence_transformers import SentenceTransformer

    base = _load(base if base is not None else config.model)
    model = SentenceTransformer(str(run_dir / MODEL_DIR), device=str(base.model.device))
    return TrainResult(trained_model(base, model, run_dir / MODEL_DIR, config, run_dir.name),
                       runs.read_json(stats_path))


def train_and_evaluate(
    model,
    run_dir: Path,
    config: TrainConfig,
    eval_config: EvalConfig,
    progress: Progress | None = None,
    corpus: ParallelCorpus | None = None,
) -> dict[str, Any]:
    """Train (or reuse a finished training in ``run_dir``), then evaluate into ``run_dir``.

    ``config.json`` records ``kind: "train"``, the training configuration, the seed and the
    base model. Returns the evaluation summaries per dataset (as ``run_evaluation``).
    """
    from .evaluate import run_evaluation

    run_dir = Path(run_dir)
    status = getattr(progress, "status", None) or runs.StatusWriter(run_dir)
    if progress:
        progress("building the model", 0, 1)
    base = _load(model)
    done = load_trained(run_dir, config, base) if config.resume else None
    if done is not None:
        logger.info("%s: training already finished, evaluating the saved model", run_dir)
        result = done
    else:
        result = train_model(base, run_dir, config, status=status, corpus=corpus)
    if int(os.environ.get("RANK", "0")) != 0:
        return {}
    extra = {"kind": "train", "train": config.to_dict(), "seed": config.seed,
             "base_model": _spec_dict(base)}
    eval_config = dataclasses.replace(eval_config, model=str(run_dir / MODEL_DIR))
    return run_evaluation(result.loaded, run_dir, eval_config, progress, extra_config=extra)


# -- CLI ----------------------------------------------------------------------------------------
def _add_train_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Options shared by ``train`` and ``sweep`` (``sweep`` forwards them to each run)."""
    d = TrainConfig()
    add = parser.add_argument
    return [
        add("--batch-size", type=int, default=d.batch_size, help="pairs per batch per process"),
        add("--mix", default="per-batch", choices=["per-batch", "per-pair"]),
        add("--cross-pair-per-batch", action="store_true",
            help="one (X, Y) language pair per cross-lingual batch"),
        add("--train-languages", nargs="+", default=list(d.languages),
            help="training languages (default: the paper's)"),
        add("--corpus", default=d.corpus, help="xnli, tatoeba, hf, or joined with '+'"),
        add("--limit-items", type=int, default=None, help="first N items per training source"),
        add("--hf-path", default=None, help="HF dataset name, local folder, or builder (json)"),
        add("--hf-config", default=None, help="config name; may contain {lang}"),
        add("--hf-data-files", default=None, help="data files; may contain {lang}"),
        add("--hf-split", default="train"),
        add("--hf-query-column", default=d.hf_query_column),
        add("--hf-passage-column", default=d.hf_passage_column),
        add("--hf-item-column", default=None),
        add("--lr", type=float, default=d.learning_rate),
        add("--weight-decay", type=float, default=d.weight_decay),
        add("--warmup-ratio", type=float, default=d.warmup_ratio),
        add("--scale", type=float, default=d.scale, help="MNRL scale (1 / temperature)"),
        add("--max-seq-length", type=int, default=d.max_seq_length),
        add("--freeze-embeddings", default="auto", choices=["auto", "on", "off"],
            help="freeze the word embeddings (auto: on without a GPU)"),
        add("--validation-items", type=int, default=d.validation_items),
        add("--eval-steps", type=int, default=d.eval_steps),
        add("--save-steps", type=int, default=None),
        add("--logging-steps", type=int, default=d.logging_steps),
        add("--early-stopping-patience", type=int, default=None),
        add("--report-to", nargs="+", default=[], help="tensorboard, mlflow, wandb ..."),
        add("--keep-checkpoints", action="store_true"),
        add("--no-resume", action="store_true", help="start over even if checkpoints exist"),
    ]


def _freeze_default(choice: str) -> bool:
    if choice != "auto":
        return choice == "on"
    import torch

    return not torch.cuda.is_available()


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        model=args.model, corpus=args.corpus, languages=tuple(args.train_languages),
        sampling=SamplingConfig(strategy=args.sampling, alpha=args.alpha, mix=args.mix,
                                cross_pair_per_batch=args.cross_pair_per_batch),
        steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
        weight_decay=args.weight_decay, warmup_ratio=args.warmup_ratio, scale=args.scale,
        max_seq_length=args.max_seq_length, freeze_embeddings=_freeze_default(args.freeze_embeddings),
        validation_items=args.validation_items, eval_steps=args.eval_steps,
        early_stopping_patience=args.early_stopping_patience, seed=args.seed,
        report_to=tuple(args.report_to), save_steps=args.save_steps, logging_steps=args.logging_steps,
        limit_items=args.limit_items, data_dir=args.data_dir, hf_path=args.hf_path,
        hf_config=args.hf_config, hf_data_files=args.hf_data_files, hf_split=args.hf_split,
        hf_query_column=args.hf_query_column, hf_passage_column=args.hf_passage_column,
        hf_item_column=args.hf_item_column, keep_checkpoints=args.keep_checkpoints,
        resume=not args.no_resume,
    )


def _cmd_train(args: argparse.Namespace, progress) -> None:
    from .cli import eval_config_from_args, print_summary

    config = train_config_from_args(args)
    eval_config = eval_config_from_args(args, config.model)
    summaries = train_and_evaluate(config.model, args.out, config, eval_config, progress)
    progress.close()
    if summaries:
        stats = runs.read_json(Path(args.out) / runs.TRAIN_STATS)
        comp = stats["composition"]
        print(f"trained {stats['steps']} steps in {stats['wall_seconds']:.0f}s "
              f"({stats['pairs_per_second']} pairs/s); batches mono={comp['mono_batches']} "
              f"cross={comp['cross_batches']} mixed={comp['mixed_batches']}; "
              f"train loss {stats['final_train_loss']}, validation loss {stats['final_validation_loss']}")
        print_summary(summaries)


def sweep_run_id(model: str, sampling: SamplingConfig, seed: int, steps: int | None = None) -> str:
    """``me5-small-l6_hybrid-a0.5_s0`` (``_n<steps>`` when a sweep has several step budgets)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", Path(model).name)
    run_id = f"{name}_{sampling_label(sampling)}_s{seed}" + (f"_n{steps}" if steps is not None else "")
    return runs.validate_run_id(run_id)


def sweep_grid(models, samplings, alphas, seeds, steps, mix="per-batch",
               cross_pair_per_batch=False) -> list[tuple[str, str, SamplingConfig, int, int]]:
    """``(run_id, model, sampling, seed, steps)`` of every run; alphas apply to ``hybrid`` only."""
    grid, ids = [], set()
    for model in models:
        for strategy in samplings:
            for alpha in (alphas if strategy == "hybrid" else [0.5]):
                sampling = SamplingConfig(strategy, alpha, mix, cross_pair_per_batch)
                for n_steps in steps:
                    for seed in seeds:
                        run_id = sweep_run_id(model, sampling, seed, n_steps if len(steps) > 1 else None)
                        if run_id not in ids:
                            ids.add(run_id)
                            grid.append((run_id, model, sampling, seed, n_steps))
    return grid


def _forward(args: argparse.Namespace, actions: list[argparse.Action]) -> list[str]:
    """Command-line words reproducing the non-default values of ``actions``."""
    words: list[str] = []
    for action in actions:
        value = getattr(args, action.dest)
        if value == action.default:
            continue
        flag = action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            words.append(flag)
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    return words


def _matches(run_dir: Path, model: str, sampling: SamplingConfig, seed: int, steps: int) -> str | None:
    """Why a complete run does not match the requested settings (None if it does)."""
    try:
        config = runs.read_json(run_dir / runs.CONFIG)
        train = TrainConfig.from_dict(config.get("train") or {})
    except (runs.RunError, ValueError, TypeError) as exc:
        return f"unreadable config ({exc})"
    want = (model, sampling.to_dict(), seed, steps)
    have = (train.model, train.sampling.to_dict(), train.seed, train.steps)
    return None if want == have else f"it holds {have}, the sweep asks for {want}"


def _cmd_sweep(args: argparse.Namespace, progress) -> None:
    out = Path(args.out)
    grid = sweep_grid(args.models, args.sampling, args.alphas, args.seeds, args.steps,
                      args.mix, args.cross_pair_per_batch)
    shared = _forward(args, args._forward_actions)
    failed, skipped = [], []
    for i, (run_id, model, sampling, seed, steps) in enumerate(grid, 1):
        run_dir = out / run_id
        if runs.is_complete(run_dir):
            why = _matches(run_dir, model, sampling, seed, steps)
            if why:
                raise ValueError(f"{run_dir} is complete but {why}; use another --out")
            print(f"[{i}/{len(grid)}] {run_id}: complete, skipped")
            skipped.append(run_id)
            continue
        cmd = [sys.executable, "-m", "hybridir_core", "train", "--model", model,
               "--sampling", sampling.strategy, "--alpha", str(sampling.alpha), "--seed", str(seed),
               "--steps", str(steps), *shared, "--out", str(run_dir)]
        print(f"[{i}/{len(grid)}] {run_id}: " + " ".join(cmd[3:]), flush=True)
        if args.dry_run:
            continue
        if subprocess.run(cmd).returncode != 0:
            failed.append(run_id)
    print(f"sweep: {len(grid)} runs, {len(skipped)} already complete, {len(failed)} failed")
    if failed:
        raise ValueError(f"{len(failed)} run(s) failed: {', '.join(failed)} (see their status.json / "
                         "error.log; rerun the sweep to retry them)")


def register_cli(subparsers) -> None:
    """Add ``train`` and ``sweep`` to ``python -m hybridir_core``."""
    from .cli import add_eval_options

    tr = subparsers.add_parser("train", help="fine-tune with mono/cross/hybrid batches, then evaluate")
    tr.add_argument("--model", default=TrainConfig.model, help="registry name or local ST directory")
    tr.add_argument("--sampling", default="hybrid", choices=["mono", "cross", "hybrid"])
    tr.add_argument("--alpha", type=float, default=0.5, help="P(monolingual) for hybrid")
    tr.add_argument("--steps", type=int, default=TrainConfig.steps)
    tr.add_argument("--seed", type=int, default=0)
    _add_train_options(tr)
    add_eval_options(tr)
    tr.add_argument("--out", required=True, type=Path, help="run directory, e.g. runs/my-run")
    tr.set_defaults(func=_cmd_train, writes_run=True)

    sw = subparsers.add_parser("sweep", help="a grid of train runs; complete runs are skipped")
    sw.add_argument("--models", nargs="+", default=[TrainConfig.model])
    sw.add_argument("--sampling", nargs="+", default=["mono", "cross", "hybrid"],
                    choices=["mono", "cross", "hybrid"])
    sw.add_argument("--alphas", nargs="+", type=float, default=[0.5], help="for hybrid")
    sw.add_argument("--seeds", nargs="+", type=int, default=[0])
    sw.add_argument("--steps", nargs="+", type=int, default=[TrainConfig.steps])
    before = list(sw._actions)
    actions = _add_train_options(sw)
    add_eval_options(sw)
    actions += [a for a in sw._actions if a not in before and a not in actions]
    sw.add_argument("--out", type=Path, default=Path("runs"), help="folder of run directories")
    sw.add_argument("--dry-run", action="store_true", help="print the runs, train nothing")
    # --mix / --cross-pair-per-batch are part of the run id; forwarded like the rest
    sw.set_defaults(func=_cmd_sweep, writes_run=False, _forward_actions=actions)


__all__ = [
    "TrainResult", "build_corpus", "split_corpus", "freeze_word_embeddings", "train_model",
    "train_and_evaluate", "load_trained", "sampling_label", "sweep_run_id", "sweep_grid",
    "register_cli",
]
