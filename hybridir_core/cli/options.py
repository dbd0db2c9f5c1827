"""Command-line options: argv -> configuration dataclasses at the edge, and back for display.

``job_from_args`` builds the ``JobConfig`` that every command runs; ``job_argv`` writes the
words of a ``JobConfig`` (the dashboard shows them for copy and paste, never as transport);
``tests/test_cli.py`` checks that parsing those words gives the same configuration back.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from hybridir_core.analysis.report import Recipe
from hybridir_core.config import DATASETS, EVAL_BACKENDS, STRATEGIES, EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.models.registry import default_learning_rate

_TRAIN_DEFAULTS = TrainConfig()
_EVAL_DEFAULTS = EvalConfig()
# flag -> (TrainConfig field, type), for options whose value is stored as it is
_TRAIN_FLAGS = {
    "--batch-size": ("batch_size", int), "--corpus": ("corpus", str), "--limit-items": ("limit_items", int),
    "--hf-path": ("hf_path", str), "--hf-config": ("hf_config", str),
    "--hf-data-files": ("hf_data_files", str), "--hf-split": ("hf_split", str),
    "--hf-query-column": ("hf_query_column", str), "--hf-passage-column": ("hf_passage_column", str),
    "--hf-item-column": ("hf_item_column", str), "--lr": ("learning_rate", float),
    "--weight-decay": ("weight_decay", float), "--warmup-ratio": ("warmup_ratio", float),
    "--mnrl-scale": ("mnrl_scale", float), "--max-seq-length": ("max_seq_length", int),
    "--validation-items": ("validation_items", int), "--eval-steps": ("eval_steps", int),
    "--save-steps": ("save_steps", int), "--logging-steps": ("logging_steps", int),
    "--early-stopping-patience": ("early_stopping_patience", int),
    "--mini-batch-size": ("mini_batch_size", int), "--precision": ("precision", str),
    "--xnli-pairs": ("xnli_pairs", str), "--train-backend": ("train_backend", str),
}
# flag -> TrainConfig field, for on/off options (default off)
_TRAIN_SWITCHES = {"--cached-loss": "cached_loss", "--gather-across-devices": "gather_across_devices"}


def add_eval_options(parser: argparse.ArgumentParser) -> None:
    """Evaluation options shared by ``evaluate``, ``train`` and ``sweep``."""
    parser.add_argument("--dataset", default="all", choices=[*DATASETS, "all"])
    parser.add_argument("--limit-per-lang", type=int, default=None,
                        help="quick mode: the first N question ids per language")
    parser.add_argument("--languages", nargs="+", default=None, help="evaluation languages")
    parser.add_argument("--with-context", action="store_true",
                        help="encode candidates as sentence + paragraph (LAReQA option)")
    parser.add_argument("--eval-batch-size", type=int, default=_EVAL_DEFAULTS.batch_size)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--backend", default=_EVAL_DEFAULTS.backend, choices=EVAL_BACKENDS,
                        help="how texts are encoded: auto (default) = the fastest backend for this CPU "
                             "that passes the accuracy gate; torch = plain sentence-transformers")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Training options shared by ``train`` and ``sweep`` (all but model, sampling, seed, steps)."""
    for flag, (name, kind) in _TRAIN_FLAGS.items():
        parser.add_argument(flag, type=kind, default=getattr(_TRAIN_DEFAULTS, name), dest=name)
    parser.set_defaults(learning_rate=None)  # the model's own (models.default_learning_rate)
    for short in ("bf16", "fp16"):
        parser.add_argument(f"--{short}", action="store_const", const=short, dest="precision",
                            help=f"same as --precision {short} (refused where the device cannot)")
    parser.add_argument("--cached-loss", action="store_true", dest="cached_loss",
                        help="CachedMultipleNegativesRankingLoss: MNRL's gradients, --mini-batch-size "
                             "texts per forward pass (large batches in little memory)")
    parser.add_argument("--gather-across-devices", action="store_true", dest="gather_across_devices",
                        help="several GPUs: every rank's passages are negatives for every query")
    parser.add_argument("--mix", default="per-batch", choices=["per-batch", "per-pair"])
    parser.add_argument("--cross-pair-per-batch", action="store_true",
                        help="one (X, Y) language pair per cross-lingual batch")
    parser.add_argument("--train-languages", nargs="+", default=list(_TRAIN_DEFAULTS.languages),
                        help="training languages (default: the paper's)")
    parser.add_argument("--freeze-embeddings", default="auto", choices=["auto", "on", "off"],
                        help="freeze the word embeddings (auto: on without a GPU)")
    parser.add_argument("--report-to", nargs="+", default=[], help="tensorboard, mlflow, wandb ...")
    parser.add_argument("--keep-checkpoints", action="store_true")
    parser.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")


