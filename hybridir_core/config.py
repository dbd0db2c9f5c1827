"""Frozen configuration dataclasses shared by the CLI, the dashboard and the tests.

Every front-end builds these objects; runs serialise them into ``config.json`` with
``to_dict`` and read them back with ``from_dict``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T", bound="_Serialisable")

DATASETS = ("xquad-r", "mlqa-r")
EVAL_LANGUAGES = {
    "xquad-r": ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"),
    "mlqa-r": ("ar", "de", "en", "es", "hi", "vi", "zh"),
}
"""The languages of each LAReQA dataset (``data.LAREQA_LANGUAGES`` is this table)."""
STRATEGIES = ("mono", "cross", "hybrid")
MIXES = ("per-batch", "per-pair")
PAPER_TRAIN_LANGUAGES = ("ar", "de", "en", "es", "hi", "ru", "th", "tr", "zh")
EVAL_BACKENDS = ("auto", "torch", "bucketed", "bf16", "fp16", "onnx", "onnx-int8", "int8")
"""How texts are encoded (``encoders``); ``auto`` picks the fastest that passes the accuracy gate."""


def _number(value: Any, name: str) -> float:
    """``value`` as a float, or a ValueError naming the field (a form may send text)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _require_ints(obj: Any, names: tuple[str, ...]) -> None:
    """A ValueError naming the first field that is not an integer (None is allowed)."""
    for name in names:
        value = getattr(obj, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be an integer, got {value!r}")


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items()  # type: ignore[arg-type]
        }

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Build from a dict, ignoring unknown keys (older or newer run files)."""
        names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        kwargs = {}
        for key, value in data.items():
            if key in names:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)


@dataclass(frozen=True)
class EvalConfig(_Serialisable):
    """Zero-shot evaluation options (LAReQA protocol).

    Attributes:
        model: registry name or local sentence-transformers directory.
        datasets: any of ``xquad-r``, ``mlqa-r``.
        limit_per_lang: keep only the first N question ids (quick mode); candidates stay whole.
        languages: restrict to these languages (None = all of the dataset's).
        with_context: encode candidates as sentence + paragraph context, as LAReQA's option.
        batch_size: encoding batch size.
        chunk_size: queries per block of the exact-rank matrix product.
        data_dir: explicit data directory (else the env var, ``data/``, ``../shared/datasets``).
        backend: how texts are encoded (see ``encoders``): ``auto`` (default) picks, for this
            CPU, the fastest of ``bf16`` / ``onnx`` / ``bucketed`` that passes the accuracy
            gate; ``torch`` is ``SentenceTransformer.encode``, the reference path.
        save_run: also write each dataset's top ``save_run`` of the pool and its qrels in TREC
            format under ``<run>/trec/`` (``trec``); None = no TREC files.
        query_prompt, passage_prompt: override the model's prompts (None = the model's own,
            else none); recorded in ``config.json``.
        trust_remote_code: let a hub model run its own code (opt-in).

    A dataset is ``xquad-r``, ``mlqa-r`` or the path of a folder (``folders``): LAReQA-style
    ``<lang>.json`` files or a BEIR folder whose records carry a ``lang`` field.
        allow_in_sample: evaluate a fine-tuned model on a dataset it was trained on (refused
            otherwise; the run is then labelled in-sample).
    """

    model: str = "me5-small"
    datasets: tuple[str, ...] = DATASETS
    limit_per_lang: int | None = None
    languages: tuple[str, ...] | None = None
    with_context: bool = False
    batch_size: int = 64
    chunk_size: int = 512
    data_dir: str | None = None
    backend: str = "auto"
    save_run: int | None = None
    query_prompt: str | None = None
    passage_prompt: str | None = None
    trust_remote_code: bool = False
    allow_in_sample: bool = False

    def __post_init__(self) -> None:
        _require_ints(self, ("limit_per_lang", "batch_size", "chunk_size", "save_run"))
        if self.backend not in EVAL_BACKENDS:
            raise ValueError(f"backend must be one of {EVAL_BACKENDS}, got {self.backend!r}")
        unknown = [d for d in self.datasets if d not in DATASETS and not os.path.isdir(d)]
        if unknown or not self.datasets:
            raise ValueError(f"datasets must be among {DATASETS} or dataset folders, got {list(self.datasets)}")
        if self.save_run is not None and self.save_run < 1:
            raise ValueError("save_run must be a positive integer (the K of the TREC run file)")
        if self.limit_per_lang is not None and self.limit_per_lang < 1:
            raise ValueError("limit_per_lang must be a positive integer")
        if self.batch_size < 1 or self.chunk_size < 1:
            raise ValueError("batch_size and chunk_size must be positive")
        _check_eval_languages(self.datasets, self.languages)


def _check_eval_languages(datasets: tuple[str, ...], languages: tuple[str, ...] | None) -> None:
    """Languages given once each, and held by every requested dataset (checked before any work)."""
    if languages is None:
        return
    duplicated = sorted({lang for lang in languages if list(languages).count(lang) > 1})
    if duplicated or not languages:
        raise ValueError(f"languages: duplicate language(s) {duplicated}" if duplicated
                         else "languages: give at least one language, or none for all")
    for name in (d for d in datasets if d in EVAL_LANGUAGES):  # a folder's languages: checked at load
        missing = sorted(set(languages) - set(EVAL_LANGUAGES[name]))
        if missing:
            raise ValueError(f"languages: {name} has no {', '.join(missing)} (it has "
                             f"{', '.join(EVAL_LANGUAGES[name])}); pick --dataset or other languages")


@dataclass(frozen=True)
class SamplingConfig(_Serialisable):
    """How training batches are composed (arXiv 2408.10536).

    Attributes:
        strategy: ``mono`` (X-X), ``cross`` (X-Y) or ``hybrid``.
        alpha: probability that a batch (or a pair, with ``mix="per-pair"``) is monolingual.
        mix: ``per-batch`` (the paper) or ``per-pair`` (ablation).
        cross_pair_per_batch: one (X, Y) language pair for a whole cross-lingual batch.
    """

    strategy: str = "hybrid"
    alpha: float = 0.5
    mix: str = "per-batch"
    cross_pair_per_batch: bool = False

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be mono, cross or hybrid, got {self.strategy!r}")
        alpha = _number(self.alpha, "alpha")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if self.mix not in MIXES:
            raise ValueError(f"mix must be per-batch or per-pair, got {self.mix!r}")
        # mono *is* alpha = 1 and cross *is* alpha = 0: store what the sampler draws with;
        # the mix means nothing when every batch is of one kind.
        if self.strategy != "hybrid":
            object.__setattr__(self, "alpha", 1.0 if self.strategy == "mono" else 0.0)
            object.__setattr__(self, "mix", "per-batch")
        else:
            object.__setattr__(self, "alpha", alpha)

    @property
    def label(self) -> str:
        """Short name: ``mono``, ``cross``, ``hybrid-a0.5``, ``hybrid-pp-a0.5`` (+ ``-pb``)."""
        if self.strategy != "hybrid":
            label = self.strategy
        else:
            label = f"hybrid{'-pp' if self.mix == 'per-pair' else ''}-a{self.alpha:g}"
        return label + ("-pb" if self.cross_pair_per_batch and self.strategy != "mono" else "")


CORPUS_SOURCES = ("xquad", "xnli", "tatoeba", "hf")
TRAINED_ON_DATASET = {"xquad": "xquad-r"}
"""Training corpus source -> the evaluation dataset made of the same texts (in-sample if scored)."""


def in_sample(corpus: str | None, datasets) -> list[str]:
    """The evaluation ``datasets`` that a model trained on ``corpus`` saw in training."""
    seen = {TRAINED_ON_DATASET[s] for s in str(corpus or "").split("+") if s in TRAINED_ON_DATASET}
    return [d for d in datasets if d in seen]
XNLI_PAIRS = ("entailment", "all")
DEFAULT_VALIDATION_ITEMS = {"xquad": 40}
"""Items held out when ``validation_items`` is None, by first corpus source (else 200)."""
PRECISIONS = ("fp32", "bf16", "fp16")
TRAIN_BACKENDS = ("auto", "torch")
"""``TrainConfig.train_backend``: ``auto`` the length-sorted forward (default; ``training.fast_forward``,
the same losses), ``torch`` the library's forward."""


