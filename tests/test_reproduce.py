"""``reproduce``: the plan is exactly the shipped runs, each job rebuilds its run's protocol and recipe."""

from pathlib import Path

from hybridir_core import cli
from hybridir_core.jobs import pipeline, reproduce
from hybridir_core.runs import directory as runs

RESULTS = Path(__file__).resolve().parent.parent / "results"


def test_the_plan_is_every_shipped_run_and_nothing_else():
    planned = reproduce.plan(RESULTS)
    shipped = {p for p in RESULTS.glob("*/*") if (p / runs.CONFIG).is_file()}
    assert {p.shipped for p in planned} == shipped and len(planned) == len(shipped)
    assert {p.part for p in planned} == set(reproduce.PARTS)


def test_each_job_rebuilds_the_protocol_and_recipe_its_run_records():
    for item in reproduce.plan(RESULTS):
        assert pipeline.mismatch(item.shipped, item.cell.job) is None, item.shipped


def test_only_picks_parts():
    sweeps = reproduce.plan(RESULTS, ["sweeps"])
    assert sweeps and all(p.cell.job.train.sampling.alpha in (0.25, 0.75) for p in sweeps)
    assert {p.part for p in reproduce.plan(RESULTS, ["ladder", "static"])} == {"ladder", "static"}


def test_dry_run_lists_every_run_with_an_eta_and_writes_nothing(tmp_path, capsys):
    assert cli.main(["reproduce", "--dry-run", "--out", str(tmp_path / "out")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("build ")]
    assert len(lines) == len(reproduce.plan(RESULTS)) + 1  # every shipped run, then the total
    assert all("ETA " in line and "ETA ?" not in line for line in lines[:-1])
    assert not (tmp_path / "out").exists()


def test_a_finished_run_here_is_complete_and_its_timing_is_measured_here(tmp_path, capsys):
    item = reproduce.plan(RESULTS, ["ladder"])[0]
    import shutil

    shutil.copytree(item.shipped, tmp_path / item.folder / item.cell.run_id)
    rates = reproduce.measured_rates([item], tmp_path)
    assert rates.eta(item.cell)[1] == "measured here"
    assert cli.main(["reproduce", "--only", "ladder", "--dry-run", "--out", str(tmp_path)]) == 0
    assert "complete" in capsys.readouterr().out.splitlines()[0]
