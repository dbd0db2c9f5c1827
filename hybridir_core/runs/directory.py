"""The run directory contract read by the dashboard, the CLI export and the benchmarks.

``runs/<run_id>/`` holds ``config.json``, ``matrix.csv``, ``ranks.parquet``, optional
``train_stats.json``, ``status.json`` and, written last, ``metrics.json``. A run is complete
only when ``metrics.json`` exists, so a crash never leaves a run that passes for finished.
Every file is written to a temporary name in the same directory and renamed into place.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from hybridir_core.runs import schema
from hybridir_core.runs.schema import MATRIX_COLUMNS, RANK_COLUMNS, SCHEMA_VERSION, RunError, read_json

__all__ = ["MATRIX_COLUMNS", "RANK_COLUMNS", "SCHEMA_VERSION", "RunError", "read_json"]
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

CONFIG, METRICS, MATRIX, RANKS = "config.json", "metrics.json", "matrix.csv", "ranks.parquet"
STATUS, TRAIN_STATS = "status.json", "train_stats.json"


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a safe directory name (no separators, no ``..``)."""
    if not RUN_ID_PATTERN.match(run_id or "") or ".." in run_id:
        raise RunError(
            f"Invalid run name {run_id!r}: use letters, digits, '.', '_' or '-' "
            "(no path separators, no '..', at most 100 characters)."
        )
    return run_id


def _fsync(path: Path) -> None:
    """Flush a file's (or a directory's) data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(path: Path, writer: Callable[[Path], None], durable: bool) -> Path:
    """Run ``writer(tmp)`` on a temporary file beside ``path``; returns the written temporary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        if durable:
            _fsync(Path(tmp))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write(path: Path, writer: Callable[[Path], None], durable: bool = False) -> None:
    """Run ``writer(tmp)`` on a temporary file beside ``path``, then rename it into place.

    ``durable`` also flushes the file and its directory, so the write survives a power loss
    (completion markers).
    """
    tmp = _stage(path, writer, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync(path.parent)


def _json_text(data: Any) -> str:
    """Standard JSON (NaN and infinities as null), so any strict parser reads run files."""
    return json.dumps(schema.standard_json(data), indent=2, sort_keys=False, default=str,
                      allow_nan=False) + "\n"


def write_json(path: Path, data: Any, durable: bool = False) -> None:
    """Write standard JSON atomically (NaN and infinities become null)."""
    text = _json_text(data)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable)


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a CSV atomically."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_metrics(run_dir: Path, datasets: dict[str, Any]) -> None:
    """Write ``metrics.json`` (the completion marker), flushed to the disk."""
    write_json(Path(run_dir) / METRICS, {"schema_version": SCHEMA_VERSION, "datasets": datasets}, durable=True)


def write_eval_files(
    run_dir: Path,
    config: dict[str, Any],
    metrics: dict[str, Any],
    matrix: pd.DataFrame,
    ranks: pd.DataFrame,
) -> None:
    """Write a finished evaluation; ``metrics.json`` goes last and marks completion.

    Every new file is written and flushed under a temporary name first, so a failure (a full
    disk) leaves the previous files, ``metrics.json`` included, as they were. Only then is the
    old ``metrics.json`` removed and are the new files renamed into place, ``metrics.json``
    last. An evaluation that is not a training's drops a stale ``train_stats.json``.
    """
    run_dir = Path(run_dir)
    files = [
        (CONFIG, lambda tmp: tmp.write_text(_json_text({"schema_version": SCHEMA_VERSION, **config}),
                                            encoding="utf-8")),
        (MATRIX, lambda tmp: matrix[MATRIX_COLUMNS].to_csv(tmp, index=False)),
        (RANKS, lambda tmp: ranks[RANK_COLUMNS].to_parquet(tmp, index=False)),
        (METRICS, lambda tmp: tmp.write_text(_json_text({"schema_version": SCHEMA_VERSION, "datasets": metrics}),
                                             encoding="utf-8")),
    ]
    staged: list[tuple[Path, Path]] = []
    try:
        for name, writer in files:
            staged.append((_stage(run_dir / name, writer, durable=True), run_dir / name))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    (run_dir / METRICS).unlink(missing_ok=True)
    if config.get("kind") != "train":
        (run_dir / TRAIN_STATS).unlink(missing_ok=True)
    for tmp, path in staged:
        os.replace(tmp, path)
    _fsync(run_dir)


def is_complete(run_dir: Path) -> bool:
    """True when the evaluation files of ``run_dir`` were all written."""
    return all((Path(run_dir) / name).is_file() for name in (CONFIG, METRICS, MATRIX, RANKS))