@dataclass(frozen=True)
class TrainConfig(_Serialisable):
    """Training options; defaults follow the paper where CPU budgets allow.

    Attributes:
        model: registry name or local sentence-transformers directory to fine-tune.
        corpus: ``+``-joined sources among ``xquad``, ``xnli``, ``tatoeba``, ``hf`` (e.g.
            ``xnli+tatoeba``); ``xquad`` is the study's QA protocol (question -> answer
            sentence with a hard negative, ``qa_pairs``) and is trained on alone.
        xnli_pairs: ``entailment`` (default: only labelled entailment pairs are positives) or
            ``all`` (every row, contradictions included: the runs before this option).
        languages: training languages (el and vi stay unseen by default, as in the paper).
        sampling: batch composition (``SamplingConfig``).
        steps: optimizer steps (``max_steps``).
        batch_size: pairs per batch per process (the paper's is 100).
        learning_rate, weight_decay, warmup_ratio: AdamW and linear schedule (paper: 3e-5, 0.01).
        mnrl_scale: inverse temperature of ``MultipleNegativesRankingLoss`` (``scale`` in
            sentence-transformers; named so it is never read as a model size).
        max_seq_length: token limit during training (restored before saving).
        freeze_embeddings: keep the word-embedding matrix fixed (a CPU step gets much cheaper).
        validation_items: items (XNLI premise groups, XQuAD paragraphs) held out for the
            validation loss; 0 = none; None = the corpus' default (XQuAD 40 paragraphs as
            whole articles, else 200).
        eval_steps: validation-loss interval; checkpoints are saved every ``save_steps``
            (default ``eval_steps``).
        early_stopping_patience: stop after this many evaluations without improvement
            (None = train all steps); the best checkpoint is then the saved model.
        limit_items: keep the first N items of each source (quick runs, tests).
        data_dir: folder holding ``xnli/`` and ``tatoeba/`` (default as for evaluation).
        hf_*: the ``hf`` source, see ``corpora.load_hf_parallel``.
        keep_checkpoints: keep ``checkpoints/`` after a finished training (else removed).
        resume: continue from the last checkpoint in the run directory, if any.
        precision: ``fp32``, ``bf16`` or ``fp16`` mixed precision (checked against the device
            when training starts, ``devices.precision_flags``).
        cached_loss: ``CachedMultipleNegativesRankingLoss`` (GradCache): the same loss and
            gradients as MNRL, computed ``mini_batch_size`` texts at a time, so a batch of
            128+ fits in memory.
        mini_batch_size: texts per forward pass of the cached loss.
        gather_across_devices: under several GPUs, every rank's passages are in-batch negatives
            for every query (batch x processes candidates per query).
        train_backend: ``auto`` (default) forwards each step's texts in length-sorted
            sub-batches with the library's dropout masks replayed (``training.fast_forward``:
            the same losses, 1.5-1.6x the pairs/s at 2 and 12 layers,
            bench/results/train-exact-*.md); ``torch`` is the library's forward. Not part of the
            protocol: both give the same numbers.
    """

    model: str = "me5-small-l6"
    corpus: str = "xnli"
    xnli_pairs: str = "entailment"
    languages: tuple[str, ...] = PAPER_TRAIN_LANGUAGES
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    steps: int = 200
    batch_size: int = 32
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    mnrl_scale: float = 20.0
    max_seq_length: int = 128
    freeze_embeddings: bool = True
    validation_items: int | None = None
    eval_steps: int = 50
    early_stopping_patience: int | None = None
    seed: int = 0
    report_to: tuple[str, ...] = ()
    save_steps: int | None = None
    logging_steps: int = 10
    limit_items: int | None = None
    data_dir: str | None = None
    hf_path: str | None = None
    hf_config: str | None = None
    hf_data_files: str | None = None
    hf_split: str = "train"
    hf_query_column: str = "query_{lang}"
    hf_passage_column: str = "passage_{lang}"
    hf_item_column: str | None = None
    keep_checkpoints: bool = False
    resume: bool = True
    precision: str = "fp32"
    cached_loss: bool = False
    mini_batch_size: int = 32
    gather_across_devices: bool = False
    train_backend: str = "auto"

    def __post_init__(self) -> None:
        _require_ints(self, ("steps", "batch_size", "seed", "validation_items", "eval_steps",
                             "logging_steps", "save_steps", "limit_items", "max_seq_length",
                             "mini_batch_size"))
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.train_backend not in TRAIN_BACKENDS:
            raise ValueError(f"train_backend must be one of {TRAIN_BACKENDS}, got {self.train_backend!r}")
        if self.mini_batch_size < 1:
            raise ValueError("mini_batch_size must be >= 1")
        sources = self.corpus.split("+")
        if not sources or any(s not in CORPUS_SOURCES for s in sources) or len(set(sources)) != len(sources):
            raise ValueError(f"corpus must join distinct sources among {CORPUS_SOURCES} with '+', "
                             f"got {self.corpus!r}")
        if "hf" in sources and not self.hf_path:
            raise ValueError("corpus 'hf' needs hf_path (a hub name, local folder or builder such as json)")
        if len(set(self.languages)) < 1 or len(set(self.languages)) != len(self.languages):
            raise ValueError(f"languages must be distinct and non-empty, got {list(self.languages)}")
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("steps must be >= 1 and batch_size >= 2 (in-batch negatives)")
        if self.xnli_pairs not in XNLI_PAIRS:
            raise ValueError(f"xnli_pairs must be one of {XNLI_PAIRS}, got {self.xnli_pairs!r}")
        if "xquad" in sources and len(sources) > 1:
            raise ValueError("corpus 'xquad' (QA triplets with hard negatives) is trained on alone")
        if (self.validation_items or 0) < 0 or self.eval_steps < 1 or self.logging_steps < 1:
            raise ValueError("validation_items must be >= 0, eval_steps and logging_steps >= 1")
        if self.save_steps is not None and self.save_steps < 1:
            raise ValueError("save_steps must be >= 1")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ValueError("early_stopping_patience must be >= 1")
        if self.early_stopping_patience is not None and self.validation_items == 0:
            raise ValueError("early stopping needs validation_items > 0")
        if self.limit_items is not None and self.limit_items < 1:
            raise ValueError("limit_items must be a positive integer")
        if not (self.learning_rate > 0 and self.weight_decay >= 0 and 0 <= self.warmup_ratio < 1
                and self.mnrl_scale > 0 and self.max_seq_length >= 8):
            raise ValueError("learning_rate and mnrl_scale must be > 0, weight_decay >= 0, "
                             "warmup_ratio in [0, 1), max_seq_length >= 8")

    @property
    def effective_validation_items(self) -> int:
        """``validation_items``, or the first corpus source's default where it is None."""
        if self.validation_items is not None:
            return self.validation_items
        return DEFAULT_VALIDATION_ITEMS.get(self.corpus.split("+")[0], 200)

    @property
    def effective_save_steps(self) -> int:
        return self.save_steps or self.eval_steps

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["sampling"] = self.sampling.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        data = dict(data)
        if "scale" in data and "mnrl_scale" not in data:  # run files before the rename
            data["mnrl_scale"] = data.pop("scale")
        if "xnli_pairs" not in data:  # run files before entailment-only XNLI trained on every row
            data["xnli_pairs"] = "all"
            data.setdefault("validation_items", 200)
        if isinstance(data.get("sampling"), dict):
            data["sampling"] = SamplingConfig.from_dict(data["sampling"])
        return super().from_dict.__func__(cls, data)  # type: ignore[attr-defined]


