"""A one-at-a-time job queue for the dashboard, kept in the run directories themselves.

``submit`` takes a validated ``config.JobConfig``: it writes ``runs/<id>/request.json`` (the
configuration, ``JobConfig.to_dict()``), ``job.json`` (queue bookkeeping) and ``status.json``
(state ``queued``), then makes sure a worker runs. The worker,
``python -m hybridir_core worker --runs-dir runs``, is a detached process (its own session, so
it outlives the Streamlit script, a reload or a closed tab); an exclusive ``flock`` on
``runs/.jobs.lock`` keeps it the only one. It runs queued jobs first-in first-out, each as
``python -m hybridir_core run runs/<id>`` (which rebuilds the configuration with
``JobConfig.from_dict``) in its own process group with output to ``runs/<id>/job.log``, and
writes the final state.

Truth lives in ``status.json`` (written by the job while it runs, by the queue before and
after); nothing is guessed from PIDs or log text except the words of a failure. A run is
finished only when ``metrics.json`` exists (``runs.is_complete``), so the partial files of a
failed or cancelled job never pass for a finished run.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from hybridir_core.config import JobConfig
from hybridir_core.jobs.pipeline import default_command, run_command
from hybridir_core.paths import REPO_ROOT
from hybridir_core.runs import directory as runs

JOB, LOG, CANCEL = "job.json", "job.log", "cancel.request"
LOCK = ".jobs.lock"
WORKER_LOG = ".jobs-worker.log"
ACTIVE, FINAL = ("queued", "running"), ("done", "failed", "cancelled")
POLL_SECONDS = 0.5
TERMINATE_GRACE_SECONDS = 10.0
IDLE_EXIT_SECONDS = 2.0


class JobError(Exception):
    """A job that cannot be submitted or cancelled; the message says why."""


# -- submitting, listing, cancelling ------------------------------------------------------------

def describe(job: JobConfig) -> str:
    """One line saying what a job runs (the job list shows it)."""
    ev = job.eval
    where = (" + ".join(ev.datasets) + (f", quick ({ev.limit_per_lang} per language)"
                                        if ev.limit_per_lang else ""))
    if job.train is None:
        return f"zero-shot {ev.model} on {where}"
    t = job.train
    return (f"train {t.model} · {t.sampling.label} · seed {t.seed} · {t.steps} steps × {t.batch_size}"
            f" · then evaluate on {where}")


def submit(job: JobConfig, run_id: str, runs_root: Path,
           command: Sequence[str] | None = None, start_worker: bool = True) -> Path:
    """Queue ``job`` into ``runs_root/run_id`` and make sure a worker runs.

    Args:
        job: a validated configuration (the dashboard form builds it; invalid values were
            refused when it was built).
        run_id: the run directory name, validated by ``runs.validate_run_id``.
        runs_root: the folder of run directories.
        command: the program the worker runs as ``<command> run <run-dir>`` (default
            ``python -m hybridir_core``); tests pass a fake.
        start_worker: start a detached worker if none holds the queue lock.

    Returns:
        The run directory.

    Raises:
        JobError: not a job configuration, a bad run name, or a run of that name exists.
    """
    if not isinstance(job, JobConfig):
        raise JobError(f"submit takes a JobConfig, got {type(job).__name__}")
    try:
        runs.validate_run_id(run_id)
    except runs.RunError as exc:
        raise JobError(str(exc)) from None
    runs_root = Path(runs_root).resolve()  # jobs run from the repository root
    run_dir = runs_root / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise JobError(f"A run named {run_id!r} already exists in {runs_root}; pick another name.") from None
    runs.write_request(run_dir, job.to_dict())
    runs.write_json(run_dir / JOB, {"run_id": run_id, "command": list(command or default_command()),
                                    "description": describe(job), "submitted": time.time(),
                                    "submitted_ns": time.time_ns()})
    runs.StatusWriter(run_dir).update(state="queued", phase="queued", step=0, total=0, started=None,
                                      message="waiting for the jobs before it", error=None)
    if start_worker:
        ensure_worker(runs_root)
    return run_dir


@dataclass
class Job:
    """One submitted job as the dashboard shows it."""

    run_id: str
    path: Path
    description: str
    submitted: float
    status: dict[str, Any]
    phase_start: dict[str, Any] | None = None
    stale: bool = False

    @property
    def state(self) -> str:
        return "interrupted" if self.stale else self.status.get("state", "queued")

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float:
        """Progress within the current phase, in [0, 1]."""
        step, total = self.status.get("step") or 0, self.status.get("total") or 0
        return min(max(step / total, 0.0), 1.0) if total else 0.0

    @property
    def eta_seconds(self) -> float | None:
        return eta_seconds(self.status, self.phase_start)

    def log_tail(self, lines: int = 20) -> str:
        return tail(self.path / LOG, lines)


def eta_seconds(status: dict[str, Any], phase_start: dict[str, Any] | None = None) -> float | None:
    """Seconds left in the current phase: ``elapsed / done * (total - step)``.

    ``elapsed`` runs from the phase's start to ``status["updated"]``. The start is
    ``status["phase_started"]`` when the job writes it (the CLI does), else the worker's
    record ``phase_start = {"phase", "t0", "step0"}`` of when it first saw the phase, else
    ``status["started"]``. None when unknown.
    """
    step, total, updated = status.get("step") or 0, status.get("total") or 0, status.get("updated")
    if status.get("state") != "running" or not total or not 0 < step < total or updated is None:
        return None
    if status.get("phase_started") is not None:
        t0, step0 = status["phase_started"], 0
    elif phase_start and phase_start.get("phase") == status.get("phase"):
        t0, step0 = phase_start.get("t0"), phase_start.get("step0") or 0
    else:
        t0, step0 = status.get("started"), 0
    if t0 is None or step <= step0 or updated <= t0:
        return None
    return (updated - t0) / (step - step0) * (total - step)


def list_jobs(runs_root: Path, restart_worker: bool = True) -> list[Job]:
    """Every run directory with a ``job.json``: running first, then queued (FIFO), then the rest newest first.

    A ``running`` job whose process is gone is ``interrupted``; with ``restart_worker``, a dead
    worker is restarted when jobs wait or run without one (it adopts a live job).
    """
    runs_root = Path(runs_root)
    if not runs_root.is_dir():
        return []
    worker_alive = worker_running(runs_root)
    jobs = []
    for job_file in runs_root.glob(f"*/{JOB}"):
        try:
            meta = json.loads(job_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        status = runs.read_status(job_file.parent)
        job = Job(job_file.parent.name, job_file.parent, str(meta.get("description", "")),
                  meta.get("submitted", 0.0), status, meta.get("phase_start"))
        job.stale = status.get("state") == "running" and not job_process_alive(job.path, status, worker_alive)
        jobs.append(job)
    if restart_worker and not worker_alive and any(j.active or j.stale for j in jobs):
        ensure_worker(runs_root)
    order = {"running": 0, "queued": 1}
    return sorted(jobs, key=lambda j: (order.get(j.state, 2),
                                       j.submitted if j.state == "queued" else -j.submitted))


def job_process_alive(run_dir: Path, status: dict[str, Any], worker_alive: bool = False) -> bool:
    """Whether a running job's process still runs: the pid in ``status.json`` (with its start time
    and host), else the worker's record in ``job.json``; old files without either trust the worker."""
    alive = runs.process_alive(status)
    if alive is not None:
        return alive
    meta = _read_job(run_dir)
    return _own_process(run_dir, meta.get("pid")) or (not meta.get("pid") and worker_alive)


