"""How long a configured job will take, said before it runs.

A job's time is read from what finished runs record: ``train_stats.json`` (wall seconds of
training per trained pair) and ``metrics.json`` (encoding and metric seconds per encoded text).
Runs in the local runs folder were made on this machine, so their rates come first; the shipped
reference runs come next (made on other 2-core CPUs); a model never run is scaled from the
nearest measured one by its layer count, and with nothing measured at all a stated rough rate
per layer is used. Pure (no torch): the Train page shows it before Launch.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import EVAL_LANGUAGES, JobConfig
from ..runs.directory import Run

OVERHEAD_S = 60.0
"""Loading the model and the data and writing the run: about a minute a job (measured on the
study's runs as status start-to-finish minus training and encoding time)."""
ROUGH_TRAIN_S_PER_PAIR_LAYER = 0.03
ROUGH_ENCODE_S_PER_TEXT_LAYER = 3e-4
"""The rough rates per transformer layer used when no run measured anything comparable: about
what a 2-core CPU did for the shipped fp32 runs (12 layers: ~0.35 s per trained pair)."""
DATASET_TEXTS = {"xquad-r": (13090, 13014), "mlqa-r": (4199, 20534)}
"""(questions over all languages, candidates) of each LAReQA dataset; a test checks them
against the shipped runs' ``metrics.json``."""


@dataclass(frozen=True)
class Rates:
    """Measured seconds of one model: per trained pair and per encoded text (None if unmeasured)."""

    model: str
    layers: int | None
    train_s_per_pair: float | None
    encode_s_per_text: float | None
    local: bool
    n_runs: int


@dataclass(frozen=True)
class Estimate:
    """A job's expected seconds by phase and the sentence saying what they rest on."""

    phases: dict[str, float] = field(default_factory=dict)
    basis: str = ""
    rough: bool = False

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())


def _texts(dataset: str, limit_per_lang: int | None) -> int:
    """Texts encoded to evaluate ``dataset``: its questions (the first N ids per language in
    quick mode) and every candidate."""
    questions, candidates = DATASET_TEXTS.get(dataset, DATASET_TEXTS["mlqa-r"])
    if limit_per_lang:
        questions = min(questions, limit_per_lang * len(EVAL_LANGUAGES.get(dataset, ("", ) * 7)))
    return questions + candidates


def _run_rates(run: Run) -> tuple[float | None, list[float]]:
    """(training seconds per pair, encoding seconds per text of each dataset) of one run."""
    stats = run.train_stats or {}
    pairs = (stats.get("steps_this_session") or stats.get("steps") or 0) * (stats.get("batch_size") or 0)
    train = stats["wall_seconds"] / pairs if pairs and stats.get("wall_seconds") else None
    limit = (run.config.get("eval") or {}).get("limit_per_lang")
    encode = [(m.get("encode_seconds", 0) + m.get("metrics_seconds", 0)) / _texts(d, limit)
              for d, m in run.metrics.items() if m.get("encode_seconds")]
    return train, encode


def _precision(run: Run) -> str:
    return ((run.config.get("train") or {}).get("precision")) or "fp32"


def measured_rates(found: Iterable[Run], precision: str = "fp32") -> list[Rates]:
    """Median rates per (model, local or shipped) over the runs of that training precision."""
    groups: dict[tuple[str, bool], list[Run]] = {}
    for run in found:
        name = (run.config.get("model") or {}).get("name")
        if name and _precision(run) == precision:
            groups.setdefault((name, not run.reference), []).append(run)
    rates = []
    for (name, local), members in groups.items():
        train = [t for t, _ in map(_run_rates, members) if t]
        encode = [e for _, es in map(_run_rates, members) for e in es]
        layers = (members[0].config.get("model") or {}).get("layers")
        rates.append(Rates(name, layers, statistics.median(train) if train else None,
                           statistics.median(encode) if encode else None, local, len(members)))
    return rates


def _pick(rates: list[Rates], model: str, layers: int | None, attr: str) -> tuple[float | None, str]:
    """The rate ``attr`` for ``model``: its own (local first), else the nearest measured depth
    scaled by layers; with the sentence saying which."""
    have = [r for r in rates if getattr(r, attr) is not None]
    own = sorted((r for r in have if r.model == model), key=lambda r: not r.local)
    if own:
        r = own[0]
        where = "measured on this machine" if r.local else "measured on the shipped runs' machines"
        return getattr(r, attr), f"{where} ({r.n_runs} run{'s' * (r.n_runs > 1)} of {model})"
    scalable = [r for r in have if r.layers and layers]
    if scalable:
        r = min(scalable, key=lambda r: (not r.local, abs(r.layers - layers)))
        return getattr(r, attr) * layers / r.layers, f"rough: {r.model}'s rate scaled to {layers} layers"
    per_layer = ROUGH_TRAIN_S_PER_PAIR_LAYER if attr == "train_s_per_pair" else ROUGH_ENCODE_S_PER_TEXT_LAYER
    return per_layer * max(layers or 1, 1), "rough: no comparable run measured yet"


def estimate(job: JobConfig, found: Iterable[Run], layers: int | None,
             build_s: float | None = None) -> Estimate:
    """Expected seconds of ``job`` by phase (build, training, evaluation, loading and writing).

    Args:
        job: the configured job.
        found: finished runs to read rates from (local and shipped).
        layers: the model's transformer layers (for scaling and the rough rates).
        build_s: seconds to build the model first, when it is not built yet.
    """
    model = job.train.model if job.train else job.eval.model
    precision = job.train.precision if job.train else "fp32"
    rates = measured_rates(found, precision) or measured_rates(found)
    phases: dict[str, float] = {}
    notes = []
    if build_s:
        phases["build the model"] = build_s
    if job.train is not None:
        per_pair, note = _pick(rates, model, layers, "train_s_per_pair")
        phases["training"] = per_pair * job.train.steps * job.train.batch_size
        notes.append(f"training {note}")
    per_text, note = _pick(rates, model, layers, "encode_s_per_text")
    phases["evaluation"] = per_text * sum(_texts(d, job.eval.limit_per_lang) for d in job.eval.datasets)
    notes.append(f"evaluation {note}")
    phases["loading and writing"] = OVERHEAD_S
    return Estimate(phases, "; ".join(notes), any(n.split(" ", 1)[1].startswith("rough") for n in notes))


def build_seconds(card: Path) -> float | None:
    """Wall seconds a student's shipped build card records (None when there is no card)."""
    try:
        return float(json.loads(card.read_text(encoding="utf-8"))["wall_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