STUDY_TRAIN = TrainConfig(model="me5-small", corpus="xquad")
"""The study's training protocol (docs/protocol.md): XQuAD-R question -> answer-sentence triplets in
the nine training languages, 200 steps of 32, lr 3e-5, fp32, frozen word embeddings, on the top rung
of the ladder. What ``train`` / ``sweep`` and the Train page run when no option is changed (the
dataclass defaults stay those that older run files were written with)."""
STUDY_EVAL_DATASETS = ("mlqa-r",)
"""The study's evaluation (XQuAD-R is its training data)."""

JOB_KINDS = ("evaluate", "train")


@dataclass(frozen=True)
class JobConfig(_Serialisable):
    """What one run does: a zero-shot evaluation, or a training followed by its evaluation.

    The one payload from a front-end to the run: the CLI and the dashboard build it, the job
    queue stores ``to_dict()`` in the run directory and the worker rebuilds it with
    ``from_dict`` (``python -m hybridir_core run <run-dir>``). Argv is only a display format.

    Attributes:
        kind: ``evaluate`` or ``train``.
        eval: the evaluation (for ``train``, of the trained model).
        train: the training (``train`` jobs only).
    """

    kind: str
    eval: EvalConfig
    train: TrainConfig | None = None

    def __post_init__(self) -> None:
        if self.kind not in JOB_KINDS:
            raise ValueError(f"kind must be one of {JOB_KINDS}, got {self.kind!r}")
        if (self.kind == "train") != (self.train is not None):
            raise ValueError("a train job needs a training configuration, an evaluate job none")
        if self.train is not None and in_sample(self.train.corpus, self.eval.datasets):
            raise ValueError("a model trained on XQuAD-R cannot be evaluated on it (its numbers would not be "
                             "zero-shot): evaluate on mlqa-r")

    @property
    def model(self) -> str:
        """The model the job starts from."""
        return self.train.model if self.train is not None else self.eval.model

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "eval": self.eval.to_dict(),
                "train": self.train.to_dict() if self.train is not None else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobConfig":
        if not isinstance(data, dict) or not isinstance(data.get("eval"), dict):
            raise ValueError(f"not a job configuration: {data!r:.200}")
        train = data.get("train")
        return cls(kind=data.get("kind", ""), eval=EvalConfig.from_dict(data["eval"]),
                   train=TrainConfig.from_dict(train) if isinstance(train, dict) else None)
