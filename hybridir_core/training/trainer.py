"""Fine-tuning with ``SentenceTransformerTrainer`` and language-aware batches.

``train_model`` trains a ``models.LoadedModel`` on a parallel corpus with
``MultipleNegativesRankingLoss`` (in-batch negatives), batches from
``sampling.LanguageBatchSampler`` (the trainer's ``batch_sampler`` extension point), the
model's query/passage prompts and AdamW. It keeps checkpoints in ``<run>/checkpoints``
(resumed after an interruption), can stop early on a held-out validation loss, mirrors
progress into ``status.json`` (``callbacks.StatusCallback``) and writes the model to
``<run>/model`` and the realised batch composition to ``train_stats.json``. Evaluating the
trained model is ``pipeline.train_and_evaluate``.

Several GPUs: ``torchrun --nproc_per_node 4 -m hybridir_core train ...``. The batch size is
per process; the sampler reads ``WORLD_SIZE`` so that all ranks share each step's batch type
and language, and only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from hybridir_core.config import SamplingConfig, TrainConfig
from hybridir_core.data.corpora import ParallelCorpus, load_hf_parallel, load_tatoeba, load_xnli
from hybridir_core.data.qa_pairs import load_xquad_qa
from hybridir_core.devices import precision_flags
from hybridir_core.models.registry import ensure_loaded
from hybridir_core.runs import directory as runs

logger = logging.getLogger(__name__)

CHECKPOINTS, MODEL_DIR = "checkpoints", "model"
# Validation batches: per-pair mix (each batch half monolingual, half cross-lingual pairs,
# like LAReQA's multilingual pool) with a fixed seed, so the loss is comparable across
# evaluations, strategies and seeds.
VALIDATION_SAMPLING = SamplingConfig(strategy="hybrid", alpha=0.5, mix="per-pair")
VALIDATION_SEED = 0
# Options that do not change what is trained (a resumed run may change them).
# (mini_batch_size: the cached loss gives MNRL's gradients whatever its value.)
# (train_backend: ``auto`` gives today's losses, ``fast_forward``.)
_NOT_TRAINING = ("report_to", "keep_checkpoints", "resume", "logging_steps", "data_dir", "mini_batch_size",
                 "train_backend")
SETTINGS_FILE = "hybridir_train_config.json"


@dataclasses.dataclass
class TrainResult:
    """The trained model (a ``LoadedModel`` whose ``local_dir`` is ``<run>/model``) and stats."""

    loaded: Any
    stats: dict[str, Any]


@dataclasses.dataclass
class TrainingData:
    """The corpus split into training and validation, as datasets with their samplers."""

    corpus: ParallelCorpus
    train: ParallelCorpus
    validation: ParallelCorpus | None
    train_ds: Any
    val_ds: Any
    factory: Any
    world: int

    @property
    def samplers(self) -> dict:
        """The samplers the trainer created, by role (``train``, ``validation``)."""
        return self.factory.created


# -- settings ---------------------------------------------------------------------------------
def _training_settings(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in config.to_dict().items() if k not in _NOT_TRAINING}


def check_same_training(path: Path, config: TrainConfig) -> None:
    """Refuse to resume or reuse a training recorded in ``path`` with other settings."""
    if not path.is_file():
        return
    data = runs.read_json(path)
    recorded = _training_settings(TrainConfig.from_dict(data.get("train_config", data)))
    wanted = _training_settings(config)
    diff = sorted(k for k in wanted if recorded.get(k) != wanted[k])
    if diff:
        raise ValueError(f"{path.parent}: holds a training with other settings ({', '.join(diff)}); "
                         "use another --out, or --no-resume to start over")


# -- corpora ----------------------------------------------------------------------------------
def build_corpus(config: TrainConfig) -> ParallelCorpus:
    """The training corpus of ``config`` (sources joined over the training languages)."""
    parts = []
    for source in config.corpus.split("+"):
        if source == "xquad":
            parts.append(load_xquad_qa(config.data_dir, config.languages, limit_items=config.limit_items))
        elif source == "xnli":
            parts.append(load_xnli(config.data_dir, config.languages, limit_items=config.limit_items,
                                   entailment_only=config.xnli_pairs == "entailment"))
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


def prepare_data(config: TrainConfig, corpus: ParallelCorpus | None = None) -> TrainingData:
    """Load, split and wrap the corpus; the samplers are built by the trainer via the factory."""
    from hybridir_core.training.sampling import SamplerFactory, pair_dataset, world_size_from_env

    corpus = corpus if corpus is not None else build_corpus(config)
    train_corpus, val_corpus = split_corpus(corpus, config.effective_validation_items)
    world = world_size_from_env()
    if val_corpus is not None and len(set(val_corpus.item.tolist())) < config.batch_size * world:
        raise ValueError(f"validation_items={config.effective_validation_items} is below batch_size x processes "
                         f"({config.batch_size * world}): raise it, or set it to 0")
    train_ds = pair_dataset(train_corpus)
    val_ds = pair_dataset(val_corpus) if val_corpus is not None else None
    roles = {id(train_ds): ("train", train_corpus, config.sampling, None)}
    if val_ds is not None:
        roles[id(val_ds)] = ("validation", val_corpus, VALIDATION_SAMPLING, VALIDATION_SEED)
    return TrainingData(corpus, train_corpus, val_corpus, train_ds, val_ds,
                        SamplerFactory(roles, world), world)


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


def trained_model(base, model, model_dir: Path, config: TrainConfig, run_id: str):
    """A ``LoadedModel`` for the fine-tuned ``model`` saved in ``model_dir``.

    The spec keeps the base model's name (runs group by model and sampling: export and the
    dashboard read the sampling from the run's training configuration); source is ``local``.
    """
    spec = dataclasses.replace(
        base.spec, source="local", hub_id=None,
        description=f"{base.spec.name} fine-tuned on {config.corpus} ({config.sampling.label}, "
                    f"{config.steps} steps) in run {run_id}")
    return dataclasses.replace(base, model=model, spec=spec, local_dir=model_dir)


# -- the trainer ------------------------------------------------------------------------------
def training_arguments(config: TrainConfig, ckpt_dir: Path, data: TrainingData, prompts: dict,
                       validate_at_start: bool = True):
    """``SentenceTransformerTrainingArguments`` for ``config`` (sampler factory and prompts in).

    ``validate_at_start`` adds a validation loss at step 0 (the untrained model's, the point
    a run's gain is read from); a resumed run passes False, its history has that entry already.

    Raises:
        ValueError: the device cannot train in ``config.precision``.
    """
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments

    has_val = data.val_ds is not None
    return SentenceTransformerTrainingArguments(
        output_dir=str(ckpt_dir), max_steps=config.steps,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio (transformers 5)
        optim="adamw_torch", seed=config.seed, batch_sampler=data.factory, prompts=prompts or None,
        eval_strategy="steps" if has_val else "no", eval_steps=config.eval_steps,
        eval_on_start=has_val and validate_at_start,
        save_strategy="steps", save_steps=config.effective_save_steps, save_total_limit=2,
        load_best_model_at_end=config.early_stopping_patience is not None,
        metric_for_best_model="eval_loss" if has_val else None, greater_is_better=False,
        logging_steps=config.logging_steps, report_to=[r for r in config.report_to if r != "none"] or "none",
        run_name=ckpt_dir.parent.name,  # trackers name the run after the run id (logs: tracking.route_logs)
        dataloader_drop_last=True, dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=False,
        **precision_flags(config.precision),
    )


def build_loss(model, config: TrainConfig):
    """MNRL with in-batch negatives, or its cached (GradCache) form with the same gradients;
    ``train_backend="auto"`` forwards MNRL's texts in length-sorted sub-batches (same losses)."""
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    if config.cached_loss:
        return CachedMultipleNegativesRankingLoss(model, scale=config.mnrl_scale,
                                                  mini_batch_size=config.mini_batch_size,
                                                  gather_across_devices=config.gather_across_devices)
    if config.train_backend == "auto":
        from hybridir_core.training.fast_forward import sorted_mnrl

        return sorted_mnrl(model, config.mnrl_scale, config.gather_across_devices)
    return MultipleNegativesRankingLoss(model, scale=config.mnrl_scale,
                                        gather_across_devices=config.gather_across_devices)


def build_trainer(base, config: TrainConfig, ckpt_dir: Path, data: TrainingData, callbacks: list,
                  resuming: bool = False):
    """The ``SentenceTransformerTrainer`` with (cached) MNRL, the samplers and ``callbacks``."""
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import EarlyStoppingCallback

    from hybridir_core.training.callbacks import SamplerEpochCallback, StartValidationRngGuard

    prompts = {col: p for col, p in (("query", base.spec.query_prompt), ("passage", base.spec.passage_prompt),
                                     ("negative", base.spec.passage_prompt)) if p}
    callbacks = [*callbacks, SamplerEpochCallback(data.samplers), StartValidationRngGuard()]
    if config.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    loss = build_loss(base.model, config)
    return SentenceTransformerTrainer(
        model=base.model, args=training_arguments(config, ckpt_dir, data, prompts, validate_at_start=not resuming),
        train_dataset=data.train_ds, eval_dataset=data.val_ds, loss=loss, callbacks=callbacks)


def final_validation_loss(trainer, data: TrainingData, early: bool) -> float | None:
    """The validation loss of the model at hand (the best checkpoint after early stopping)."""
    if data.val_ds is None:
        return None
    evals = [h for h in trainer.state.log_history if "eval_loss" in h]
    if evals and evals[-1]["step"] == trainer.state.global_step and not early:
        return evals[-1]["eval_loss"]
    return trainer.evaluate()["eval_loss"]


def train_stats(trainer, base, config: TrainConfig, data: TrainingData, run_dir: Path,
                timing: dict[str, Any], status_cb) -> dict[str, Any]:
    """The ``train_stats.json`` payload: corpus, realised composition, losses, throughput."""
    import torch

    from hybridir_core.training.sampling import batches_consumed, composition

    state, grad_accum = trainer.state, trainer.args.gradient_accumulation_steps
    pairs_per_step = config.batch_size * data.world * grad_accum
    steps_now, wall = state.global_step - timing["resumed_step"], timing["wall"]
    evals = [{"step": h["step"], "eval_loss": h["eval_loss"]} for h in state.log_history if "eval_loss" in h]
    losses = [{"step": h["step"], "loss": h["loss"]} for h in state.log_history if "loss" in h]
    val = data.validation
    return {
        "schema_version": runs.SCHEMA_VERSION, "run_id": run_dir.name, "train_config": config.to_dict(),
        "base_model": base.spec.name,
        "corpus": {"name": data.corpus.name, "languages": list(data.corpus.languages),
                   "train_pairs": len(data.train), "train_items": data.train.n_items,
                   "validation_pairs": len(val) if val is not None else 0,
                   "validation_items": val.n_items if val is not None else 0},
        "sampling": config.sampling.to_dict(),
        "composition": composition(batches_consumed(data.samplers["train"], state.global_step, grad_accum)),
        "steps": state.global_step, "max_steps": config.steps,
        "stopped_early": state.global_step < config.steps, "epochs": round(float(state.epoch or 0.0), 4),
        "batch_size": config.batch_size, "world_size": data.world, "gradient_accumulation_steps": grad_accum,
        "resumed_from_step": timing["resumed_step"] or None, "wall_seconds": round(wall, 2),
        "steps_this_session": steps_now,
        "pairs_per_second": round(steps_now * pairs_per_step / wall, 3) if wall > 0 and steps_now else None,
        "pairs_per_second_clean": (round(status_cb.clean_steps * pairs_per_step / status_cb.clean_seconds, 3)
                                   if status_cb.clean_seconds > 0 else None),
        "final_train_loss": losses[-1]["loss"] if losses else None,
        "final_validation_loss": timing["final_validation_loss"],
        "best_validation_loss": state.best_metric,
        "best_checkpoint_step": (int(state.best_model_checkpoint.rsplit("-", 1)[-1])
                                 if state.best_model_checkpoint else None),
        **timing["parameters"], "max_seq_length": config.max_seq_length,
        "device": str(base.model.device), "torch_threads": torch.get_num_threads(),
        "loss_history": losses, "validation_history": evals,
    }


def save_trained(st_model, run_dir: Path, stats: dict[str, Any], keep_checkpoints: bool) -> Path:
    """Write ``<run>/model`` (atomically) and ``train_stats.json``; drop checkpoints unless kept."""
    model_dir, tmp = run_dir / MODEL_DIR, run_dir / f".{MODEL_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    st_model.save_pretrained(str(tmp))
    shutil.rmtree(model_dir, ignore_errors=True)
    os.replace(tmp, model_dir)
    runs.write_json(run_dir / runs.TRAIN_STATS, stats)
    if not keep_checkpoints:
        shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
    return model_dir


# -- whole checkpoints -------------------------------------------------------------------------
# What transformers' Trainer._save_checkpoint writes into checkpoint-N, in this order: the
# model (sentence-transformers' save_pretrained: modules.json, *.safetensors), optimizer.pt,
# scheduler.pt, rng_state*.pth, then trainer_state.json. None is written atomically, so a kill
# mid-save leaves a folder that get_last_checkpoint still picks and every resume then fails.
_TORCH_FILES = ("optimizer.pt", "scheduler.pt", "training_args.bin")


def _complete_safetensors(path: Path) -> bool:
    """The header's tensors end exactly at the end of the file (a truncated file does not)."""
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
    except (OSError, ValueError, struct.error):
        return False
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    return path.stat().st_size == 8 + length + max(ends, default=0)


def checkpoint_problem(path: Path) -> str | None:
    """Why ``checkpoint-N`` cannot be resumed from (a missing or truncated file), or None if whole."""
    path = Path(path)
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        step = int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "trainer_state.json missing or unreadable"
    if path.name != f"checkpoint-{step}":
        return f"trainer_state.json says step {step}"
    weights = sorted(path.rglob("*.safetensors"))
    if not (path / "modules.json").is_file() or not weights:
        return "no model weights"
    for name in [*_TORCH_FILES, *(p.name for p in path.glob("rng_state*.pth"))]:
        if not zipfile.is_zipfile(path / name):  # torch.save writes a zip; its index is at the end
            return f"{name} missing or truncated"
    if not any(path.glob("rng_state*.pth")):
        return "rng_state.pth missing"
    broken = next((w for w in weights if not _complete_safetensors(w)), None)
    return f"{broken.relative_to(path)} truncated" if broken else None


def last_whole_checkpoint(ckpt_dir: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The highest-numbered whole ``checkpoint-N`` and the newer ones passed over, with why."""
    found = []
    for child in Path(ckpt_dir).glob("checkpoint-*"):
        if child.is_dir() and child.name.removeprefix("checkpoint-").isdigit():
            found.append((int(child.name.removeprefix("checkpoint-")), child))
    skipped = []
    for _, child in sorted(found, reverse=True):
        problem = checkpoint_problem(child)
        if problem is None:
            return child, skipped
        skipped.append((child, problem))
    return None, skipped


def _resume_point(ckpt_dir: Path, status: runs.StatusWriter) -> str | None:
    """The checkpoint to resume from; half-written newer ones are set aside and said in one line."""
    if not ckpt_dir.is_dir():
        return None
    last, skipped = last_whole_checkpoint(ckpt_dir)
    for child, _ in skipped if int(os.environ.get("RANK", "0")) == 0 else ():
        aside = child.with_name(f"incomplete-{child.name}")  # neither resumed from nor rotated
        shutil.rmtree(aside, ignore_errors=True)
        child.rename(aside)
    if skipped:
        words = (f"{skipped[0][0].name} is not whole ({skipped[0][1]}); "
                 + (f"resuming from {last.name}" if last else "no whole checkpoint, starting over")
                 + (f" ({len(skipped)} incomplete checkpoints set aside)" if len(skipped) > 1 else ""))
        logger.warning(words)
        status.update(message=words, resume_note=words)  # the message is replaced as training goes on
    return str(last) if last else None


def _trainable_parameters(st_model, config: TrainConfig) -> dict[str, int]:
    frozen = freeze_word_embeddings(st_model) if config.freeze_embeddings else 0
    trainable = sum(p.numel() for p in st_model.parameters() if p.requires_grad)
    if trainable == 0:
        raise ValueError("no trainable parameters left (freeze_embeddings on a static model?)")
    return {"frozen_parameters": frozen, "trainable_parameters": trainable}


def _checkpoint_dir(run_dir: Path, config: TrainConfig) -> Path:
    """``run_dir/checkpoints`` ready for ``config``: emptied without resume; a ValueError when it
    holds another training's checkpoints or the early-stopping steps do not line up."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.early_stopping_patience and config.effective_save_steps % config.eval_steps:
        raise ValueError("with early stopping, save_steps must be a multiple of eval_steps")
    ckpt_dir = run_dir / CHECKPOINTS
    if not config.resume:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    check_same_training(ckpt_dir / SETTINGS_FILE, config)
    return ckpt_dir


def train_model(model, run_dir: Path, config: TrainConfig, status: runs.StatusWriter | None = None,
                corpus: ParallelCorpus | None = None, callbacks: list | None = None) -> TrainResult:
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
    from hybridir_core.training.callbacks import StatusCallback

    run_dir = Path(run_dir)
    ckpt_dir = _checkpoint_dir(run_dir, config)
    precision_flags(config.precision)  # refuse before loading anything

    base = ensure_loaded(model)
    status = status or runs.StatusWriter(run_dir)
    status.update(state="running", phase="loading training data", step=0, total=1)
    data = prepare_data(config, corpus)
    parameters = _trainable_parameters(base.model, config)
    original_max_len = base.model.max_seq_length
    set_max_seq_length(base.model, config.max_seq_length)
    status_cb = StatusCallback(status)
    last = _resume_point(ckpt_dir, status)
    trainer = build_trainer(base, config, ckpt_dir, data, [status_cb, *(callbacks or [])], resuming=bool(last))
    if trainer.is_world_process_zero():
        runs.write_json(ckpt_dir / SETTINGS_FILE, config.to_dict())
    if last:
        logger.info("resuming from %s", last)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    timing = {"resumed_step": int(last.rsplit("-", 1)[-1]) if last else 0,
              "wall": time.perf_counter() - started, "parameters": parameters,
              "final_validation_loss": final_validation_loss(
                  trainer, data, config.early_stopping_patience is not None)}
    set_max_seq_length(base.model, original_max_len)
    stats = train_stats(trainer, base, config, data, run_dir, timing, status_cb)
    model_dir = run_dir / MODEL_DIR
    if trainer.is_world_process_zero():
        save_trained(base.model, run_dir, stats, config.keep_checkpoints)
    for param in base.model.parameters():
        param.requires_grad_(True)
    return TrainResult(trained_model(base, base.model, model_dir, config, run_dir.name), stats)


def load_trained(run_dir: Path, config: TrainConfig, base=None) -> TrainResult | None:
    """A finished training of ``run_dir`` (``model/`` and ``train_stats.json``), else None."""
    run_dir = Path(run_dir)
    stats_path = run_dir / runs.TRAIN_STATS
    if not ((run_dir / MODEL_DIR).is_dir() and stats_path.is_file()):
        return None
    check_same_training(stats_path, config)
    from sentence_transformers import SentenceTransformer

    base = ensure_loaded(base if base is not None else config.model)
    model = SentenceTransformer(str(run_dir / MODEL_DIR), device=str(base.model.device))
    return TrainResult(trained_model(base, model, run_dir / MODEL_DIR, config, run_dir.name),
                       runs.read_json(stats_path))