def eval_config_from_args(args: argparse.Namespace, model: str) -> EvalConfig:
    """The ``EvalConfig`` of parsed evaluation options."""
    return EvalConfig(
        model=model, datasets=DATASETS if args.dataset == "all" else (args.dataset,),
        limit_per_lang=args.limit_per_lang, languages=tuple(args.languages) if args.languages else None,
        with_context=args.with_context, batch_size=args.eval_batch_size, data_dir=args.data_dir,
        backend=args.backend,
    )


def _freeze_default(choice: str) -> bool:
    if choice != "auto":
        return choice == "on"
    import torch

    return not torch.cuda.is_available()


def train_config_from_args(args: argparse.Namespace, model: str, strategy: str, alpha: float,
                           seed: int, steps: int) -> TrainConfig:
    """The ``TrainConfig`` of parsed training options for one (model, sampling, seed, steps);
    without ``--lr``, the model's fine-tuning learning rate."""
    options = {name: getattr(args, name) for name, _ in _TRAIN_FLAGS.values()}
    if options["learning_rate"] is None:
        options["learning_rate"] = default_learning_rate(model)
    return TrainConfig(
        model=model, languages=tuple(args.train_languages),
        sampling=SamplingConfig(strategy, alpha, args.mix, args.cross_pair_per_batch),
        seed=seed, steps=steps, freeze_embeddings=_freeze_default(args.freeze_embeddings),
        report_to=tuple(args.report_to), data_dir=args.data_dir,
        keep_checkpoints=args.keep_checkpoints, resume=not args.no_resume,
        **options, **{name: getattr(args, name) for name in _TRAIN_SWITCHES.values()},
    )


def job_from_args(args: argparse.Namespace) -> JobConfig:
    """The ``JobConfig`` of an ``evaluate`` or ``train`` command line."""
    if args.command == "evaluate":
        return JobConfig("evaluate", eval_config_from_args(args, args.model))
    train = train_config_from_args(args, args.model, args.sampling, args.alpha, args.seed, args.steps)
    return JobConfig("train", eval_config_from_args(args, args.model), train)


def parse_recipe(text: str) -> Recipe:
    """``model:sampling[:alpha]`` (``me5-small-l6:hybrid:0.5``, ``me5-small:mono``) as a ``Recipe``."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts) or parts[1] not in STRATEGIES:
        raise ValueError(f"recipe {text!r}: expected model:sampling[:alpha] with sampling among "
                         f"{', '.join(STRATEGIES)}, e.g. me5-small-l6:hybrid:0.5")
    try:
        alpha = float(parts[2]) if len(parts) == 3 else None
    except ValueError:
        raise ValueError(f"recipe {text!r}: alpha {parts[2]!r} is not a number") from None
    return Recipe(parts[0], parts[1], alpha)


# -- configuration -> words (display only) --------------------------------------------------------
def _eval_words(config: EvalConfig) -> list[str]:
    words = ["--dataset", "all" if tuple(config.datasets) == DATASETS else config.datasets[0]]
    if config.limit_per_lang is not None:
        words += ["--limit-per-lang", str(config.limit_per_lang)]
    if config.languages:
        words += ["--languages", *config.languages]
    if config.with_context:
        words.append("--with-context")
    if config.batch_size != _EVAL_DEFAULTS.batch_size:
        words += ["--eval-batch-size", str(config.batch_size)]
    if config.data_dir:
        words += ["--data-dir", config.data_dir]
    if config.backend != _EVAL_DEFAULTS.backend:
        words += ["--backend", config.backend]
    return words


def _train_words(config: TrainConfig) -> list[str]:
    s = config.sampling
    words = ["--sampling", s.strategy] + (["--alpha", f"{s.alpha:g}"] if s.strategy == "hybrid" else [])
    words += ["--seed", str(config.seed), "--steps", str(config.steps)]
    if s.mix != "per-batch":
        words += ["--mix", s.mix]
    if s.cross_pair_per_batch:
        words.append("--cross-pair-per-batch")
    defaults = dataclasses.replace(_TRAIN_DEFAULTS, learning_rate=default_learning_rate(config.model))
    for flag, (name, _) in _TRAIN_FLAGS.items():
        value = getattr(config, name)
        if value != getattr(defaults, name):
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    words += [flag for flag, name in _TRAIN_SWITCHES.items() if getattr(config, name)]
    if tuple(config.languages) != _TRAIN_DEFAULTS.languages:
        words += ["--train-languages", *config.languages]
    words += ["--freeze-embeddings", "on" if config.freeze_embeddings else "off"]
    if config.report_to:
        words += ["--report-to", *config.report_to]
    return words + (["--keep-checkpoints"] if config.keep_checkpoints else []) + (
        [] if config.resume else ["--no-resume"])


def job_argv(job: JobConfig, out: Path | str) -> list[str]:
    """The command-line words after ``python -m hybridir_core`` that run ``job`` into ``out``."""
    if job.train is None:
        return ["evaluate", "--model", job.eval.model, *_eval_words(job.eval), "--out", str(out)]
    return ["train", "--model", job.train.model, *_train_words(job.train), *_eval_words(job.eval),
            "--out", str(out)]
