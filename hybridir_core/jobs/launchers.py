"""Where a sweep's runs execute: ``local`` (one after another here) or ``slurm`` (submitit).

Both hand a run the same payload, ``request.json`` in its run directory, and both end in
``python -m hybridir_core run <run-dir>``; the run directory stays the contract
(``metrics.json``, written last, marks a complete run, which a new sweep skips).

- ``local``: ``pipeline.run_sweep`` with ``pipeline.run_in_subprocess``, unchanged.
- ``slurm``: one Slurm job per incomplete cell (or one job array, at most
  ``array_parallelism`` tasks at once) through submitit. The job runs ``RunStored``, which
  starts ``python -m hybridir_core run <run-dir>`` with its output in
  ``<run-dir>/slurm-<job id>.log``; ``<run-dir>/launcher.json`` records the job id, which
  ``scheduler_state`` and ``cancel`` use. A requeued (preempted) job starts again and training
  resumes from its last checkpoint (``TrainConfig.resume``). Nothing here takes the local
  queue's ``flock``: the scheduler, not a lock file, coordinates across nodes.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from hybridir_core.jobs import pipeline
from hybridir_core.jobs.pipeline import SweepCell
from hybridir_core.runs import directory as runs

LAUNCHERS = ("local", "slurm")
LAUNCH_FILE = "launcher.json"
SCHEDULER_STATES = ("pending", "running", "completed", "failed", "cancelled", "unknown")
_SLURM_STATES = {
    "PENDING": "pending", "REQUEUED": "pending", "REQUEUE_HOLD": "pending", "REQUEUE_FED": "pending",
    "PREEMPTED": "pending", "SUSPENDED": "pending", "RESV_DEL_HOLD": "pending",
    "CONFIGURING": "running", "RUNNING": "running", "COMPLETING": "running", "RESIZING": "running",
    "STAGE_OUT": "running", "SIGNALING": "running", "COMPLETED": "completed", "CANCELLED": "cancelled",
}
ACTIVE_STATES = ("pending", "running")


class LaunchError(Exception):
    """A launch that cannot happen (no scheduler, bad options); the message says why."""


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of each Slurm job (submitit's names in brackets).

    Attributes:
        partition: ``--partition`` (``slurm_partition``); None = the cluster's default.
        time_min: wall-clock limit in minutes (``timeout_min``).
        gpus: GPUs per job (``gpus_per_node``).
        cpus: CPUs per job (``cpus_per_task``).
        mem_gb: memory per job in GB (``mem_gb``); None = the cluster's default.
        account: ``--account`` (``slurm_account``).
        array_parallelism: submit the cells as one job array running at most this many at
            once; None = one job per cell.
    """

    partition: str | None = None
    time_min: int = 60
    gpus: int = 0
    cpus: int = 1
    mem_gb: float | None = None
    account: str | None = None
    array_parallelism: int | None = None

    def __post_init__(self) -> None:
        if self.time_min < 1 or self.gpus < 0 or self.cpus < 1:
            raise ValueError("slurm time must be >= 1 minute, gpus >= 0 and cpus >= 1")
        if self.mem_gb is not None and self.mem_gb <= 0:
            raise ValueError("slurm mem_gb must be > 0")
        if self.array_parallelism is not None and self.array_parallelism < 1:
            raise ValueError("slurm array parallelism must be >= 1")

    def executor_parameters(self) -> dict:
        """The parameters of ``submitit.AutoExecutor.update_parameters``."""
        params = {"timeout_min": self.time_min, "gpus_per_node": self.gpus, "cpus_per_task": self.cpus,
                  "tasks_per_node": 1, "nodes": 1, "name": "hybridir"}
        optional = {"slurm_partition": self.partition, "mem_gb": self.mem_gb, "slurm_account": self.account,
                    "slurm_array_parallelism": self.array_parallelism}
        return params | {k: v for k, v in optional.items() if v is not None}


