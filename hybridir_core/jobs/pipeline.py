"""Orchestration: run one job configuration into a run directory, or a grid of them.

``run_job`` is what every front-end ends in: the CLI's ``evaluate`` and ``train``, and
``python -m hybridir_core run <run-dir>``, which the job queue and ``sweep`` start in a
process of its own with the ``JobConfig`` stored in the run directory (``runs.REQUEST``).
A sweep grid is built from one base ``JobConfig`` with ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hybridir_core.config import JobConfig, SamplingConfig, TrainConfig
from hybridir_core.models.registry import ensure_loaded
from hybridir_core.runs import directory as runs
from hybridir_core.training.trainer import MODEL_DIR, load_trained, train_model

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def train_and_evaluate(run_dir: Path, config: TrainConfig, eval_config, progress: Progress | None = None,
                       corpus=None, model=None) -> dict[str, Any]:
    """Train (or reuse a finished training in ``run_dir``), then evaluate into ``run_dir``.

    ``config.json`` records ``kind: "train"``, the training configuration, the seed and the
    base model. Returns the evaluation summaries per dataset (as ``run_evaluation``).
    ``model`` may be a ``LoadedModel`` to train instead of loading ``config.model`` (tests).
    """
    from hybridir_core.evaluation.evaluate import load_eval_data, run_evaluation

    run_dir = Path(run_dir)
    datasets = load_eval_data(eval_config, progress)  # a bad data file stops before training
    status = getattr(progress, "status", None) or runs.StatusWriter(run_dir)
    if progress:
        progress("building the model", 0, 1)
    base = ensure_loaded(model if model is not None else config.model)
    done = load_trained(run_dir, config, base) if config.resume else None
    if done is not None:
        logger.info("%s: training already finished, evaluating the saved model", run_dir)
        result = done
    else:
        result = train_model(base, run_dir, config, status=status, corpus=corpus)
    if int(os.environ.get("RANK", "0")) != 0:
        return {}
    extra = {"kind": "train", "train": config.to_dict(), "seed": config.seed, "base_model": base.record()}
    eval_config = dataclasses.replace(eval_config, model=str(run_dir / MODEL_DIR))
    return run_evaluation(result.loaded, run_dir, eval_config, progress, extra_config=extra,
                          datasets=datasets)


def run_job(job: JobConfig, run_dir: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Run ``job`` into ``run_dir``; returns the evaluation summaries per dataset."""
    if job.train is not None:
        return train_and_evaluate(run_dir, job.train, job.eval, progress)
    from hybridir_core.evaluation.evaluate import run_evaluation

    return run_evaluation(job.eval.model, run_dir, job.eval, progress)


# -- sweeps -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SweepCell:
    """One run of a sweep: its directory name and its configuration."""

    run_id: str
    job: JobConfig


def sweep_run_id(model: str, sampling: SamplingConfig, seed: int, steps: int | None = None) -> str:
    """``me5-small-l6_hybrid-a0.5_s0`` (``_n<steps>`` when a sweep has several step budgets)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", Path(model).name)
    run_id = f"{name}_{sampling.label}_s{seed}" + (f"_n{steps}" if steps is not None else "")
    return runs.validate_run_id(run_id)


def sweep_grid(base: JobConfig, models: Sequence[str], strategies: Sequence[str], alphas: Sequence[float],
               seeds: Sequence[int], steps: Sequence[int]) -> list[SweepCell]:
    """Every run of a grid, built from ``base`` with ``dataclasses.replace``.

    ``alphas`` apply to ``hybrid`` only (mono is α = 1 and cross α = 0); cells with the same
    run id are kept once.
    """
    if base.train is None:
        raise ValueError("a sweep needs a training configuration")
    cells: dict[str, SweepCell] = {}
    for model in models:
        for strategy in strategies:
            for alpha in (alphas if strategy == "hybrid" else [base.train.sampling.alpha]):
                sampling = dataclasses.replace(base.train.sampling, strategy=strategy, alpha=alpha)
                for n_steps in steps:
                    for seed in seeds:
                        train = dataclasses.replace(base.train, model=model, sampling=sampling,
                                                    seed=seed, steps=n_steps)
                        run_id = sweep_run_id(model, sampling, seed, n_steps if len(steps) > 1 else None)
                        job = dataclasses.replace(base, train=train,
                                                  eval=dataclasses.replace(base.eval, model=model))
                        cells.setdefault(run_id, SweepCell(run_id, job))
    return list(cells.values())


def mismatch(run_dir: Path, job: JobConfig) -> str | None:
    """Why a complete run does not hold the training ``job`` asks for (None if it does)."""
    try:
        recorded = TrainConfig.from_dict(runs.read_json(run_dir / runs.CONFIG).get("train") or {})
    except (runs.RunError, ValueError, TypeError, AttributeError) as exc:
        return f"unreadable config ({exc})"
    fields = ("model", "sampling", "seed", "steps")
    have = {f: getattr(recorded, f) for f in fields}
    want = {f: getattr(job.train, f) for f in fields}
    return None if have == want else f"it holds {have}, the sweep asks for {want}"


def default_command() -> list[str]:
    """The CLI every job runs: this interpreter, ``-m hybridir_core``."""
    return [sys.executable, "-m", "hybridir_core"]


def run_command(run_dir: Path | str, command: Sequence[str] | None = None) -> list[str]:
    """``python -m hybridir_core run <run-dir>``: how the queue, a sweep and a Slurm job run a
    stored ``JobConfig`` (``command`` replaces ``python -m hybridir_core``, e.g. in tests)."""
    return [*(command or default_command()), "run", str(run_dir)]


def run_in_subprocess(run_dir: Path, job: JobConfig, command: Sequence[str] | None = None) -> int:
    """Store ``job`` in ``run_dir`` and run it as ``python -m hybridir_core run <run-dir>``."""
    runs.write_request(run_dir, job.to_dict())
    return subprocess.run(run_command(run_dir, command)).returncode


def run_sweep(cells: Sequence[SweepCell], out: Path, dry_run: bool = False,
              runner: Callable[[Path, JobConfig], int] = run_in_subprocess) -> tuple[list[str], list[str]]:
    """Run every incomplete cell one after another; returns (skipped, failed) run ids.

    Raises:
        ValueError: a complete run of a cell's name holds another training.
    """
    skipped, failed = [], []
    for i, cell in enumerate(cells, 1):
        run_dir = Path(out) / cell.run_id
        if runs.is_complete(run_dir):
            why = mismatch(run_dir, cell.job)
            if why:
                raise ValueError(f"{run_dir} is complete but {why}; use another --out")
            print(f"[{i}/{len(cells)}] {cell.run_id}: complete, skipped")
            skipped.append(cell.run_id)
            continue
        print(f"[{i}/{len(cells)}] {cell.run_id}: {cell.job.train.sampling.label}, seed "
              f"{cell.job.train.seed}, {cell.job.train.steps} steps", flush=True)
        if not dry_run and runner(run_dir, cell.job) != 0:
            failed.append(cell.run_id)
    return skipped, failed
