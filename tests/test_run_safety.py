"""Never lose or mix a result: the run schema, standard JSON, failed writes, --overwrite, symlinks,
and export / report over malformed runs."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from fixtures_runs import ALL_LOCAL, MALFORMED, add_malformed_runs, fixture_model, fixture_runs, writable_copy

from hybridir_core import cli
from hybridir_core.runs import directory as runs
from hybridir_core.runs import schema


def write_fake(run_dir, map_value=0.5, kind="eval"):
    matrix = pd.DataFrame([["xquad-r", "en", "en", map_value, 0.4, 0.9, 10]], columns=runs.MATRIX_COLUMNS)
    ranks = pd.DataFrame([["xquad-r", "q1", "en", "en", 1, 1]], columns=runs.RANK_COLUMNS)
    runs.write_eval_files(run_dir, {"run_id": run_dir.name, "kind": kind, "model": {"name": "m"}},
                          {"xquad-r": {"mono_map": map_value}}, matrix, ranks)


def disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


def files_of(run_dir):
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


# -- standard JSON -----------------------------------------------------------------------------
def test_metrics_with_nan_parse_with_a_strict_parser(tmp_path):
    runs.write_metrics(tmp_path, {"xquad-r": {"cross_map": float("nan"), "multi_map": np.float32(0.25),
                                              "n_questions": np.int64(3), "worst": float("inf")}})

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    data = json.loads((tmp_path / runs.METRICS).read_text(), parse_constant=refuse)
    assert data["datasets"]["xquad-r"] == {"cross_map": None, "multi_map": 0.25, "n_questions": 3, "worst": None}
    assert schema.read_metrics(tmp_path / runs.METRICS)["xquad-r"]["cross_map"] is None


# -- write_eval_files ----------------------------------------------------------------------------
def test_a_failed_write_keeps_the_previous_run_whole(tmp_path, monkeypatch):
    run_dir = tmp_path / "r"
    write_fake(run_dir, 0.5)
    before = files_of(run_dir)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_fake(run_dir, 0.9)
    assert files_of(run_dir) == before  # metrics.json included: the old run is still complete
    assert runs.load_run(run_dir).metrics["xquad-r"]["mono_map"] == 0.5


def test_an_evaluation_drops_a_stale_train_stats(tmp_path):
    trained, evaluated = tmp_path / "trained", tmp_path / "evaluated"
    for run_dir, kind in ((trained, "train"), (evaluated, "eval")):
        run_dir.mkdir()
        runs.write_json(run_dir / runs.TRAIN_STATS, {"steps": 10})
        write_fake(run_dir, kind=kind)
    assert (trained / runs.TRAIN_STATS).is_file()
    assert not (evaluated / runs.TRAIN_STATS).exists()


def test_completion_marker_is_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real(fd))
    write_fake(tmp_path / "r")
    names = [os.path.basename(p) for p in synced]
    assert any(n.startswith(".metrics.json.") for n in names)  # the file, before its rename
    assert "r" in names  # and the directory, after the renames


# -- the schema, through list_runs -----------------------------------------------------------------
@pytest.fixture(scope="module")
def malformed_roots(tmp_path_factory):
    roots = writable_copy(fixture_runs(tmp_path_factory), tmp_path_factory.mktemp("malformed"))
    return roots, add_malformed_runs(roots[0], ALL_LOCAL[1])


def test_every_malformed_run_is_listed_with_its_file_and_reason(malformed_roots):
    (runs_root, _), reasons = malformed_roots
    listing = runs.list_runs(runs_root)
    assert sorted(r.run_id for r in listing.runs) == sorted(ALL_LOCAL)
    said = {p.name: why for p, why in listing.unreadable.items()}
    assert set(said) == set(MALFORMED)
    for name, words in reasons.items():
        assert words in said[name], (name, said[name])
        assert str(runs_root / name) in said[name]  # the file is named


def test_a_symlink_out_of_the_root_is_not_followed(tmp_path):
    outside, root = tmp_path / "elsewhere", tmp_path / "runs"
    write_fake(outside / "secret")
    write_fake(root / "mine")
    (root / "linked").symlink_to(outside / "secret")
    (root / "inner").symlink_to(root / "mine")  # a link inside the root is a run
    listing = runs.list_runs(root)
    assert sorted(r.run_id for r in listing.runs) == ["inner", "mine"]
    assert "outside" in listing.unreadable[root / "linked"] and "not followed" in listing.unreadable[root / "linked"]
    assert sorted(r.run_id for r in runs.list_runs(root, follow_links=True).runs) == ["inner", "linked", "mine"]


# -- export and report over malformed runs --------------------------------------------------------
def test_export_skips_unreadable_runs_with_one_line_each(malformed_roots, tmp_path, capsys):
    (runs_root, _), _ = malformed_roots
    out = tmp_path / "c.csv"
    dirs = [str(p) for p in sorted(runs_root.iterdir())]
    assert cli.main(["export", *dirs, "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert sorted(line.split(":")[0] for line in err) == sorted(f"skipped {runs_root / n}" for n in MALFORMED)
    frame = pd.read_csv(out)
    assert sorted(frame.run.unique()) == sorted(ALL_LOCAL)
    assert {"languages", "limit_per_lang", "evaluation", "protocol"} <= set(frame.columns)
    assert set(frame.languages) == {"de en es"} and set(frame.limit_per_lang) == {30}


def test_export_strict_refuses_and_writes_nothing(malformed_roots, tmp_path, capsys):
    (runs_root, _), _ = malformed_roots
    out = tmp_path / "c.csv"
    code = cli.main(["export", str(runs_root / ALL_LOCAL[0]), str(runs_root / "bad-no-datasets"),
                     "--out", str(out), "--strict"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert len(err) == 1 and "bad-no-datasets" in err[0] and "'datasets'" in err[0]
    assert cli.main(["export", str(runs_root / "bad-no-datasets"), str(runs_root / "bad-model-string"),
                     "--out", str(out)]) == 2
    assert "none of the 2 run folder(s)" in capsys.readouterr().err


def test_report_skips_malformed_runs(malformed_roots, tmp_path, capsys):
    (runs_root, _), _ = malformed_roots
    out = tmp_path / "f.md"
    assert cli.main(["report", str(runs_root), "--resamples", "20", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert all(f"skipped {runs_root / n}:" in err for n in MALFORMED)
    assert f"Findings over {len(ALL_LOCAL)} runs" in out.read_text()


# -- evaluate / train into a complete run ------------------------------------------------------------
class ConstantEncoder:
    """Every text the same vector (cheap; the numbers do not matter here)."""

    def get_sentence_embedding_dimension(self):
        return 4

    def encode(self, texts, **kwargs):
        return np.tile(np.array([1, 0, 0, 0], dtype=np.float32), (len(texts), 1))


def use_constant_model(monkeypatch) -> None:
    """Every loader of a model (the registry and the modules that imported its function) gets the constant one."""
    from hybridir_core.evaluation import evaluate as evaluation
    from hybridir_core.jobs import pipeline
    from hybridir_core.models import registry as models

    loaded = fixture_model(ConstantEncoder(), "constant", params=0, layers=0, dim=4, scale="test")
    for module in (models, evaluation, pipeline):
        monkeypatch.setattr(module, "ensure_loaded", lambda model, options=None: loaded)


@pytest.fixture
def cheap_model(monkeypatch):
    use_constant_model(monkeypatch)


def evaluate(out, *extra):
    return cli.main(["evaluate", "--model", "constant", "--dataset", "mlqa-r", "--languages", "de", "en",
                     "--limit-per-lang", "5", "--out", str(out), *extra])


def test_writing_into_a_complete_run_needs_overwrite(tmp_path, cheap_model, capsys):
    out = tmp_path / "runs" / "zs"
    assert evaluate(out) == 0
    before = files_of(out)
    capsys.readouterr()
    assert evaluate(out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "--overwrite" in err[0]
    assert files_of(out) == before  # status.json included: nothing was touched
    code = cli.main(["train", "--model", "constant", "--out", str(out)])
    assert code == 2 and "--overwrite" in capsys.readouterr().err


def test_overwrite_replaces_a_trained_run_without_its_train_stats(tmp_path, cheap_model):
    out = tmp_path / "runs" / "tr"
    assert evaluate(out) == 0
    config = json.loads((out / runs.CONFIG).read_text())
    runs.write_json(out / runs.CONFIG, {**config, "kind": "train", "train": {"steps": 3}})
    runs.write_json(out / runs.TRAIN_STATS, {"steps": 3})
    (out / "model").mkdir()
    assert evaluate(out, "--overwrite") == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["tr"]  # the staging folder is gone
    assert not (out / runs.TRAIN_STATS).exists() and not (out / "model").exists()
    config = json.loads((out / runs.CONFIG).read_text())
    assert config["kind"] == "eval" and config["run_id"] == "tr"
    assert ".overwrite" not in (out / runs.CONFIG).read_text()
    assert runs.read_status(out)["state"] == "done"
    assert runs.load_run(out).config["eval"]["languages"] == ["de", "en"]


def test_a_failed_overwrite_keeps_the_old_run_whole(tmp_path, cheap_model, monkeypatch, capsys):
    out = tmp_path / "runs" / "zs"
    assert evaluate(out, "--languages", "de", "en", "es") == 0
    before = files_of(out)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    capsys.readouterr()
    assert evaluate(out, "--overwrite") == 1
    lines = capsys.readouterr().err.splitlines()
    replacing = [line for line in lines if line.startswith("replacing")]  # says what the new run changes
    assert len(replacing) == 1 and "eval.languages ['de', 'en', 'es'] there, ['de', 'en'] asked" in replacing[0]
    err = [line for line in lines if line.startswith("error")]  # not progress
    assert len(err) == 1 and "No space left" in err[0] and f"{out} is kept as it was" in err[0]
    assert files_of(out) == before
    assert runs.load_run(out).config["eval"]["languages"] == ["de", "en", "es"]
    assert [r.run_id for r in runs.list_runs(tmp_path / "runs").runs] == ["zs"]  # staging is hidden
    monkeypatch.undo()
    use_constant_model(monkeypatch)  # the undo dropped the cheap model too
    assert evaluate(out, "--overwrite") == 0  # a retry clears what the failed one left
    assert "the same protocol and recipe" not in capsys.readouterr().err
    assert evaluate(out, "--overwrite") == 0
    assert "(the same protocol and recipe)" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["zs"]
    assert runs.load_run(out).config["eval"]["languages"] == ["de", "en"]


def test_swap_in_falls_back_to_two_renames(tmp_path, monkeypatch):
    write_fake(tmp_path / "r", 0.5)
    staged = runs.staging_dir(tmp_path / "r")
    write_fake(staged, 0.7)
    monkeypatch.setattr(runs, "_exchange", lambda a, b: False)
    runs.swap_in(staged, tmp_path / "r")
    assert runs.load_run(tmp_path / "r").metrics["xquad-r"]["mono_map"] == 0.7
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
