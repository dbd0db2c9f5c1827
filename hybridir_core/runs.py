"""The run directory contract read by the dashboard, the CLI export and the benchmarks.

``runs/<run_id>/`` holds ``config.json``, ``matrix.csv``, ``ranks.parquet``, optional
``train_stats.json``, ``status.json`` and, written last, ``metrics.json``. A run is complete
only when ``metrics.json`` exists, so a crash never leaves a run that passes for finished.
Every file is written to a temporary name in the same directory and renamed into place.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA_VERSION = 1
MATRIX_COLUMNS = [
    "dataset", "query_lang", "candidate_lang", "map", "recall_at_1", "recall_at_10", "n_queries",
]
RANK_COLUMNS = ["dataset", "question_id", "query_lang", "candidate_lang", "rank_multi", "rank_in_lang"]
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

CONFIG, METRICS, MATRIX, RANKS = "config.json", "metrics.json", "matrix.csv", "ranks.parquet"
STATUS, TRAIN_STATS = "status.json", "train_stats.json"


class RunError(Exception):
    """A run directory that is missing, malformed or of an unknown schema."""


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` if it is a safe directory name (no separators, no ``..``)."""
    if not RUN_ID_PATTERN.match(run_id or "") or ".." in run_id:
        raise RunError(
            f"Invalid run name {run_id!r}: use letters, digits, '.', '_' or '-' "
            "(no path separators, no '..', at most 100 characters)."
        )
    return run_id


def atomic_write(path: Path, writer: Callable[[Path], None]) -> None:
    """Run ``writer(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    text = json.dumps(data, indent=2, sort_keys=False, default=str)
    atomic_write(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """Write a CSV atomically."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write a parquet file atomically."""
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: not valid JSON ({exc})") from None


def write_eval_files(
    run_dir: Path,
    config: dict[str, Any],
    metrics: dict[str, Any],
    matrix: pd.DataFrame,
    ranks: pd.DataFrame,
) -> None:
    """Write a finished evaluation; ``metrics.json`` goes last and marks completion."""
    run_dir = Path(run_dir)
    (run_dir / METRICS).unlink(missing_ok=True)
    write_json(run_dir / CONFIG, {"schema_version": SCHEMA_VERSION, **config})
    write_csv(run_dir / MATRIX, matrix[MATRIX_COLUMNS])
    write_parquet(run_dir / RANKS, ranks[RANK_COLUMNS])
    write_json(run_dir / METRICS, {"schema_version": SCHEMA_VERSION, "datasets": metrics})


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
    path = Path(run_dir) / RANKS
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise RunError(f"{path}: unreadable ({exc})") from None
    missing = set(RANK_COLUMNS) - set(frame.columns)
    if missing:
        raise RunError(f"{path}: missing columns {sorted(missing)}")
    return frame


def check_config_fields(path: Path, config: dict[str, Any]) -> None:
    """A RunError naming the ``config.json`` field that readers need and that is of the wrong type."""
    for key, required in (("model", True), ("eval", False), ("train", False)):
        value = config.get(key)
        if not isinstance(value, dict) and (required or value is not None):
            shown = "missing" if value is None else f"{type(value).__name__} {value!r:.40}"
            raise RunError(f"{path}: {key!r} must be an object, got {shown}")


def load_run(run_dir: Path, reference: bool = False) -> Run:
    """Load a complete run or raise ``RunError`` saying what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: not a directory")
    if not (run_dir / METRICS).is_file():
        raise RunError(f"{run_dir}: incomplete (no {METRICS}); the run may still be going or failed")
    config = read_json(run_dir / CONFIG)
    metrics = read_json(run_dir / METRICS)
    for name, data in ((CONFIG, config), (METRICS, metrics)):
        version = data.get("schema_version") if isinstance(data, dict) else None
        if version != SCHEMA_VERSION:
            raise RunError(f"{run_dir / name}: unknown schema_version {version!r}")
    check_config_fields(run_dir / CONFIG, config)
    try:
        matrix = pd.read_csv(run_dir / MATRIX)
    except FileNotFoundError:
        raise RunError(f"{run_dir / MATRIX}: missing") from None
    except Exception as exc:
        raise RunError(f"{run_dir / MATRIX}: unreadable ({exc})") from None
    if list(matrix.columns) != MATRIX_COLUMNS:
        raise RunError(f"{run_dir / MATRIX}: columns {list(matrix.columns)} != {MATRIX_COLUMNS}")
    if not (run_dir / RANKS).is_file():
        raise RunError(f"{run_dir / RANKS}: missing")
    stats = read_json(run_dir / TRAIN_STATS) if (run_dir / TRAIN_STATS).is_file() else None
    return Run(run_dir, config, metrics["datasets"], matrix, stats, reference)


@dataclass
class RunListing:
    """Every run directory found: the loadable ones, and the others with the reason."""

    runs: list[Run]
    unreadable: dict[Path, str]
    in_progress: list[Path]


def list_runs(*roots: Path, reference_roots: tuple[Path, ...] = ()) -> RunListing:
    """Scan run roots (each a folder of run directories); never raises for one bad run."""
    runs: list[Run] = []
    unreadable: dict[Path, str] = {}
    in_progress: list[Path] = []
    tagged = [(Path(r), False) for r in roots] + [(Path(r), True) for r in reference_roots]
    for root, reference in tagged:
        if not root.is_dir():
            continue
        for run_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not (run_dir / METRICS).is_file():
                status = read_status(run_dir)
                state = "interrupted" if interrupted(status) else status.get("state")
                if state in ("queued", "running"):
                    in_progress.append(run_dir)
                elif state == "interrupted":
                    unreadable[run_dir] = (f"incomplete run (status: interrupted; process {status.get('pid')} "
                                           "is gone without writing an end state)")
                else:
                    unreadable[run_dir] = f"incomplete run (status: {state or 'unknown'})"
                continue
            try:
                runs.append(load_run(run_dir, reference=reference))
            except RunError as exc:
                unreadable[run_dir] = str(exc)
    return RunListing(runs, unreadable, in_progress)


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
    import psutil

    process = psutil.Process(pid)
    return {"pid": process.pid, "pid_started": process.create_time(), "host": socket.gethostname()}


def process_alive(status: dict[str, Any]) -> bool | None:
    """Whether the process recorded in ``status`` still runs: None when it cannot be told
    (no record, or another host); a reused pid (another start time) counts as gone."""
    import psutil

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
