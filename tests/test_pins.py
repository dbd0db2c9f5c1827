"""Built-in data files that are not the pinned ones (``data.pins``) are recorded and separate runs:
a run on an edited copy of MLQA-R or XQuAD-R never pools with, or is skipped as, a run on the
published files."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from hybridir_core import paths
from hybridir_core.config import STUDY_TRAIN, EvalConfig, JobConfig
from hybridir_core.data import pins
from hybridir_core.data.corpora import corpus_unpinned
from hybridir_core.data.lareqa import load_lareqa, unpinned_sources
from hybridir_core.jobs import pipeline
from hybridir_core.runs import directory as runs
from hybridir_core.runs import protocol


@pytest.fixture
def published() -> Path:
    root = paths.find_data("mlqa-r/en.json")
    if root is None:
        pytest.skip("no MLQA-R files here")
    return root


@pytest.fixture
def edited(published, tmp_path) -> Path:
    """A copy of the published XQuAD-R and MLQA-R in which mlqa-r/de.json and xquad-r/de.json
    gained one trailing space (the same questions, other bytes)."""
    for name in ("xquad-r", "mlqa-r"):
        shutil.copytree(published / name, tmp_path / name)
        with open(tmp_path / name / "de.json", "a", encoding="utf-8") as fh:
            fh.write(" ")
    return tmp_path


def test_the_published_files_are_the_pinned_ones(published):
    assert load_lareqa("mlqa-r", published, ["de", "en"]).source is None
    assert unpinned_sources(["mlqa-r", "xquad-r"], None, published) == {}
    assert corpus_unpinned("xquad", ["de", "en"], published) == {}


def test_an_edited_file_is_recorded_with_its_sha256(edited):
    data = load_lareqa("mlqa-r", edited, ["de", "en"])
    assert list(data.source["unpinned"]) == ["mlqa-r/de.json"]
    assert data.source["unpinned"]["mlqa-r/de.json"] != pins.pinned_digests()["mlqa-r/de.json"]
    assert load_lareqa("mlqa-r", edited, ["en"]).source is None  # only the files read count
    assert unpinned_sources(["mlqa-r"], ["de", "en"], edited) == {"mlqa-r": data.source}
    # training on XQuAD-R reads its languages' files and all of MLQA-R (the exclusion)
    assert sorted(corpus_unpinned("xquad", ["en", "es"], edited)) == ["mlqa-r/de.json"]
    assert sorted(corpus_unpinned("xquad", ["de", "en"], edited)) == ["mlqa-r/de.json", "xquad-r/de.json"]


def _config(**extra) -> dict:
    return {"model": {"name": "m"}, "eval": EvalConfig(datasets=("mlqa-r",)).to_dict(),
            "train": STUDY_TRAIN.to_dict(), **extra}


def test_unpinned_data_separates_runs_and_pinned_data_keeps_the_id():
    base = _config()
    ids = {protocol.protocol_id(protocol.fingerprint(c)) for c in (
        base, _config(dataset_sources={}), _config(train={**STUDY_TRAIN.to_dict(), "unpinned_data": None}))}
    assert len(ids) == 1
    evaluated = _config(dataset_sources={"mlqa-r": {"unpinned": {"mlqa-r/de.json": "ab"}}})
    trained = _config(train={**STUDY_TRAIN.to_dict(), "unpinned_data": {"xquad-r/de.json": "cd"}})
    assert protocol.differing_fields(protocol.fingerprint(base), protocol.fingerprint(evaluated)) == \
        ["eval.unpinned_data"]
    assert protocol.differing_fields(protocol.fingerprint(base), protocol.fingerprint(trained)) == \
        ["train.unpinned_data"]


def test_a_sweep_on_edited_files_does_not_skip_runs_made_on_the_published_ones(published, edited, tmp_path):
    def job(data_dir: Path) -> JobConfig:
        train = dataclasses.replace(STUDY_TRAIN, model="m", data_dir=str(data_dir))
        return JobConfig("train", EvalConfig(model="m", datasets=("mlqa-r",), data_dir=str(data_dir)), train)

    run_dir = tmp_path / "runs" / "m_mono_s0"
    run_dir.mkdir(parents=True)
    runs.write_json(run_dir / runs.CONFIG, protocol.job_record(job(published)))
    for name in (runs.METRICS, runs.MATRIX, runs.RANKS):
        (run_dir / name).write_text("x")
    assert pipeline.mismatch(run_dir, job(published)) is None
    why = pipeline.mismatch(run_dir, job(edited))
    assert "eval.unpinned_data None there" in why and "train.unpinned_data None there" in why