def _own_process(run_dir: Path, pid: Any) -> bool:
    """True when ``pid`` is alive and is this job (its command line names the run directory)."""
    try:
        process = psutil.Process(pid) if isinstance(pid, int) else None
        return bool(process) and process.status() != psutil.STATUS_ZOMBIE and str(run_dir) in process.cmdline()
    except psutil.Error:
        return False


def cancel(run_id: str, runs_root: Path) -> str:
    """Cancel a queued or running job; returns the state it ends in.

    A queued job is marked ``cancelled`` at once. A running job gets a cancel request that the
    worker acts on within a second (it terminates the job's process group); when no worker is
    alive, the process group is terminated here.

    Raises:
        JobError: no such job, or it already finished.
    """
    runs_root = Path(runs_root).resolve()
    run_dir = runs_root / runs.validate_run_id(run_id)
    if not (run_dir / JOB).is_file():
        raise JobError(f"No job named {run_id!r} in {runs_root}.")
    with _state_lock(runs_root):
        status = runs.read_status(run_dir)
        state = status.get("state")
        if state in FINAL:
            raise JobError(f"Job {run_id!r} already ended ({state}).")
        (run_dir / CANCEL).write_text(str(time.time()), encoding="utf-8")
        if state == "queued":
            _finish(run_dir, "cancelled", "cancelled before it started")
            return "cancelled"
    if not worker_running(runs_root) or not job_process_alive(run_dir, status, True):
        _terminate_job(run_dir)
        _finish(run_dir, "cancelled", "cancelled (no worker was running it)")
        return "cancelled"
    return "cancelling"


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file ('' when missing)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def failure_words(returncode: int, log_text: str, status_error: str | None = None) -> str:
    """A failed job's error in words: the job's own error, else the last log lines."""
    if status_error:
        return str(status_error)
    lines = [line for line in log_text.splitlines() if line.strip()]
    # A Python traceback ends with "ExcType: message"; that line says the most.
    last_exc = next((line for line in reversed(lines)
                     if not line.startswith((" ", "\t")) and ":" in line and "Error" in line.split(":")[0]), None)
    how = (f"stopped by signal {-returncode}" if returncode < 0 else f"exited with code {returncode}")
    if last_exc:
        return f"The job {how}: {last_exc.strip()}"
    shown = "\n".join(lines[-5:]) if lines else "(no output)"
    return f"The job {how}. Last lines of its log:\n{shown}"


