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

from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig, TrainConfig, in_sample
from hybridir_core.data.corpora import corpus_unpinned
from hybridir_core.data.lareqa import unpinned_sources
from hybridir_core.models.registry import ensure_loaded
from hybridir_core.runs import directory as runs
from hybridir_core.training import tracking
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
    trackers = tracking.check_report_to(config.report_to)  # an unsupported tracker stops before any work
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
        tracking.route_logs(run_dir, trackers)
        result = train_model(base, run_dir, config, status=status, corpus=corpus)
    if int(os.environ.get("RANK", "0")) != 0:
        return {}
    train = {**config.to_dict(), "processes": max(1, int(os.environ.get("WORLD_SIZE", "1")))}
    changed = corpus_unpinned(config.corpus, config.languages, config.data_dir)
    if changed:  # edited copies of the built-in files: another protocol (runs.protocol.fingerprint)
        train["unpinned_data"] = changed
    extra = {"kind": "train", "train": train, "seed": config.seed, "base_model": base.record()}
    runs.write_training_card(run_dir / MODEL_DIR, {"run_id": run_dir.name, "train": train,
                                                   "base_model": extra["base_model"]})
    eval_config = dataclasses.replace(eval_config, model=str(run_dir / MODEL_DIR))
    summaries = run_evaluation(result.loaded, run_dir, eval_config, progress, extra_config=extra,
                               datasets=datasets)
    tracking.log_final(run_dir, trackers, train, summaries)
    return summaries


def provenance_record(eval_config: EvalConfig) -> dict[str, Any]:
    """What an evaluation records of its model's training (``model_provenance``, ``in_sample``).

    Raises:
        ValueError: the model was trained on an evaluation dataset and ``allow_in_sample`` is off.
    """
    card = runs.model_provenance(eval_config.model)
    if card is None:
        return {}
    seen = in_sample(card["train"].get("corpus"), eval_config.datasets)
    if seen and not eval_config.allow_in_sample:
        raise ValueError(f"{eval_config.model} was trained on {card['train'].get('corpus')} (run "
                         f"{card.get('run_id')}): scoring it on {', '.join(seen)} is in-sample; evaluate on "
                         f"another dataset, or pass --allow-in-sample to label the run in-sample")
    return {"model_provenance": card, **({"in_sample": True} if seen else {})}


def run_job(job: JobConfig, run_dir: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Run ``job`` into ``run_dir``; returns the evaluation summaries per dataset.

    Evaluating a fine-tuned model records its training (so it is labelled as trained, not
    zero-shot) and is refused on its own training data unless ``allow_in_sample``.
    """
    if job.train is not None:
        return train_and_evaluate(run_dir, job.train, job.eval, progress)
    from hybridir_core.evaluation.evaluate import run_evaluation

    extra = provenance_record(job.eval)
    return run_evaluation(job.eval.model, run_dir, job.eval, progress, extra_config=extra or None)


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


def _recipe(config: dict[str, Any]) -> dict[str, Any]:
    train = config.get("train") or {}
    sampling = SamplingConfig.from_dict(train.get("sampling") or {})
    return {"model": train.get("model"), "sampling": sampling.label, "seed": train.get("seed")}


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """Recipe and fingerprint, less the starting or evaluated weights (known only once the model
    is loaded)."""
    from hybridir_core.runs.protocol import fingerprint

    protocol = fingerprint(config)
    train = {k: v for k, v in (protocol["train"] or {}).items() if k != "base_weights"}
    evaluation = {k: v for k, v in protocol["eval"].items() if k != "weights"}
    return {"recipe": _recipe(config), "eval": evaluation, "train": train}


def with_data_pins(record: dict[str, Any], job: JobConfig) -> dict[str, Any]:
    """``record`` plus what the run will record about its built-in data files being the pinned
    ones (``data.pins``), so a sweep on edited files never skips runs made on the published ones."""
    record = {**record, "dataset_sources": unpinned_sources(job.eval.datasets, job.eval.languages,
                                                            job.eval.data_dir)}
    if job.train is not None:
        changed = corpus_unpinned(job.train.corpus, job.train.languages, job.train.data_dir)
        record["train"] = {**record["train"], "unpinned_data": changed or None}
    return record


def mismatch(run_dir: Path, job: JobConfig) -> str | None:
    """The fields in which a complete run differs from what ``job`` would run (None if none):
    ``train.learning_rate 3e-05 there, 0.0001 asked``."""
    from hybridir_core.runs.protocol import differing_fields, job_record

    try:
        have = _comparable(runs.read_json(run_dir / runs.CONFIG))
    except (runs.RunError, ValueError, TypeError, AttributeError) as exc:
        return f"unreadable config ({exc})"
    want = _comparable(with_data_pins(job_record(job), job))
    fields = differing_fields(have, want)

    def value(protocol: dict[str, Any], name: str) -> Any:
        section, _, key = name.partition(".")
        return (protocol.get(section) or {}).get(key) if key else protocol.get(section)

    return "; ".join(f"{f} {value(have, f)!r} there, {value(want, f)!r} asked" for f in fields) or None


def check_complete(cells: Sequence[SweepCell], out: Path) -> list[str]:
    """Run ids of the cells already complete in ``out``, checked all before any work.

    Raises:
        ValueError: (one line) complete runs of the cells' names hold another protocol or recipe.
    """
    done, wrong = [], {}
    for cell in cells:
        run_dir = Path(out) / cell.run_id
        if runs.is_complete(run_dir):
            why = mismatch(run_dir, cell.job)
            if why:
                wrong[cell.run_id] = why
            done.append(cell.run_id)
    if wrong:
        first, why = next(iter(wrong.items()))
        raise ValueError(f"{len(wrong)} complete run(s) in {out} hold another protocol than this sweep, "
                         f"nothing was run; {first}: {why}; use another --out")
    return done


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
    complete = set(check_complete(cells, out))
    skipped, failed = [], []
    for i, cell in enumerate(cells, 1):
        run_dir = Path(out) / cell.run_id
        if cell.run_id in complete:
            print(f"[{i}/{len(cells)}] {cell.run_id}: complete, skipped")
            skipped.append(cell.run_id)
            continue
        print(f"[{i}/{len(cells)}] {cell.run_id}: {cell.job.train.sampling.label}, seed "
              f"{cell.job.train.seed}, {cell.job.train.steps} steps", flush=True)
        if not dry_run and runner(run_dir, cell.job) != 0:
            failed.append(cell.run_id)
    return skipped, failed