@dataclass
class Run:
    """A complete run, loaded from disk."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    matrix: pd.DataFrame
    train_stats: dict[str, Any] | None = None
    reference: bool = False
    _ranks: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def ranks(self) -> pd.DataFrame:
        """Per (question, relevant candidate) ranks; read lazily (the largest file)."""
        if self._ranks is None:
            self._ranks = read_ranks(self.path)
        return self._ranks


def read_ranks(run_dir: Path) -> pd.DataFrame:
    """The run's ``ranks.parquet`` (``RunError`` when missing or damaged)."""
    return schema.read_ranks(Path(run_dir) / RANKS)


def load_run(run_dir: Path, reference: bool = False) -> Run:
    """Load a complete run, every file checked by ``schema``, or raise ``RunError`` saying why."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: not a directory")
    if not (run_dir / METRICS).is_file():
        raise RunError(f"{run_dir}: incomplete (no {METRICS}); the run may still be going or failed")
    config = schema.read_config(run_dir / CONFIG)
    metrics = schema.read_metrics(run_dir / METRICS)
    matrix = schema.read_matrix(run_dir / MATRIX, list(metrics))
    schema.check_ranks(run_dir / RANKS)
    stats = schema.read_train_stats(run_dir / TRAIN_STATS)
    return Run(run_dir, config, metrics, matrix, stats, reference)


@dataclass
class RunListing:
    """Every run directory found: the loadable ones, and the others with the reason.

    ``folders`` are subfolders that are not runs but hold runs (``sweep --out runs/qa``), with
    how many; they are not scanned (point ``$HYBRIDIR_RUNS_DIR`` at one to browse it).
    """

    runs: list[Run]
    unreadable: dict[Path, str]
    in_progress: list[Path]
    folders: dict[Path, int] = field(default_factory=dict)


_RUN_FILES = (CONFIG, STATUS, METRICS)


def _is_run_dir(path: Path) -> bool:
    return any((path / name).is_file() for name in _RUN_FILES)


def _runs_inside(folder: Path) -> int:
    """How many run folders a folder that is not itself a run holds (0 when it is a run)."""
    if _is_run_dir(folder):
        return 0
    return sum(1 for p in folder.iterdir() if p.is_dir() and _is_run_dir(p))


def _outside(run_dir: Path, root: Path) -> str | None:
    """Where a symlinked run folder leads when that is outside ``root`` (else None)."""
    if not run_dir.is_symlink():
        return None
    target = run_dir.resolve()
    return None if target.is_relative_to(root.resolve()) else str(target)


def list_runs(*roots: Path, reference_roots: tuple[Path, ...] = (), follow_links: bool = False) -> RunListing:
    """Scan run roots (each a folder of run directories); never raises for one bad run.

    A run folder that is a symlink leading out of its root is listed as unreadable unless
    ``follow_links`` (a link could expose any folder of the machine to the dashboard).
    """
    runs: list[Run] = []
    unreadable: dict[Path, str] = {}
    in_progress: list[Path] = []
    folders: dict[Path, int] = {}
    tagged = [(Path(r), False) for r in roots] + [(Path(r), True) for r in reference_roots]
    for root, reference in tagged:
        if not root.is_dir():
            continue
        for run_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            target = None if follow_links else _outside(run_dir, root)
            if target is not None:
                unreadable[run_dir] = f"symlink to {target}, outside {root} (not followed)"
            elif held := _runs_inside(run_dir):
                folders[run_dir] = held
            elif not (run_dir / METRICS).is_file():
                status = read_status(run_dir)
                state = "interrupted" if interrupted(status) else status.get("state")
                if state in ("queued", "running"):
                    in_progress.append(run_dir)
                elif state == "interrupted":
                    unreadable[run_dir] = (f"incomplete run (status: interrupted; process {status.get('pid')} "
                                           "is gone without writing an end state)")
                else:
                    unreadable[run_dir] = f"incomplete run (status: {state or 'unknown'})"
            else:
                try:
                    runs.append(load_run(run_dir, reference=reference))
                except RunError as exc:
                    unreadable[run_dir] = str(exc)
    return RunListing(runs, unreadable, in_progress, folders)


def runs_signature(*roots: Path) -> tuple:
    """A cheap key that changes when any run file changes (for ``st.cache_data``)."""
    items = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for path in sorted(root.glob("*/*")):
            if path.name in (CONFIG, METRICS, MATRIX, RANKS, TRAIN_STATS, STATUS):
                stat = path.stat()
                items.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(items)


class StatusWriter:
    """Writes ``status.json``: the single source of truth about a job's progress.

    The dashboard polls this file; jobs never talk to Streamlit directly. ``update`` always
    writes (state changes); ``progress`` is throttled to one write per ``min_interval``
    seconds, except when the phase changes or reaches its total.
    """

    def __init__(self, run_dir: Path, min_interval: float = 0.5) -> None:
        self.path = Path(run_dir) / STATUS
        self.min_interval = min_interval
        self._last_write = 0.0
        self.state: dict[str, Any] = {
            "state": "queued", "phase": "", "step": 0, "total": 0, "message": "",
            "started": time.time(), "error": None, **read_status(run_dir),
        }

    def update(self, **fields: Any) -> None:
        """Merge ``fields`` (state, phase, step, total, message, error, ...) and write now.

        Entering ``running`` records this process (``process_record``) so that a reader can
        tell a run whose process is gone (``process_alive``).
        """
        if fields.get("state") == "running" and "pid" not in fields:
            fields = {**process_record(), **fields}
        self.state.update(fields)
        self.state["updated"] = time.time()
        write_json(self.path, self.state)
        self._last_write = time.monotonic()

    def progress(self, **fields: Any) -> None:
        """``update`` at most once per ``min_interval``; a new phase or a finished one always."""
        new_phase = fields.get("phase", self.state.get("phase")) != self.state.get("phase")
        step, total = fields.get("step"), fields.get("total")
        finished = step is not None and total is not None and step >= total
        if new_phase or finished or time.monotonic() - self._last_write >= self.min_interval:
            self.update(**fields)
        else:
            self.state.update(fields)


def process_record(pid: int | None = None) -> dict[str, Any]:
    """``pid``, its start time (``pid_started``, psutil) and ``host``: who writes a running status."""
    process = psutil.Process(pid)
    return {"pid": process.pid, "pid_started": process.create_time(), "host": socket.gethostname()}


def process_alive(status: dict[str, Any]) -> bool | None:
    """Whether the process recorded in ``status`` still runs: None when it cannot be told
    (no record, or another host); a reused pid (another start time) counts as gone."""
    pid, started = status.get("pid"), status.get("pid_started")
    if not isinstance(pid, int) or not isinstance(started, (int, float)) or status.get("host") != socket.gethostname():
        return None
    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - started) < 1.0 and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def interrupted(status: dict[str, Any]) -> bool:
    """A ``running`` status whose recorded process is gone (killed, or its error handler failed)."""
    return status.get("state") == "running" and process_alive(status) is False


def read_status(run_dir: Path) -> dict[str, Any]:
    """The job status, or ``{}`` when there is none (or it is being replaced)."""
    try:
        data = json.loads((Path(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}




REQUEST = "request.json"
"""The ``JobConfig`` a run directory was asked to run (written by the queue and ``sweep``)."""


def write_request(run_dir: Path, job: dict[str, Any]) -> None:
    """Store a job configuration (``JobConfig.to_dict()``) in ``run_dir``."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_json(Path(run_dir) / REQUEST, {"schema_version": SCHEMA_VERSION, "job": job})


