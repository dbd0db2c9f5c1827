"""Experiment tracking (``--report-to``) whose logs stay with the run.

transformers writes TensorBoard events under the trainer's ``output_dir`` (our ``checkpoints/``,
removed when training ends), names a run after that folder, and logs the trainer's arguments, not
the study's settings. Here every tracker writes under ``<run>/logs/`` (unless the user pointed it
elsewhere with the tracker's own environment variable), the run is named after the run id, the
sampling settings, seed, model and corpus are the run's hyperparameters, and the final evaluation
metrics are logged once the run is evaluated (``log_final``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
"""``--report-to`` choice -> the package it needs."""
LOGS = "logs"


def check_report_to(report_to: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The trackers asked for (``none`` = no tracker), each known and installed; else a one-line
    ValueError before any work."""
    chosen = tuple(name for name in report_to if name != "none")
    unknown = [name for name in chosen if name not in TRACKERS]
    if unknown:
        raise ValueError(f"--report-to {' '.join(unknown)}: not supported; choose among "
                         f"{', '.join([*TRACKERS, 'none'])}")
    missing = [name for name in chosen if importlib.util.find_spec(TRACKERS[name]) is None]
    if missing:
        raise ValueError(f"--report-to {' '.join(missing)}: the package is not installed "
                         f"(pip install {' '.join(TRACKERS[m] for m in missing)})")
    return chosen


def log_dir(run_dir: Path, tracker: str) -> Path:
    """``<run>/logs/<tracker>``: kept when the checkpoints are removed."""
    return Path(run_dir) / LOGS / tracker


def route_logs(run_dir: Path, report_to: tuple[str, ...]) -> None:
    """Point each chosen tracker at ``<run>/logs/`` through its own environment variable (a value the
    user set wins: a tracking server stays a tracking server)."""
    places = {"tensorboard": ("TENSORBOARD_LOGGING_DIR", str(log_dir(run_dir, "tensorboard"))),
              "mlflow": ("MLFLOW_TRACKING_URI", log_dir(run_dir, "mlflow").resolve().as_uri()),
              "wandb": ("WANDB_DIR", str(log_dir(run_dir, "wandb")))}
    for name in report_to:
        variable, value = places[name]
        os.environ.setdefault(variable, value)
        Path(log_dir(run_dir, name)).mkdir(parents=True, exist_ok=True)


def hyperparameters(train: dict[str, Any]) -> dict[str, Any]:
    """The settings a tracker shows for a run: sampling (strategy, α, mix), seed, model, corpus, and the
    budget."""
    sampling = train.get("sampling") or {}
    return {"model": train.get("model"), "corpus": train.get("corpus"), "seed": train.get("seed"),
            "sampling": sampling.get("strategy"), "alpha": sampling.get("alpha"), "mix": sampling.get("mix"),
            "steps": train.get("steps"), "batch_size": train.get("batch_size"),
            "learning_rate": train.get("learning_rate")}


def final_metrics(summaries: dict[str, dict[str, Any]]) -> dict[str, float]:
    """``final/<dataset>/<measure>`` for the run's aggregates (mAP per setting, rank distance)."""
    keys = ("mono_map", "cross_map", "multi_map", "mean_rank_distance")
    return {f"final/{name}/{key}": float(m[key]) for name, m in summaries.items() for key in keys if key in m}


def log_final(run_dir: Path, report_to: tuple[str, ...], train: dict[str, Any],
              summaries: dict[str, dict[str, Any]]) -> None:
    """Log the hyperparameters and final metrics of a finished run to every chosen tracker."""
    params, values = hyperparameters(train), final_metrics(summaries)
    run_id = Path(run_dir).name
    for name in report_to:
        _LOGGERS[name](run_dir, run_id, params, values)


def _tensorboard(run_dir: Path, run_id: str, params: dict[str, Any], values: dict[str, float]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    folder = Path(os.environ.get("TENSORBOARD_LOGGING_DIR") or log_dir(run_dir, "tensorboard"))
    with SummaryWriter(log_dir=str(folder)) as writer:
        clean = {k: ("none" if v is None else v) for k, v in params.items()}
        writer.add_hparams(clean, values, run_name="final")
        for key, value in values.items():
            writer.add_scalar(key, value)


def _mlflow(run_dir: Path, run_id: str, params: dict[str, Any], values: dict[str, float]) -> None:
    import mlflow

    with mlflow.start_run(run_name=run_id):
        mlflow.log_params(params)
        mlflow.log_metrics({k.replace("/", "."): v for k, v in values.items()})


def _wandb(run_dir: Path, run_id: str, params: dict[str, Any], values: dict[str, float]) -> None:
    import wandb

    run = wandb.init(name=run_id, config=params, dir=os.environ.get("WANDB_DIR"), reinit=True)
    run.log(values)
    run.finish()


_LOGGERS = {"tensorboard": _tensorboard, "mlflow": _mlflow, "wandb": _wandb}
