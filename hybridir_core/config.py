"""Frozen configuration dataclasses shared by the CLI, the dashboard and the tests.

Every front-end builds these objects; runs serialise them into ``config.json`` with
``to_dict`` and read them back with ``from_dict``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T", bound="_Serialisable")

DATASETS = ("xquad-r", "mlqa-r")
PAPER_TRAIN_LANGUAGES = ("ar", "de", "en", "es", "hi", "ru", "th", "tr", "zh")


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
    """

    model: str = "me5-small"
    datasets: tuple[str, ...] = DATASETS
    limit_per_lang: int | None = None
    languages: tuple[str, ...] | None = None
    with_context: bool = False
    batch_size: int = 64
    chunk_size: int = 512
    data_dir: str | None = None

    def __post_init__(self) -> None:
        unknown = [d for d in self.datasets if d not in DATASETS]
        if unknown or not self.datasets:
            raise ValueError(f"datasets must be among {DATASETS}, got {list(self.datasets)}")
        if self.limit_per_lang is not None and self.limit_per_lang < 1:
            raise ValueError("limit_per_lang must be a positive integer")
        if self.batch_size < 1 or self.chunk_size < 1:
            raise ValueError("batch_size and chunk_size must be positive")


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
        if self.strategy not in ("mono", "cross", "hybrid"):
            raise ValueError(f"strategy must be mono, cross or hybrid, got {self.strategy!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if self.mix not in ("per-batch", "per-pair"):
            raise ValueError(f"mix must be per-batch or per-pair, got {self.mix!r}")

    @property
    def effective_alpha(self) -> float:
        """Probability of a monolingual batch/pair: 1 for mono, 0 for cross."""
        return {"mono": 1.0, "cross": 0.0}.get(self.strategy, self.alpha)


@dataclass(frozen=True)
class TrainConfig(_Serialisable):
    """Training options; defaults follow the paper where CPU budgets allow."""

    model: str = "me5-small-l6"
    corpus: str = "xnli"
    languages: tuple[str, ...] = PAPER_TRAIN_LANGUAGES
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    steps: int = 200
    batch_size: int = 32
    learning_rate: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    scale: float = 20.0
    max_seq_length: int = 128
    freeze_embeddings: bool = True
    validation_items: int = 200
    eval_steps: int = 50
    early_stopping_patience: int | None = None
    seed: int = 0
    report_to: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["sampling"] = self.sampling.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        data = dict(data)
        if isinstance(data.get("sampling"), dict):
            data["sampling"] = SamplingConfig.from_dict(data["sampling"])
        return super().from_dict.__func__(cls, data)  # type: ignore[attr-defined]
