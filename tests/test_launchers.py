"""Slurm runs as the dashboard shows them, against stand-in squeue/scancel scripts on PATH.

(tests/test_slurm.py runs the same code against a real scheduler; this file needs none.)
"""

import os
import stat
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from hybridir_core import paths
from hybridir_core.jobs import launchers
from hybridir_core.runs import directory as runs

REPO = Path(__file__).resolve().parent.parent
SQUEUE = """#!/bin/sh
job=""
while [ $# -gt 0 ]; do [ "$1" = "-j" ] && job=$2; shift; done
if [ -n "$job" ]; then awk -v j="$job" '$1 == j {print $2}' "$FAKE_SLURM/states"; else cat "$FAKE_SLURM/states"; fi
"""
SCANCEL = """#!/bin/sh
sed -i "s/^$1 .*/$1 CANCELLED/" "$FAKE_SLURM/states"
"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("squeue", SQUEUE), ("scancel", SCANCEL), ("sacct", "#!/bin/sh\nexit 1\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(tmp_path))
    (tmp_path / "states").write_text("12 RUNNING\n13_1 PENDING\n14 TIMEOUT\n")
    root = tmp_path / "runs"
    for run_id, job_id, status in (("a", "12", {"state": "running", "phase": "training", "step": 3, "total": 10}),
                                   ("b", "13_1", {"state": "queued"}), ("c", "14", {"state": "running"})):
        (root / run_id).mkdir(parents=True)
        runs.write_json(root / run_id / launchers.LAUNCH_FILE, {"launcher": "slurm", "job_id": job_id})
        runs.write_json(root / run_id / runs.STATUS, status)
    (root / "local-run").mkdir()  # not sent to slurm: not listed
    return root


def test_slurm_runs_carry_the_scheduler_state(fake_slurm):
    listed = {r.run_id: r for r in launchers.slurm_runs(fake_slurm)}
    assert {k: (r.job_id, r.state, r.active) for k, r in listed.items()} == {
        "a": ("12", "running", True), "b": ("13_1", "pending", True), "c": ("14", "failed", False)}
    assert listed["a"].status["step"] == 3
    assert launchers.scheduler_state(fake_slurm / "local-run") is None
    assert launchers.slurm_state("99") == "unknown"  # gone from squeue, no accounting


def test_cancel_runs_scancel_and_marks_the_run(fake_slurm):
    assert launchers.cancel(fake_slurm / "b", wait_s=1) == "cancelled"
    assert runs.read_status(fake_slurm / "b")["state"] == "cancelled"
    assert launchers.scheduler_state(fake_slurm / "a") == "running"


def test_train_page_shows_slurm_jobs_and_cancels_them(fake_slurm, monkeypatch, tmp_path):
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(fake_slurm))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(tmp_path / "ref"))
    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(m.value for m in at.markdown)
    assert "Slurm job 12 · **running**" in text and "Slurm job 13_1 · **pending**" in text
    assert "Slurm job 14 · **failed**" in text
    assert {b.key for b in at.button if b.key and b.key.startswith("scancel-")} == {"scancel-a", "scancel-b"}
    next(b for b in at.button if b.key == "scancel-a").click().run()
    assert runs.read_status(fake_slurm / "a")["state"] == "cancelled"
    assert "12 CANCELLED" in (tmp_path / "states").read_text()
