"""Command-line options: argv -> configuration dataclasses at the edge, and back for display.

``job_from_args`` builds the ``JobConfig`` that every command runs; ``job_argv`` writes the
words of a ``JobConfig`` (the dashboard shows them for copy and paste, never as transport);
``tests/test_train.py`` checks that parsing those words gives the same configuration back.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from hybridir_core import paths
from hybridir_core.analysis.report import Recipe
from hybridir_core.config import (
    CORPUS_SOURCES,
    DATASETS,
    EVAL_BACKENDS,
    MIXES,
    PRECISIONS,
    STRATEGIES,
    STUDY_TRAIN,
    TRAIN_BACKENDS,
    XNLI_PAIRS,
    EvalConfig,
    JobConfig,
    SamplingConfig,
    TrainConfig,
)
from hybridir_core.models.registry import default_learning_rate

_TRAIN_DEFAULTS = STUDY_TRAIN  # `train` and `sweep` with no options run the study
_EVAL_DEFAULTS = EvalConfig()
_HF = "with --corpus hf: "
# flag -> (TrainConfig field, type, help), for options whose value is stored as it is
_TRAIN_FLAGS = {
    "--batch-size": ("batch_size", int, "pairs per training batch per process (the paper's: 100)"),
    "--corpus": ("corpus", str, f"training corpus: sources among {', '.join(CORPUS_SOURCES)} joined by + "
                                "(e.g. xnli+tatoeba); xquad (the QA protocol) is trained on alone"),
    "--xnli-pairs": ("xnli_pairs", str, "XNLI rows used as positive pairs: entailment only, or all rows"),
    "--limit-items": ("limit_items", int, "keep the first N items of each corpus source (quick runs; default: all)"),
    "--hf-path": ("hf_path", str, _HF + "a hub dataset name, local folder or builder such as json"),
    "--hf-config": ("hf_config", str, _HF + "the dataset's configuration name"),
    "--hf-data-files": ("hf_data_files", str, _HF + "its data files (for a builder such as json)"),
    "--hf-split": ("hf_split", str, _HF + "the split to train on"),
    "--hf-query-column": ("hf_query_column", str, _HF + "the query column ({lang} = the language)"),
    "--hf-passage-column": ("hf_passage_column", str, _HF + "the passage column ({lang} = the language)"),
    "--hf-item-column": ("hf_item_column", str, _HF + "the column that names an item (its translations share it)"),
    "--learning-rate": ("learning_rate", float, "peak AdamW learning rate (default: the model's own, "
                                                "`python -m hybridir_core models` lists it)"),
    "--weight-decay": ("weight_decay", float, "AdamW weight decay"),
    "--warmup-ratio": ("warmup_ratio", float, "share of the steps with a linear warm-up"),
    "--mnrl-scale": ("mnrl_scale", float, "inverse temperature of MultipleNegativesRankingLoss (its `scale`)"),
    "--max-seq-length": ("max_seq_length", int, "tokens per text during training (longer texts are cut)"),
    "--validation-items": ("validation_items", int, "items held out for the validation loss, 0 = none "
                                                    "(default: XQuAD 40 paragraphs, else 200)"),
    "--eval-steps": ("eval_steps", int, "steps between validation losses"),
    "--save-steps": ("save_steps", int, "steps between checkpoints (default: --eval-steps)"),
    "--logging-steps": ("logging_steps", int, "steps between logged training losses"),
    "--early-stopping-patience": ("early_stopping_patience", int, "stop after N validations without improvement "
                                                                  "(default: train every step)"),
    "--mini-batch-size": ("mini_batch_size", int, "with --cached-loss: texts per forward pass"),
    "--precision": ("precision", str, "training precision; bf16 and fp16 are refused where the device lacks them"),
    "--train-backend": ("train_backend", str, "how a step's texts are forwarded: auto (default: length-sorted "
                                              "sub-batches, the same losses) or torch (the library's)"),
}
_TRAIN_CHOICES = {"--xnli-pairs": XNLI_PAIRS, "--precision": PRECISIONS, "--train-backend": TRAIN_BACKENDS}
_ALIASES = {"--learning-rate": ("--lr",), "--batch-size": ("--per-device-train-batch-size",)}
"""Other names of an option: the old ones that runs and scripts use, and the HF Trainer's."""
# flag -> TrainConfig field, for on/off options (default off)
_TRAIN_SWITCHES = {"--cached-loss": "cached_loss", "--gather-across-devices": "gather_across_devices"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless the help already says it or there is none
    (an on/off switch, a value that is only set when given)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        no_default = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "default" in text or no_default or action.const is not None:
            return text
        return super()._get_help_string(action)


DATA_DIR_HELP = f"folder holding xquad-r/ and mlqa-r/ (default: ${paths.DATA_DIR_ENV}, data/, ../shared/datasets)"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``, as every command that reads the LAReQA files takes it."""
    parser.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)


def add_eval_options(parser: argparse.ArgumentParser, dataset: str = "all") -> None:
    """Evaluation options shared by ``evaluate``, ``train`` and ``sweep`` (``dataset``: the default)."""
    parser.add_argument("--dataset", default=dataset, type=_dataset_choice, metavar="{xquad-r,mlqa-r,all,FOLDER}",
                        help="a built-in dataset, all of them, or a folder: LAReQA-style <lang>.json files "
                             "or a BEIR folder whose records carry a 'lang' field")
    parser.add_argument("--limit-per-lang", type=int, default=None,
                        help="quick mode: the first N question ids per language (default: every question)")
    parser.add_argument("--languages", nargs="+", default=None,
                        help="evaluation languages (default: every language of the dataset)")
    parser.add_argument("--with-context", action="store_true",
                        help="encode candidates as sentence + paragraph (LAReQA option)")
    parser.add_argument("--encode-batch-size", "--eval-batch-size", type=int, default=_EVAL_DEFAULTS.batch_size,
                        dest="eval_batch_size", metavar="N", help="texts per encoding batch of the evaluation")
    add_data_dir(parser)
    parser.add_argument("--backend", default=_EVAL_DEFAULTS.backend, choices=EVAL_BACKENDS,
                        help="how texts are encoded: auto (default) = the fastest backend for this CPU "
                             "that passes the accuracy gate; torch = plain sentence-transformers")
    parser.add_argument("--save-run", type=int, default=None, metavar="K",
                        help="also write <out>/trec/<dataset>.run (top K of the pool) and .qrels")
    parser.add_argument("--query-prompt", default=None, help="text put before queries (default: the model's own)")
    parser.add_argument("--passage-prompt", default=None,
                        help="text put before candidates (default: the model's own)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="let a hub model run its own code (off unless given)")


def _dataset_choice(text: str) -> str:
    """A built-in dataset name, ``all``, or an existing folder (argparse type)."""
    if text in (*DATASETS, "all") or Path(text).is_dir():
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is neither {', '.join(DATASETS)}, all, nor a dataset folder")


def add_train_options(parser: argparse.ArgumentParser) -> None:
    """Training options shared by ``train`` and ``sweep`` (all but model, sampling, seed, steps)."""
    for flag, (name, kind, text) in _TRAIN_FLAGS.items():
        parser.add_argument(flag, *_ALIASES.get(flag, ()), type=kind, default=getattr(_TRAIN_DEFAULTS, name),
                            dest=name, choices=_TRAIN_CHOICES.get(flag), help=text)
    parser.set_defaults(learning_rate=None)  # the model's own (models.default_learning_rate)
    for short in ("bf16", "fp16"):
        parser.add_argument(f"--{short}", action="store_const", const=short, dest="precision",
                            help=f"same as --precision {short} (refused where the device cannot)")
    parser.add_argument("--cached-loss", action="store_true", dest="cached_loss",
                        help="CachedMultipleNegativesRankingLoss: MNRL's gradients, --mini-batch-size "
                             "texts per forward pass (large batches in little memory)")
    parser.add_argument("--gather-across-devices", action="store_true", dest="gather_across_devices",
                        help="several GPUs: every rank's passages are negatives for every query")
    parser.add_argument("--mix", default="per-batch", choices=MIXES,
                        help="hybrid: draw mono or cross per batch (the paper) or per pair (ablation)")
    parser.add_argument("--cross-pair-per-batch", action="store_true",
                        help="one (X, Y) language pair per cross-lingual batch")
    parser.add_argument("--train-languages", nargs="+", default=list(_TRAIN_DEFAULTS.languages),
                        help="training languages (default: the paper's, el and vi unseen)")
    parser.add_argument("--freeze-embeddings", default="on", choices=["auto", "on", "off"],
                        help="freeze the word embeddings (on: the study; auto: on without a GPU)")
    parser.add_argument("--report-to", nargs="+", default=[],
                        help="experiment trackers: tensorboard, mlflow, wandb ... (default: none)")
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep checkpoints/ after training")
    parser.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")


def eval_config_from_args(args: argparse.Namespace, model: str) -> EvalConfig:
    """The ``EvalConfig`` of parsed evaluation options."""
    return EvalConfig(
        model=model, datasets=DATASETS if args.dataset == "all" else (args.dataset,),
        limit_per_lang=args.limit_per_lang, languages=tuple(args.languages) if args.languages else None,
        with_context=args.with_context, batch_size=args.eval_batch_size, data_dir=args.data_dir,
        backend=args.backend, save_run=args.save_run, query_prompt=args.query_prompt,
        passage_prompt=args.passage_prompt, trust_remote_code=args.trust_remote_code,
        allow_in_sample=getattr(args, "allow_in_sample", False),
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
    options = {name: getattr(args, name) for name, _, _ in _TRAIN_FLAGS.values()}
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
        words += ["--encode-batch-size", str(config.batch_size)]
    if config.data_dir:
        words += ["--data-dir", config.data_dir]
    if config.backend != _EVAL_DEFAULTS.backend:
        words += ["--backend", config.backend]
    if config.save_run is not None:
        words += ["--save-run", str(config.save_run)]
    for flag, value in (("--query-prompt", config.query_prompt), ("--passage-prompt", config.passage_prompt)):
        words += [flag, value] if value is not None else []
    words += ["--allow-in-sample"] if config.allow_in_sample else []
    return words + (["--trust-remote-code"] if config.trust_remote_code else [])


def _train_words(config: TrainConfig) -> list[str]:
    s = config.sampling
    words = ["--sampling", s.strategy] + (["--alpha", f"{s.alpha:g}"] if s.strategy == "hybrid" else [])
    words += ["--seed", str(config.seed), "--steps", str(config.steps)]
    if s.mix != "per-batch":
        words += ["--mix", s.mix]
    if s.cross_pair_per_batch:
        words.append("--cross-pair-per-batch")
    defaults = dataclasses.replace(_TRAIN_DEFAULTS, learning_rate=default_learning_rate(config.model))
    for flag, (name, _, _) in _TRAIN_FLAGS.items():
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