# -- the worker ---------------------------------------------------------------------------------

def worker_running(runs_root: Path) -> bool:
    """True when a worker holds the queue lock."""
    path = Path(runs_root) / LOCK
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def ensure_worker(runs_root: Path) -> bool:
    """Start a detached worker unless one runs; returns True when one was started."""
    runs_root = Path(runs_root)
    runs_root.mkdir(parents=True, exist_ok=True)
    if worker_running(runs_root):
        return False
    with open(runs_root / WORKER_LOG, "ab") as log:
        subprocess.Popen(
            [*default_command(), "worker", "--runs-dir", str(runs_root.resolve())],
            cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=_child_env(),
        )
    return True


def run_worker(runs_root: Path, idle_exit: float = IDLE_EXIT_SECONDS) -> int:
    """Run queued jobs one at a time until none is left; returns the number run.

    Exits at once when another worker holds the lock. Before exiting it releases the lock and
    looks once more, so a job submitted while it was stopping is never stranded.
    """
    runs_root = Path(runs_root).resolve()
    runs_root.mkdir(parents=True, exist_ok=True)
    done = 0
    while True:
        handle = open(runs_root / LOCK, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return done
        try:
            _recover_interrupted(runs_root)
            idle_since = time.monotonic()
            while True:
                job_dir = _next_queued(runs_root)
                if job_dir is not None:
                    _run_job(runs_root, job_dir)
                    done += 1
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since >= idle_exit:
                    break
                else:
                    time.sleep(POLL_SECONDS / 2)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        if _next_queued(runs_root) is None:
            return done


def _next_queued(runs_root: Path) -> Path | None:
    queued = []
    for job_file in runs_root.glob(f"*/{JOB}"):
        if runs.read_status(job_file.parent).get("state") == "queued":
            meta = _read_job(job_file.parent)
            queued.append((meta.get("submitted_ns", 0), job_file.parent.name, job_file.parent))
    return min(queued)[2] if queued else None


def _run_job(runs_root: Path, run_dir: Path) -> None:
    with _state_lock(runs_root):
        if runs.read_status(run_dir).get("state") != "queued":  # cancelled meanwhile
            return
        meta = _read_job(run_dir)
        # pid None: the job records its own process; until then readers look at job.json's pid
        runs.StatusWriter(run_dir).update(state="running", phase="starting", step=0, total=0, pid=None,
                                          message="starting the job", started=time.time(), error=None)
        argv = run_command(run_dir, meta.get("command"))
        with open(run_dir / LOG, "ab") as log:
            try:
                proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, env=_child_env())
            except (OSError, KeyError) as exc:
                _finish(run_dir, "failed", f"The job could not start: {exc}")
                return
        meta.update(pid=proc.pid, pgid=proc.pid, started=time.time())
        runs.write_json(run_dir / JOB, meta)
    _watch(run_dir, meta, proc.pid, lambda: _wait_child(proc))


def _wait_child(proc: subprocess.Popen) -> int | None:
    """The exit code of the worker's own child, or None while it runs."""
    try:
        return proc.wait(timeout=POLL_SECONDS)
    except subprocess.TimeoutExpired:
        return None


