"""The run directory: atomic writes, completeness, listing that survives bad runs."""

import json

import pandas as pd
import pytest

from hybridir_core.runs import directory as runs


def _write_fake(run_dir, map_value=0.5):
    matrix = pd.DataFrame([["xquad-r", "en", "en", map_value, 0.4, 0.9, 10]], columns=runs.MATRIX_COLUMNS)
    ranks = pd.DataFrame([["xquad-r", "q1", "en", "en", 1, 1]], columns=runs.RANK_COLUMNS)
    runs.write_eval_files(run_dir, {"run_id": run_dir.name, "model": {"name": "m"}},
                          {"xquad-r": {"mono_map": map_value}}, matrix, ranks)


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "x.json"
    runs.write_json(target, {"a": 1})

    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        runs.atomic_write(target, boom)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_incomplete_run_is_not_complete(tmp_path):
    run_dir = tmp_path / "r1"
    _write_fake(run_dir)
    assert runs.is_complete(run_dir)
    (run_dir / "metrics.json").unlink()
    assert not runs.is_complete(run_dir)
    with pytest.raises(runs.RunError, match="incomplete"):
        runs.load_run(run_dir)


def test_list_runs_reports_bad_runs_and_keeps_good_ones(tmp_path):
    _write_fake(tmp_path / "good")
    _write_fake(tmp_path / "bad-json")
    (tmp_path / "bad-json" / "config.json").write_text("{not json")
    _write_fake(tmp_path / "bad-columns")
    (tmp_path / "bad-columns" / "matrix.csv").write_text("a,b\n1,2\n")
    running = tmp_path / "running"
    running.mkdir()
    runs.StatusWriter(running).update(state="running", phase="training")
    (tmp_path / "failed").mkdir()
    runs.StatusWriter(tmp_path / "failed").update(state="failed", error="boom")
    listing = runs.list_runs(tmp_path, reference_roots=(tmp_path / "none",))
    assert [r.run_id for r in listing.runs] == ["good"]
    assert {p.name for p in listing.unreadable} == {"bad-json", "bad-columns", "failed"}
    assert "not valid JSON" in listing.unreadable[tmp_path / "bad-json"]
    assert [p.name for p in listing.in_progress] == ["running"]


def test_a_folder_of_runs_is_not_an_incomplete_run(tmp_path):
    """``sweep --out runs/qa`` leaves runs/qa/<run>: a folder of runs, counted, not a broken run."""
    _write_fake(tmp_path / "top")
    _write_fake(tmp_path / "qa" / "a")
    runs.StatusWriter(tmp_path / "qa" / "b").update(state="failed", error="boom")
    (tmp_path / "qa" / "notes").mkdir()
    (tmp_path / "empty").mkdir()  # a job's folder before its first status write stays a run
    listing = runs.list_runs(tmp_path)
    assert [r.run_id for r in listing.runs] == ["top"]
    assert listing.folders == {tmp_path / "qa": 2}
    assert set(listing.unreadable) == {tmp_path / "empty"}


def test_reference_runs_are_labelled(tmp_path):
    _write_fake(tmp_path / "mine" / "a")
    _write_fake(tmp_path / "ref" / "b")
    listing = runs.list_runs(tmp_path / "mine", reference_roots=(tmp_path / "ref",))
    assert {(r.run_id, r.reference) for r in listing.runs} == {("a", False), ("b", True)}


def test_signature_changes_when_a_run_changes(tmp_path):
    _write_fake(tmp_path / "a")
    before = runs.runs_signature(tmp_path)
    _write_fake(tmp_path / "a", map_value=0.7)
    assert runs.runs_signature(tmp_path) != before


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "..", ".hidden", "a" * 101, "x..y"])
def test_run_id_validation_rejects(bad):
    with pytest.raises(runs.RunError):
        runs.validate_run_id(bad)


def test_run_id_validation_accepts():
    assert runs.validate_run_id("me5-small_hybrid-a0.5_s0") == "me5-small_hybrid-a0.5_s0"
