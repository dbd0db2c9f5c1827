"""hybridir core: LAReQA data, models, batch sampling, training, evaluation, analysis and run files.

The packages, by role (lower layers never import higher ones; ``pyproject.toml`` states it):
``cli`` (front-end) -> ``jobs`` (queue, pipeline, launchers) -> ``analysis`` (intervals, tests,
report, figures, export) -> ``evaluation`` | ``training`` -> ``models`` -> ``data`` | ``runs``
-> ``devices``, ``config``, ``paths``. Nothing here imports streamlit; the dashboard (``app.py``,
``views/``) calls this package.

The names below are what a notebook imports. The configuration and run readers load with the
package (no torch); the heavy entry points (a model, a job) load on first use::

    from hybridir_core import list_runs, summary_frame, EvalConfig, JobConfig, run_job
"""

from __future__ import annotations

import importlib
from typing import Any

from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.paths import reference_root, runs_root
from hybridir_core.runs.directory import Run, RunError, list_runs, load_run
from hybridir_core.runs.measures import MEASURES
from hybridir_core.runs.protocol import runs_table, summary_frame

__version__ = "0.1.0"

_ON_FIRST_USE = {
    "load_model": "hybridir_core.models.registry",
    "run_job": "hybridir_core.jobs.pipeline",
    "study_tables": "hybridir_core.analysis.report",
}
"""Public names whose modules are heavy (torch) or slow to import: loaded when first asked for."""

__all__ = ["EvalConfig", "JobConfig", "MEASURES", "Run", "RunError", "SamplingConfig", "TrainConfig",
           "list_runs", "load_run", "reference_root", "runs_root", "runs_table", "summary_frame",
           *_ON_FIRST_USE]


def __getattr__(name: str) -> Any:
    if name in _ON_FIRST_USE:
        return getattr(importlib.import_module(_ON_FIRST_USE[name]), name)
    raise AttributeError(f"module 'hybridir_core' has no attribute {name!r}")
