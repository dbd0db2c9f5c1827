"""Every run that ``results/`` ships, as jobs that rebuild it: ``python -m hybridir_core reproduce``.

The plan is read from the shipped runs themselves: each run directory's ``config.json`` holds the
job that made it (its evaluation, and its training for a trained run), so the list is ``results/``
by construction and a run added there is reproducible without editing a script. Each part of the
study is one folder of results, rebuilt into the same folder name under ``--out``:

- ``ladder``: ``results/ladder`` (the zero-shot run of each rung of the scale ladder);
- ``grid``: ``results/reference`` without the α sweep (mono, cross, hybrid α = 0.5 per rung and
  seed, and the zero-shot runs the findings compare with);
- ``sweeps``: ``results/reference`` runs of the α sweep (hybrid α other than 0.5);
- ``static``: ``results/static`` (the static-embedding learning-rate runs);
- ``earlier``: ``results/earlier-xnli-protocol`` (the runs of the XNLI protocol).

ETA per run: seconds per training step and per evaluated dataset of the same model, measured by the
runs already finished under ``--out`` on this machine, else as the shipped run recorded them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridir_core.config import EvalConfig, JobConfig, TrainConfig
from hybridir_core.jobs.pipeline import SweepCell
from hybridir_core.runs import directory as runs

PARTS = ("ladder", "grid", "sweeps", "static", "earlier")
FOLDERS = {"ladder": "ladder", "grid": "reference", "sweeps": "reference", "static": "static",
           "earlier": "earlier-xnli-protocol"}


@dataclass(frozen=True)
class PlannedRun:
    """One shipped run to rebuild: its part of the study, where it is shipped, and its job."""

    part: str
    shipped: Path
    cell: SweepCell

    @property
    def folder(self) -> str:
        return FOLDERS[self.part]


def job_of(config: dict[str, Any]) -> JobConfig:
    """The job that made a run, from its ``config.json``; the model is named as the registry knows it."""
    train = config.get("train")
    if train:
        training = TrainConfig.from_dict(train)
        evaluation = EvalConfig.from_dict({**config["eval"], "model": training.model})
        return JobConfig("train", evaluation, training)
    model = (config.get("model") or {}).get("name") or config["eval"]["model"]
    return JobConfig("evaluate", EvalConfig.from_dict({**config["eval"], "model": model}))


def part_of(folder: str, job: JobConfig) -> str:
    """Which part of the study a shipped run of ``folder`` belongs to."""
    if folder == "reference" and job.train is not None:
        sampling = job.train.sampling
        return "sweeps" if sampling.strategy == "hybrid" and sampling.alpha != 0.5 else "grid"
    return next(part for part, name in FOLDERS.items() if name == folder)


def shipped_run_dirs(results: Path) -> list[Path]:
    """Every run directory that ``results/`` ships (a folder holding ``config.json``)."""
    folders = sorted(set(FOLDERS.values()))
    return sorted(p for name in folders if (Path(results) / name).is_dir()
                  for p in (Path(results) / name).iterdir() if (p / runs.CONFIG).is_file())


def plan(results: Path, only: Iterable[str] | None = None) -> list[PlannedRun]:
    """The shipped runs of the chosen parts (all by default), ladder first, in folder order."""
    chosen = set(only or PARTS)
    planned = []
    for run_dir in shipped_run_dirs(results):
        job = job_of(runs.read_json(run_dir / runs.CONFIG))
        part = part_of(run_dir.parent.name, job)
        if part in chosen:
            planned.append(PlannedRun(part, run_dir, SweepCell(run_dir.name, job)))
    return sorted(planned, key=lambda p: (PARTS.index(p.part), p.cell.run_id))


def _timings(run_dir: Path) -> tuple[str, float | None, dict[str, float]] | None:
    """(model, seconds per training step, seconds per evaluated dataset) a finished run recorded."""
    try:
        config = runs.read_json(run_dir / runs.CONFIG)
        metrics = runs.read_json(run_dir / runs.METRICS)
    except runs.RunError:
        return None
    job = job_of(config)
    per_step = None
    if job.train is not None and (run_dir / runs.TRAIN_STATS).is_file():
        stats = runs.read_json(run_dir / runs.TRAIN_STATS)
        steps = stats.get("steps_this_session") or stats.get("steps")
        per_step = stats["wall_seconds"] / steps if steps and stats.get("wall_seconds") else None
    evaluation = {name: float(m.get("encode_seconds", 0)) + float(m.get("metrics_seconds", 0))
                  for name, m in (metrics.get("datasets") or {}).items() if isinstance(m, dict)}
    return job.model, per_step, evaluation


@dataclass
class Rates:
    """Measured seconds per training step and per evaluated dataset, by model, and where they came from."""

    per_step: dict[str, float]
    per_dataset: dict[tuple[str, str], float]
    source: dict[str, str]

    def eta(self, cell: SweepCell) -> tuple[float | None, str]:
        """Seconds the run should take, and whose measurement says so (None: no run of that model yet)."""
        job = cell.job
        model = job.model
        evals = [self.per_dataset.get((model, d)) for d in job.eval.datasets]
        train = (self.per_step.get(model) or 0) * job.train.steps if job.train is not None else 0
        if None in evals or (job.train is not None and model not in self.per_step):
            return None, "no measured run of this model yet"
        return train + sum(evals), self.source.get(model, "?")


def measured_rates(planned: list[PlannedRun], out: Path) -> Rates:
    """Rates from the runs finished under ``out`` (this machine), else from the shipped runs' records."""
    rates = Rates({}, {}, {})
    local = [(Path(out) / p.folder / p.cell.run_id, "measured here") for p in planned]
    shipped = [(p.shipped, "as shipped") for p in planned]
    for run_dir, source in local + shipped:  # this machine's measurements win
        if not runs.is_complete(run_dir):
            continue
        found = _timings(run_dir)
        if found is None:
            continue
        model, per_step, evaluation = found
        if per_step is not None and model not in rates.per_step:
            rates.per_step[model] = per_step
            rates.source[model] = source
        for name, seconds in evaluation.items():
            rates.per_dataset.setdefault((model, name), seconds)
            rates.source.setdefault(model, source)
    return rates


def format_seconds(seconds: float | None) -> str:
    """``1 h 05 min``, ``4 min``, ``?``."""
    if seconds is None:
        return "?"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 1)} min"


def student_builds(planned: list[PlannedRun], results: Path) -> list[tuple[str, float | None]]:
    """The students the planned runs need that are not built here, with the build time their shipped
    build card recorded (``results/ladder/build_card-<name>.json``); built on first use by the job."""
    from hybridir_core.models.registry import is_built, resolve_cache_dir

    names = sorted({p.cell.job.model for p in planned})
    out = []
    for name in names:
        card = Path(results) / "ladder" / f"build_card-{name}.json"
        if card.is_file() and not is_built(resolve_cache_dir() / name, name):
            out.append((name, runs.read_json(card).get("wall_seconds")))
    return out