class RunStored:
    """The function a Slurm job runs: ``python -m hybridir_core run <run-dir>``.

    A separate process, so the run writes ``status.json`` and ends in one line on an error
    exactly as under the local queue. ``checkpoint`` makes submitit requeue the same call
    when the job is preempted or reaches its time limit; the run then resumes.
    """

    def __call__(self, run_dir: str) -> int:
        log = Path(run_dir) / f"slurm-{slurm_job_id() or 'local'}.log"
        with log.open("ab") as out:
            code = subprocess.run(pipeline.run_command(run_dir), stdout=out, stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise RuntimeError(f"python -m hybridir_core run {run_dir} exited with {code}; see {log}")
        return code

    def checkpoint(self, run_dir: str):
        """Requeue the same call (submitit calls this on preemption or timeout)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, run_dir)


def slurm_job_id() -> str | None:
    """This process's Slurm job id (``<array job>_<task>`` for an array task), else None."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


# -- the record in the run directory -------------------------------------------------------------
def read_launch(run_dir: Path) -> dict | None:
    """``launcher.json`` of a run submitted to a scheduler, else None."""
    path = Path(run_dir) / LAUNCH_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except ValueError:
        return None


def _write_launch(run_dir: Path, job_id: str, options: SlurmOptions, folder: Path) -> None:
    runs.write_json(Path(run_dir) / LAUNCH_FILE, {
        "launcher": "slurm", "job_id": job_id, "options": asdict(options), "submitit_folder": str(folder),
        "submitted": datetime.now(UTC).isoformat(timespec="seconds")})


# -- scheduler state and cancel ------------------------------------------------------------------
def _query(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def slurm_state(job_id: str) -> str:
    """One of ``SCHEDULER_STATES`` for a Slurm job id (``squeue``, then ``sacct``)."""
    raw = _query(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"]).splitlines()
    raw = raw or _query(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"]).splitlines()
    if not raw:
        return "unknown"
    word = raw[0].split()[0].upper() if raw[0].split() else ""
    return _SLURM_STATES.get(word, "failed" if word else "unknown")


def scheduler_state(run_dir: Path) -> str | None:
    """The scheduler's state of the job of ``run_dir`` (None for a run not sent to a scheduler)."""
    launch = read_launch(run_dir)
    return slurm_state(str(launch["job_id"])) if launch and launch.get("job_id") else None


def cancel(run_dir: Path, wait_s: float = 30.0) -> str:
    """``scancel`` the Slurm job of ``run_dir``, then mark the run cancelled; returns the state.

    Raises:
        LaunchError: the run has no Slurm job, or scancel failed.
    """
    launch = read_launch(run_dir)
    if not launch or not launch.get("job_id"):
        raise LaunchError(f"{run_dir}: no Slurm job recorded ({LAUNCH_FILE})")
    job_id = str(launch["job_id"])
    out = subprocess.run(["scancel", job_id], capture_output=True, text=True)
    if out.returncode != 0:
        raise LaunchError(f"scancel {job_id}: {out.stderr.strip() or out.returncode}")
    deadline, state = time.monotonic() + wait_s, slurm_state(job_id)
    while state in ACTIVE_STATES and time.monotonic() < deadline:
        time.sleep(0.5)
        state = slurm_state(job_id)
    if not runs.is_complete(run_dir):
        runs.StatusWriter(Path(run_dir)).update(state="cancelled", message=f"Slurm job {job_id} cancelled")
    return state


@dataclass
class SlurmRun:
    """A run directory sent to Slurm, as the dashboard lists it."""

    run_id: str
    path: Path
    job_id: str
    state: str
    status: dict

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def _all_slurm_states() -> dict[str, str]:
    """``{job id: scheduler state}`` of every job slurmctld still knows (one ``squeue`` call)."""
    rows = _query(["squeue", "-h", "-t", "all", "-o", "%i %T"]).splitlines()
    pairs = (row.split()[:2] for row in rows if len(row.split()) >= 2)
    return {job: _SLURM_STATES.get(word, "failed") for job, word in pairs}


def slurm_runs(runs_root: Path) -> list[SlurmRun]:
    """Run directories under ``runs_root`` submitted to Slurm, newest first, with their states."""
    records = [(f.parent, read_launch(f.parent)) for f in Path(runs_root).glob(f"*/{LAUNCH_FILE}")]
    records = [(d, r) for d, r in records if r and r.get("job_id")]
    if not records:
        return []
    known = _all_slurm_states()
    listed = [SlurmRun(d.name, d, str(r["job_id"]), known.get(str(r["job_id"])) or slurm_state(str(r["job_id"])),
                       runs.read_status(d)) for d, r in records]
    return sorted(listed, key=lambda r: -(r.path / LAUNCH_FILE).stat().st_mtime)


# -- launching ------------------------------------------------------------------------------------
@dataclass
class Submission:
    """What a launch did: complete runs skipped, runs already queued, new jobs (run id -> job id)."""

    skipped: list[str]
    queued: list[str]
    jobs: dict[str, str]
    failed: list[str]


def _pending_cells(cells: Sequence[SweepCell], out: Path) -> tuple[list[SweepCell], list[str], list[str]]:
    """Cells to submit, and the run ids skipped as complete or as already queued on Slurm."""
    todo, skipped, queued = [], [], []
    for cell in cells:
        run_dir = out / cell.run_id
        if runs.is_complete(run_dir):
            why = pipeline.mismatch(run_dir, cell.job)
            if why:
                raise ValueError(f"{run_dir} is complete but {why}; use another --out")
            skipped.append(cell.run_id)
        elif scheduler_state(run_dir) in ACTIVE_STATES:
            queued.append(cell.run_id)
        else:
            todo.append(cell)
    return todo, skipped, queued


def submit_slurm(cells: Sequence[SweepCell], out: Path, options: SlurmOptions, dry_run: bool = False,
                 folder: Path | None = None) -> Submission:
    """Submit every incomplete cell not already queued as a Slurm job (or one job array).

    Raises:
        LaunchError: submitit is missing or ``sbatch`` refused the jobs.
        ValueError: a complete run of a cell's name holds another training.
    """
    out = Path(out).resolve()
    todo, skipped, queued = _pending_cells(cells, out)
    if dry_run or not todo:
        return Submission(skipped, queued, {c.run_id: "(dry run)" for c in todo} if dry_run else {}, [])
    try:
        import submitit
    except ImportError:
        raise LaunchError("the slurm launcher needs submitit (pip install -r requirements.txt)") from None
    folder = Path(folder or out / ".submitit").resolve()
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm")
    executor.update_parameters(**options.executor_parameters())
    for cell in todo:
        runs.write_request(out / cell.run_id, cell.job.to_dict())
        runs.StatusWriter(out / cell.run_id).update(state="queued", phase="queued on slurm", error=None)
    try:
        if options.array_parallelism is not None:
            with executor.batch():
                handles = [executor.submit(RunStored(), str(out / c.run_id)) for c in todo]
        else:
            handles = [executor.submit(RunStored(), str(out / c.run_id)) for c in todo]
    except Exception as exc:  # noqa: BLE001 - submitit raises plain errors with sbatch's words
        raise LaunchError(f"sbatch refused the jobs: {str(exc).strip().splitlines()[-1]}") from None
    jobs = {}
    for cell, handle in zip(todo, handles, strict=True):
        _write_launch(out / cell.run_id, str(handle.job_id), options, folder)
        jobs[cell.run_id] = str(handle.job_id)
    return Submission(skipped, queued, jobs, [])


def wait_for(run_dirs: Sequence[Path], poll_s: float = 5.0, timeout_s: float | None = None) -> dict[str, str]:
    """Wait until no job of ``run_dirs`` is pending or running; returns ``{run id: state}``."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        states = {Path(d).name: scheduler_state(Path(d)) or "unknown" for d in run_dirs}
        if not any(s in ACTIVE_STATES for s in states.values()) or (deadline and time.monotonic() > deadline):
            return states
        time.sleep(poll_s)


def launch(cells: Sequence[SweepCell], out: Path, launcher: str = "local", dry_run: bool = False,
           slurm: SlurmOptions | None = None) -> Submission:
    """Run (``local``) or submit (``slurm``) a sweep's cells.

    ``local`` runs them here one after another (``jobs`` empty, ``failed`` filled);
    ``slurm`` returns at once with the job ids.
    """
    if launcher not in LAUNCHERS:
        raise LaunchError(f"launcher must be one of {LAUNCHERS}, got {launcher!r}")
    if launcher == "local":
        skipped, failed = pipeline.run_sweep(cells, out, dry_run)
        return Submission(skipped, [], {}, failed)
    return submit_slurm(cells, out, slurm or SlurmOptions(), dry_run)