def read_request(run_dir: Path) -> dict[str, Any]:
    """The job configuration stored in ``run_dir`` (a dict for ``JobConfig.from_dict``)."""
    data = read_json(Path(run_dir) / REQUEST)
    if not isinstance(data, dict) or not isinstance(data.get("job"), dict):
        raise RunError(f"{Path(run_dir) / REQUEST}: no job configuration in it")
    return data["job"]


# -- replacing a complete run (``--overwrite``) ---------------------------------------------------
def staging_dir(run_dir: Path) -> Path:
    """Where a replacement of ``run_dir`` is built: ``<root>/.<name>.overwrite/<name>``.

    Hidden from ``list_runs`` (a dot folder) and of the same name, so the run id is unchanged.
    """
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}.overwrite" / run_dir.name


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        rename = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if rename(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _relocate(value: Any, old: str, new: str) -> Any:
    """``value`` with every string path under ``old`` moved under ``new``."""
    if isinstance(value, dict):
        return {k: _relocate(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocate(v, old, new) for v in value]
    if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
        return new + value[len(old):]
    return value


def swap_in(staged: Path, run_dir: Path) -> None:
    """Put the finished run ``staged`` (from ``staging_dir``) in place of ``run_dir``; drop the old.

    Paths recorded in ``config.json`` and ``train_stats.json`` are moved to ``run_dir`` first.
    The swap is one ``renameat2`` exchange where the file system allows it (else two renames), so
    readers see the old run or the new one, never a mixture.
    """
    staged, run_dir = Path(staged), Path(run_dir)
    for name in (CONFIG, TRAIN_STATS):
        path = staged / name
        if path.is_file():
            data = read_json(path)
            for old, new in ((staged.resolve(), run_dir.resolve()), (staged, run_dir)):
                data = _relocate(data, str(old), str(new))
            write_json(path, data, durable=True)
    if not run_dir.exists():
        os.replace(staged, run_dir)
    elif not _exchange(staged, run_dir):
        os.replace(run_dir, staged.parent / f"{run_dir.name}.old")
        os.replace(staged, run_dir)
    _fsync(run_dir.parent)
    shutil.rmtree(staged.parent, ignore_errors=True)