def _wait_adopted(process: psutil.Process) -> int | None:
    """A job started by a worker that died: not our child, so no exit code (-1 once it ended)."""
    try:
        process.wait(timeout=POLL_SECONDS)
    except psutil.TimeoutExpired:
        return None
    except psutil.Error:
        pass
    return -1


def _watch(run_dir: Path, meta: dict[str, Any], pgid: int, poll) -> None:
    """Follow a running job until it ends (phases for the ETA, cancel requests), then record its end."""
    cancelled_at = None
    phase = None
    while (returncode := poll()) is None:
        status = runs.read_status(run_dir)
        if status.get("phase") and status.get("phase") != phase:
            phase = status["phase"]
            meta["phase_start"] = {"phase": phase, "t0": status.get("updated", time.time()),
                                   "step0": status.get("step") or 0}
            runs.write_json(run_dir / JOB, meta)
        if (run_dir / CANCEL).exists():
            if cancelled_at is None:
                cancelled_at = time.monotonic()
                _signal_group(pgid, signal.SIGTERM)
            elif time.monotonic() - cancelled_at > TERMINATE_GRACE_SECONDS:
                _signal_group(pgid, signal.SIGKILL)
    # The job's own process group may have children left; end them with it.
    _signal_group(pgid, signal.SIGKILL)
    _record_end(run_dir, returncode)


def _record_end(run_dir: Path, returncode: int) -> None:
    """The final state from the files (a complete run is done) and the exit code (-1: unknown)."""
    status = runs.read_status(run_dir)
    if (run_dir / CANCEL).exists() and not (returncode in (0, -1) and runs.is_complete(run_dir)):
        _finish(run_dir, "cancelled", "cancelled while running; its partial files are not a finished run")
    elif returncode in (0, -1) and runs.is_complete(run_dir):
        _finish(run_dir, "done", "finished")
    elif returncode == 0:
        _finish(run_dir, "failed", "The job exited without writing metrics.json, so it is not a finished run.")
    elif returncode == -1 and status.get("state") != "failed":
        _finish(run_dir, "failed", "Interrupted: the job ended while no worker watched it, without "
                                   "writing metrics.json. Submit it again.")
    else:
        error = status.get("error") if status.get("state") == "failed" else None
        _finish(run_dir, "failed", failure_words(returncode, tail(run_dir / LOG, 40), error))


def _recover_interrupted(runs_root: Path) -> None:
    """Jobs left "running" by a worker that died: a live one is adopted (watched to its end, cancel
    requests obeyed), a dead one is marked failed. Called holding the queue lock."""
    for job_file in runs_root.glob(f"*/{JOB}"):
        run_dir = job_file.parent
        status = runs.read_status(run_dir)
        if status.get("state") != "running":
            continue
        meta = _read_job(run_dir)
        pid = status.get("pid") if runs.process_alive(status) else meta.get("pid")
        if job_process_alive(run_dir, status) and isinstance(pid, int):
            try:
                process, pgid = psutil.Process(pid), os.getpgid(pid)
            except (psutil.Error, OSError):
                process = None
            if process is not None:
                _watch(run_dir, meta, pgid, lambda process=process: _wait_adopted(process))
                continue
        _finish(run_dir, "failed", "Interrupted: the job's process is gone (the machine, the worker or the "
                                   "job was killed). Submit it again.")


def _finish(run_dir: Path, state: str, words: str) -> None:
    runs.StatusWriter(run_dir).update(state=state, message=words, error=words if state == "failed" else None)


def _read_job(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / JOB).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _terminate_job(run_dir: Path) -> None:
    """End a job left without a worker, only if its process is still this job (PIDs get reused)."""
    pgid = _read_job(run_dir).get("pgid")
    try:
        cmdline = psutil.Process(pgid).cmdline() if pgid else []
    except (psutil.Error, ValueError):
        return
    if str(run_dir) in cmdline:
        _terminate_group(pgid)


def _terminate_group(pgid: int, grace: float = 3.0) -> None:
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)


class _state_lock:
    """A short exclusive lock around queued -> running/cancelled transitions."""

    def __init__(self, runs_root: Path) -> None:
        self.path = Path(runs_root) / ".jobs.state.lock"

    def __enter__(self) -> "_state_lock":
        self.handle = open(self.path, "a+")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}
