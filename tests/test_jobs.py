"""The job queue with a fake CLI: FIFO, one at a time, cancel, failures in words, a detached worker."""

import json
import os
import sys
import time
from pathlib import Path

import pytest

from hybridir_core import paths
from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig, TrainConfig
from hybridir_core.jobs import queue as jobs
from hybridir_core.runs import directory as runs

FAKE_CLI = r'''
import json, os, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, os.environ["HYBRIDIR_REPO"])
from hybridir_core.runs import directory as runs

assert sys.argv[1] == "run", sys.argv
out = Path(sys.argv[2])
mode = json.loads((out / runs.REQUEST).read_text())["job"]["eval"]["model"]
log = out.parent / "order.txt"
with open(log, "a") as f:
    f.write(f"start {out.name} {time.time()}\n")
status = runs.StatusWriter(out)
status.update(state="running", phase="starting")
if mode == "ok":
    started = time.time()
    for step in range(1, 4):
        time.sleep(0.05)
        status.update(state="running", phase="training", step=step, total=3, phase_started=started)
    for name in (runs.CONFIG, runs.MATRIX, runs.RANKS, runs.METRICS):
        (out / name).write_text("{}")
    status.update(state="done", phase="done")
elif mode == "fail":
    status.update(state="failed", error="DataError: xquad-r/en.json: missing language file")
    print("error: missing language file", file=sys.stderr)
    sys.exit(2)
elif mode == "crash":
    raise ValueError("kaboom in the fake job")
elif mode == "nometrics":
    pass
elif mode == "slowok":
    status.update(state="running", phase="training", step=1, total=2)
    (out / "started").write_text(str(os.getpid()))
    while not (out / "go").exists():
        time.sleep(0.05)
    for name in (runs.CONFIG, runs.MATRIX, runs.RANKS, runs.METRICS):
        (out / name).write_text("{}")
    status.update(state="done", phase="done")
elif mode == "sleep":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    (out / "child.pid").write_text(str(child.pid))
    status.update(state="running", phase="training", step=1, total=100)
    time.sleep(300)
with open(log, "a") as f:
    f.write(f"end {out.name} {time.time()}\n")
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    script = tmp_path / "fake_cli.py"
    script.write_text(FAKE_CLI)
    monkeypatch.setenv("HYBRIDIR_REPO", str(paths.REPO_ROOT))
    root = tmp_path / "runs"
    root.mkdir()
    return root, [sys.executable, str(script)]


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as dead
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def job(mode: str) -> JobConfig:
    """A job the fake CLI acts on: its mode travels as the model name."""
    return JobConfig("evaluate", EvalConfig(model=mode))


def test_submit_stores_the_configuration(fake):
    root, command = fake
    train = JobConfig("train", EvalConfig(model="m", limit_per_lang=50),
                      TrainConfig(model="m", sampling=SamplingConfig("hybrid", 0.25, "per-pair"), steps=100))
    run_dir = jobs.submit(train, "first", root, command=command, start_worker=False)
    status = runs.read_status(run_dir)
    assert status["state"] == "queued" and status["started"] is None
    assert JobConfig.from_dict(runs.read_request(run_dir)) == train  # the configuration is the payload
    meta = json.loads((run_dir / jobs.JOB).read_text())
    assert meta["command"] == command and "hybrid-pp-a0.25" in meta["description"]
    listing = runs.list_runs(root)
    assert listing.in_progress == [run_dir] and not listing.runs


def test_an_invalid_configuration_is_refused_before_queueing(fake):
    root, command = fake
    request = JobConfig("train", EvalConfig(model="m"), TrainConfig(model="m")).to_dict()
    request["train"]["sampling"]["alpha"] = 1.5  # past the slider, straight into the queue
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 1.5"):
        jobs.submit(JobConfig.from_dict(request), "bad-alpha", root, command=command, start_worker=False)
    with pytest.raises(jobs.JobError, match="takes a JobConfig"):
        jobs.submit(request, "bad-alpha", root, command=command, start_worker=False)
    assert list(root.iterdir()) == []  # nothing was queued


@pytest.mark.parametrize("bad", ["../escape", "a/b", "..", "", "x" * 101, ".hidden"])
def test_submit_rejects_bad_names(fake, bad):
    root, command = fake
    with pytest.raises(jobs.JobError):
        jobs.submit(job("evaluate"), bad, root, command=command, start_worker=False)
    assert list(root.iterdir()) == []


def test_submit_refuses_an_existing_run(fake):
    root, command = fake
    jobs.submit(job("evaluate"), "same", root, command=command, start_worker=False)
    with pytest.raises(jobs.JobError, match="already exists"):
        jobs.submit(job("evaluate"), "same", root, command=command, start_worker=False)


def test_worker_runs_jobs_fifo_one_at_a_time(fake):
    root, command = fake
    for name in ("job-b", "job-a", "job-c"):  # submission order, not name order
        jobs.submit(job("ok"), name, root, command=command, start_worker=False)
    assert jobs.run_worker(root, idle_exit=0.1) == 3
    events = [line.split() for line in (root / "order.txt").read_text().splitlines()]
    assert [(kind, name) for kind, name, _ in events] == [
        ("start", "job-b"), ("end", "job-b"), ("start", "job-a"), ("end", "job-a"),
        ("start", "job-c"), ("end", "job-c")]
    for name in ("job-a", "job-b", "job-c"):
        assert runs.read_status(root / name)["state"] == "done"
        assert (root / name / jobs.LOG).exists()


def test_failed_job_says_why_and_is_not_a_run(fake):
    root, command = fake
    jobs.submit(job("fail"), "fails", root, command=command, start_worker=False)
    jobs.submit(job("crash"), "crashes", root, command=command, start_worker=False)
    jobs.submit(job("nometrics"), "empty", root, command=command, start_worker=False)
    jobs.run_worker(root, idle_exit=0.1)
    fails, crashes, empty = (runs.read_status(root / n) for n in ("fails", "crashes", "empty"))
    assert fails["state"] == "failed" and "missing language file" in fails["error"]
    assert crashes["state"] == "failed" and "ValueError: kaboom in the fake job" in crashes["error"]
    assert empty["state"] == "failed" and "metrics.json" in empty["error"]
    listing = runs.list_runs(root)
    assert not listing.runs and set(p.name for p in listing.unreadable) == {"fails", "crashes", "empty"}
    states = {j.run_id: j.state for j in jobs.list_jobs(root)}
    assert states == {"fails": "failed", "crashes": "failed", "empty": "failed"}


def test_cancel_queued_job(fake):
    root, command = fake
    jobs.submit(job("ok"), "later", root, command=command, start_worker=False)
    assert jobs.cancel("later", root) == "cancelled"
    assert jobs.run_worker(root, idle_exit=0.1) == 0
    assert runs.read_status(root / "later")["state"] == "cancelled"
    with pytest.raises(jobs.JobError, match="already ended"):
        jobs.cancel("later", root)
    with pytest.raises(jobs.JobError, match="No job"):
        jobs.cancel("nothing", root)


def test_detached_worker_cancels_a_running_job_and_its_children(fake):
    root, command = fake
    jobs.submit(job("sleep"), "long", root, command=command)  # starts a detached worker
    jobs.submit(job("ok"), "next", root, command=command)
    run_dir = root / "long"
    assert wait_for(lambda: (run_dir / "child.pid").exists()), jobs.tail(root / jobs.WORKER_LOG)
    assert jobs.worker_running(root)
    listed = next(j for j in jobs.list_jobs(root) if j.run_id == "long")
    assert listed.state == "running" and listed.fraction == pytest.approx(0.01)
    assert [j.run_id for j in jobs.list_jobs(root)] == ["long", "next"]  # running first, then queue
    pgid = json.loads((run_dir / jobs.JOB).read_text())["pgid"]
    assert pgid != os.getpgid(0)  # the job has its own process group (survives the page)
    child = int((run_dir / "child.pid").read_text())
    assert jobs.cancel("long", root) == "cancelling"
    assert wait_for(lambda: runs.read_status(run_dir)["state"] == "cancelled")
    assert wait_for(lambda: not pid_alive(child), 5)
    assert not runs.is_complete(run_dir)
    # the queue moves on to the next job, then the worker exits
    assert wait_for(lambda: runs.read_status(root / "next")["state"] == "done")
    assert wait_for(lambda: not jobs.worker_running(root), 10)


def test_only_one_worker(fake):
    import fcntl

    root, command = fake
    jobs.submit(job("ok"), "waiting", root, command=command, start_worker=False)
    with open(root / jobs.LOCK, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert jobs.worker_running(root)
        assert jobs.run_worker(root, idle_exit=0.1) == 0  # another worker holds the lock
        assert jobs.ensure_worker(root) is False
        assert runs.read_status(root / "waiting")["state"] == "queued"
    assert jobs.run_worker(root, idle_exit=0.1) == 1


def test_interrupted_job_is_reported_then_failed(fake):
    root, command = fake
    run_dir = jobs.submit(job("ok"), "orphan", root, command=command, start_worker=False)
    runs.write_json(run_dir / runs.STATUS, {"state": "running", "phase": "training", "step": 5, "total": 9})
    assert jobs.list_jobs(root, restart_worker=False)[0].state == "interrupted"
    jobs.run_worker(root, idle_exit=0.1)
    status = runs.read_status(run_dir)
    assert status["state"] == "failed" and "Interrupted" in status["error"]


def test_eta_within_the_phase():
    status = {"state": "running", "phase": "training", "step": 20, "total": 100, "started": 0.0,
              "updated": 150.0, "phase_started": 50.0}
    assert jobs.eta_seconds(status) == pytest.approx(100 / 20 * 80)
    without = {k: v for k, v in status.items() if k != "phase_started"}
    assert jobs.eta_seconds(without, {"phase": "training", "t0": 100.0, "step0": 10}) == pytest.approx(5 * 80)
    assert jobs.eta_seconds(without, {"phase": "encoding", "t0": 100.0, "step0": 10}) == pytest.approx(600)
    assert jobs.eta_seconds({**status, "step": 0}) is None
    assert jobs.eta_seconds({**status, "state": "done"}) is None


def test_failure_words():
    log = "Traceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'passage'\n"
    assert jobs.failure_words(1, log) == "The job exited with code 1: KeyError: 'passage'"
    assert "signal 9" in jobs.failure_words(-9, "")
    assert jobs.failure_words(2, log, "DataError: bad file") == "DataError: bad file"


def start_worker(root):
    """A worker whose pid the test knows (ensure_worker starts the same command, detached)."""
    import subprocess

    return subprocess.Popen([*jobs.default_command(), "worker", "--runs-dir", str(root), "--idle-exit", "0.5"],
                            cwd=paths.REPO_ROOT, start_new_session=True)


def kill_worker(worker, root):
    import signal

    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert not jobs.worker_running(root)  # the lock died with it


def test_a_dead_worker_is_restarted_and_adopts_the_live_job(fake):
    root, command = fake
    jobs.submit(job("slowok"), "adopted", root, command=command, start_worker=False)
    jobs.submit(job("ok"), "behind", root, command=command, start_worker=False)
    worker = start_worker(root)
    run_dir = root / "adopted"
    assert wait_for(lambda: (run_dir / "started").exists())
    kill_worker(worker, root)
    job_pid = int((run_dir / "started").read_text())
    listed = {j.run_id: j for j in jobs.list_jobs(root, restart_worker=False)}
    assert listed["adopted"].state == "running" and not listed["adopted"].stale  # the page shows Cancel
    assert listed["behind"].state == "queued"
    jobs.list_jobs(root)  # what every page does: restarts the worker, which must not kill the job
    assert wait_for(lambda: jobs.worker_running(root), 10)
    time.sleep(1.0)
    assert pid_alive(job_pid) and runs.read_status(run_dir)["state"] == "running"
    (run_dir / "go").write_text("")
    assert wait_for(lambda: runs.read_status(run_dir)["state"] == "done"), runs.read_status(run_dir)
    assert wait_for(lambda: runs.read_status(root / "behind")["state"] == "done")
    order = [line.split()[:2] for line in (root / "order.txt").read_text().splitlines()]
    assert order == [["start", "adopted"], ["end", "adopted"], ["start", "behind"], ["end", "behind"]]


def test_a_job_left_by_a_dead_worker_can_be_cancelled(fake):
    root, command = fake
    jobs.submit(job("sleep"), "orphaned", root, command=command, start_worker=False)
    worker = start_worker(root)
    run_dir = root / "orphaned"
    assert wait_for(lambda: (run_dir / "child.pid").exists())
    kill_worker(worker, root)
    child = int((run_dir / "child.pid").read_text())
    listed = jobs.list_jobs(root, restart_worker=False)[0]
    assert listed.state == "running" and listed.active and not listed.stale
    assert jobs.cancel("orphaned", root) == "cancelled"  # no worker: ended here
    assert runs.read_status(run_dir)["state"] == "cancelled"
    assert wait_for(lambda: not pid_alive(child), 5)


def test_a_killed_command_line_run_shows_interrupted(tmp_path):
    import signal
    import subprocess

    run_dir = tmp_path / "runs" / "killed"
    code = ("import sys, time; from pathlib import Path; from hybridir_core.runs import directory as runs; "
            "runs.StatusWriter(Path(sys.argv[1])).update(state='running', phase='encoding'); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], cwd=paths.REPO_ROOT)
    assert wait_for(lambda: runs.read_status(run_dir).get("state") == "running")
    status = runs.read_status(run_dir)
    assert status["pid"] == proc.pid and status["host"] and status["pid_started"] > 0
    assert runs.list_runs(tmp_path / "runs").in_progress == [run_dir] and runs.process_alive(status)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    listing = runs.list_runs(tmp_path / "runs")
    assert listing.in_progress == [] and "interrupted" in listing.unreadable[run_dir]
    assert runs.interrupted(status)
    # a reused pid (another start time) is gone too; another host cannot be told
    assert runs.process_alive({**runs.process_record(), "pid_started": 1.0}) is False
    assert runs.process_alive({**runs.process_record(), "host": "elsewhere"}) is None
    assert runs.process_alive(runs.process_record()) is True
