"""The dashboard opens on the study (streamlit AppTest over the shipped reference runs): MLQA-R,
the three recipes at one rung, the α curves, remembered choices, readable tables, and a Train
page that says how long a run takes and offers a first run of a few minutes."""

import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from test_app import APP, charts

from hybridir_core import paths
from hybridir_core.jobs import queue as jobs

REFERENCE = paths.REPO_ROOT / "results" / "reference"
STUDY = ["me5-small_mono_s0 (reference run)", "me5-small_hybrid-a0.5_s0 (reference run)",
         "me5-small_cross_s0 (reference run)"]


@pytest.fixture
def study(tmp_path, monkeypatch):
    """The app over the shipped study runs and an empty local runs folder (no worker starts)."""
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(REFERENCE))
    monkeypatch.setattr(jobs, "ensure_worker", lambda root: False)
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    yield at
    st.cache_data.clear()


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(frame_element) -> "pa.Table":
    """The text a reader sees in a dataframe (the Styler's display values)."""
    return pa.ipc.open_stream(frame_element.proto.arrow_data.styler.display_values).read_all().to_pandas()


def test_pages_open_on_the_study_and_remember_the_readers_choices(study):
    at = visit(study, "views/tradeoffs.py")
    assert at.sidebar.selectbox(key="trade_dataset").value == "mlqa-r"
    assert at.multiselect(key="trade_sweeps").value == ["me5-small · 200 steps · per-batch",
                                                         "me5-small-d2 · 200 steps · per-batch"]
    curve = charts(at)[0]
    assert "α" in curve.layout.title.text and not any("No α sweep" in i.value for i in at.info)

    visit(at, "views/bias.py")
    assert at.multiselect(key="bias_runs").value == STUDY
    assert [t.name for t in charts(at)[0].data] == STUDY
    at.selectbox(key="bias_rung").set_value("me5-small-d2").run()
    assert at.multiselect(key="bias_runs").value == [s.replace("me5-small_", "me5-small-d2_") for s in STUDY]

    visit(at, "views/matrices.py")  # the rung picked on Language bias is kept
    assert at.selectbox(key="matrix_run").value == "me5-small-d2_hybrid-a0.5_s0 (reference run)"
    assert at.selectbox(key="matrix_other").value == "me5-small-d2_mono_s0 (reference run)"


def test_tables_are_written_for_reading(study):
    at = visit(study, "views/home.py")
    table = shown(at.dataframe[0]).set_index("run")
    row = table.loc["me5-small_hybrid-a0.5_s0"]
    assert row["xquad-r Mono mAP"] == "–" and row["α"] == "0.5" and row["mix"] == "per-batch"
    assert len(row["mlqa-r Mono mAP"].split(".")[1]) == 3 and "." not in row["mlqa-r rank dist."]
    assert table.loc["zs-me5-small", "seed"] == "–" and at.dataframe[0].proto.placeholder == "–"


def test_train_page_estimates_the_run_and_offers_a_quick_first_run(study):
    at = visit(study, "views/train.py")
    command = at.code[0].value
    assert "train --model me5-small " in command and "--steps 200" in command
    assert "--corpus" not in command  # XQuAD-R triplets are the CLI's default corpus: the study
    estimate = next(i.value for i in at.info if "Estimated time" in i.value)
    assert "training" in estimate and "measured on the shipped runs' machines" in estimate
    at.button(key="preset_quick").click().run()
    assert at.code[0].value.startswith("python -m hybridir_core evaluate --model me5-small --dataset mlqa-r "
                                       "--limit-per-lang 50")
    quick = next(i.value for i in at.info if "Estimated time" in i.value)
    assert "min" in quick and " h " not in quick and "training" not in quick
    at.button(key="preset_study").click().run()
    assert at.code[0].value == command.replace(command.split("--out ")[1], at.code[0].value.split("--out ")[1])
