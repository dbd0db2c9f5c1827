"""The dashboard under streamlit.testing.v1.AppTest, on fixture runs made by the real code."""

import ast
import base64
import json
import shutil
import time
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest
import streamlit as st
from fixtures_runs import ALL_LOCAL, REFERENCE, fixture_runs, writable_copy
from streamlit.testing.v1 import AppTest

from hybridir_core import devices, paths
from hybridir_core.analysis import export
from hybridir_core.config import EvalConfig, JobConfig, SamplingConfig
from hybridir_core.jobs import queue as jobs
from hybridir_core.runs import directory as runs

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
PAGES = {
    "views/home.py": "hybridir: hybrid batches for multilingual retrieval",
    "views/answer.py": "The answer",
    "views/train.py": "Train & evaluate",
    "views/matrices.py": "Language matrices",
    "views/tradeoffs.py": "Trade-offs",
    "views/bias.py": "Language bias",
    "views/compare.py": "Compare & export",
}


@pytest.fixture(scope="session")
def fixture_roots(tmp_path_factory):
    return fixture_runs(tmp_path_factory)


@pytest.fixture
def roots(fixture_roots, monkeypatch):
    """Point the dashboard at the fixture runs; fresh caches for every test."""
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(fixture_roots[0]))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(fixture_roots[1]))
    st.cache_data.clear()
    yield fixture_roots
    st.cache_data.clear()


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page != "views/home.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def arr(value) -> np.ndarray:
    """A Plotly array, plain or typed (``{"dtype", "bdata", "shape"}``) in the chart JSON."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return data.reshape(shape) if shape else data
    return np.asarray(value)


def charts(at: AppTest) -> list:
    return [pio.from_json(el.proto.spec) for el in at.get("plotly_chart")]


def captured_downloads(monkeypatch) -> list:
    """Every media storage AppTest creates, to read a download button's bytes back."""
    import streamlit.testing.v1.app_test as app_test

    stores = []
    base = app_test.MemoryMediaFileStorage

    class Recording(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    return stores


def download_bytes(stores: list, button) -> bytes:
    name = button.proto.url.rsplit("/", 1)[-1]
    for store in reversed(stores):
        try:
            return store.get_file(name).content
        except Exception:
            continue
    raise AssertionError(f"no stored file for {button.proto.url}")


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders(roots, page):
    at = open_page(page)
    assert at.title[0].value == PAGES[page]
    assert not at.error


def test_home_lists_runs_and_reference_apart(roots):
    at = open_page("views/home.py")
    table = at.dataframe[0].value
    assert set(table.run) == set(ALL_LOCAL) | {REFERENCE}
    assert table.set_index("run").loc[REFERENCE, "source"] == "reference"
    assert {"xquad-r Mono mAP", "xquad-r Cross mAP", "xquad-r Multi mAP", "xquad-r rank dist."} <= set(table.columns)
    assert [m.value for m in at.metric][:2] == ["5", "1"]


@pytest.mark.parametrize("page", list(PAGES))
def test_empty_runs_folder_shows_how_to_start(tmp_path, monkeypatch, page):
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "none-yet"))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(tmp_path / "no-reference"))
    st.cache_data.clear()
    at = open_page(page)
    assert not at.error
    if page != "views/train.py":
        assert any("python -m hybridir_core evaluate" in c.value for c in at.code)


def test_tradeoffs_seed_table_appears_with_a_second_seed(roots, tmp_path, monkeypatch):
    runs_root, ref_root = writable_copy(roots, tmp_path)
    second = runs_root / "tr-mono-s2"
    shutil.copytree(runs_root / "tr-mono-s1", second)
    config = json.loads((second / runs.CONFIG).read_text())
    config["train"]["seed"] = 2
    runs.write_json(second / runs.CONFIG, config)
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(runs_root))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(ref_root))
    st.cache_data.clear()
    at = open_page("views/tradeoffs.py")
    assert "Across seeds" in [h.value for h in at.subheader]
    seeds = at.dataframe[0].value.set_index("training")
    assert seeds.loc["mono", "seeds"] == 2 and seeds.loc["mono", "seed ids"] == "1,2"
    assert seeds.loc["mono", "Mono mAP (sd)"] == 0  # the copy has the same numbers


def test_malformed_run_is_listed_and_the_others_still_show(roots, tmp_path, monkeypatch):
    runs_root, ref_root = writable_copy(roots, tmp_path)
    broken = runs_root / "broken-run"
    shutil.copytree(runs_root / ALL_LOCAL[0], broken)
    (broken / runs.METRICS).write_text("{ not json")
    half = runs_root / "half-run"
    half.mkdir()
    runs.write_json(half / runs.STATUS, {"state": "failed", "error": "boom"})
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(runs_root))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(ref_root))
    st.cache_data.clear()
    at = open_page("views/home.py")
    warning = " ".join(w.value for w in at.warning)
    assert "broken-run" in warning and "not valid JSON" in warning and "half-run" not in warning
    unfinished = " ".join(m.value for m in at.markdown)
    assert "half-run" in unfinished and "status: failed" in unfinished
    assert len(at.dataframe[0].value) == len(ALL_LOCAL) + 1
    at.switch_page("views/matrices.py").run()
    assert not at.exception and charts(at)


def test_matrix_widgets_change_the_heatmap(roots):
    at = open_page("views/matrices.py")
    heat, diff = charts(at)  # opens on the study's pair: hybrid α = 0.5 minus mono, one rung and seed
    assert at.selectbox(key="matrix_run").value == "tr-hybrid-a0.5-s1"
    assert at.selectbox(key="matrix_other").value == "tr-mono-s1"
    at.selectbox(key="matrix_other").set_value("— none —").run()
    (heat,) = charts(at)
    assert list(heat.data[0].x) == ["de", "en", "es", "multi"] and "mAP" in heat.data[0].hovertemplate
    run = runs.load_run(roots[0] / at.selectbox(key="matrix_run").value)
    expected = run.matrix.set_index(["query_lang", "candidate_lang"])
    assert arr(heat.data[0].z)[0][0] == pytest.approx(expected.loc[("de", "de"), "map"])

    at.radio(key="matrix_metric").set_value("Recall@1").run()
    (heat,) = charts(at)
    assert "Recall@1" in heat.data[0].hovertemplate
    assert arr(heat.data[0].z)[0][0] == pytest.approx(expected.loc[("de", "de"), "recall_at_1"])

    other = at.selectbox(key="matrix_other").options[1]
    at.selectbox(key="matrix_other").set_value(other).run()
    heat, diff = charts(at)
    assert diff.data[0].zmid == 0 and "−" in diff.layout.title.text

    at.checkbox(key="matrix_tests").check().run()
    assert not at.exception
    _, diff = charts(at)
    assert "Holm" in diff.layout.title.text

    at.selectbox(key="drill_query").set_value("es").run()
    at.selectbox(key="drill_candidate").set_value("multi").run()
    assert any("queries in es against multi candidates" in c.value for c in at.caption)
    cell = at.dataframe[0].value
    assert len(cell) == 30 and "AP B" in cell.columns


def test_tradeoffs_published_toggle_and_alpha_curve(roots):
    at = open_page("views/tradeoffs.py")
    curve, scatter = charts(at)
    groups = {t.legendgroup for t in scatter.data}
    assert groups == {"local", "reference", "published"}
    assert sum(len(arr(t.x)) for t in scatter.data if t.legendgroup == "local") == len(ALL_LOCAL)
    assert sum(len(arr(t.x)) for t in scatter.data if t.legendgroup == "reference") == 1
    assert "α" in curve.layout.title.text
    at.checkbox(key="trade_published").uncheck().run()
    _, scatter = charts(at)
    assert {t.legendgroup for t in scatter.data} == {"local", "reference"}
    at.selectbox(key="trade_y").set_value("Multi mAP").run()
    _, scatter = charts(at)
    assert scatter.layout.yaxis.title.text == "Multi mAP"
    # the published table is separate from the local one
    assert any("paper: " in str(v) for v in at.dataframe[1].value.run)
    assert not any("paper: " in str(v) for v in at.dataframe[0].value.run)


def test_bias_page_runs_side_by_side_and_plot_kind(roots):
    at = open_page("views/bias.py")
    distance, candidate = charts(at)
    assert [t.type for t in distance.data] == ["box"] * 3  # mono, hybrid α = 0.5 and cross of one rung
    assert [t.name for t in distance.data] == ["tr-mono-s1", "tr-hybrid-a0.5-s1", "tr-cross-s1"]
    at.radio(key="bias_kind").set_value("violin").run()
    distance, candidate = charts(at)
    assert {t.type for t in distance.data} == {"violin"} and {t.type for t in candidate.data} == {"violin"}
    at.multiselect(key="bias_runs").set_value([at.multiselect(key="bias_runs").options[0]]).run()
    distance, _ = charts(at)
    assert len(distance.data) == 1


def test_compare_download_is_the_cli_csv(roots, monkeypatch):
    stores = captured_downloads(monkeypatch)
    at = open_page("views/compare.py")
    listing = runs.list_runs(roots[0], reference_roots=(roots[1],))
    study = [next(r for r in listing.runs if r.run_id == name)
             for name in ("tr-mono-s1", "tr-hybrid-a0.5-s1", "tr-cross-s1")]  # the page opens on these
    expected = export.to_csv_bytes(export.comparison_frame(study))
    data = download_bytes(stores, at.get("download_button")[0])
    assert data == expected
    lines = data.decode().splitlines()
    assert lines[0].startswith("run,reference,model") and len(lines) == 1 + 3 * len(study)
    # fewer runs picked, fewer rows
    at.multiselect(key="compare_runs").set_value(at.multiselect(key="compare_runs").options[:2]).run()
    data = download_bytes(stores, at.get("download_button")[0])
    assert len(data.decode().splitlines()) == 1 + 3 * 2
    assert at.get("download_button")[0].proto.ignore_rerun


def test_compare_significance_table(roots):
    at = open_page("views/compare.py")
    table = at.dataframe[1].value
    assert list(table.measure) == ["mono", "cross", "multi", "rank_distance", "lpr"]
    per_cell = table.set_index("measure").n_queries  # Cross counts each (query, other language) cell
    assert per_cell.drop("cross").eq(90).all() and per_cell["cross"] == 180 and table.p_holm.between(0, 1).all()
    at.selectbox(key="compare_b").set_value(at.selectbox(key="compare_a").value).run()
    assert any("two different runs" in i.value for i in at.info)


@pytest.fixture
def train_page(tmp_path, monkeypatch):
    """The Train page over empty run folders; launching only queues (no worker runs)."""
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(tmp_path / "ref"))
    monkeypatch.setattr(jobs, "ensure_worker", lambda root: False)
    st.cache_data.clear()
    return open_page("views/train.py")


def run_name(at):
    return next(t for t in at.text_input if t.label == "Run name")


def test_train_page_takes_a_hub_id_a_dataset_folder_and_prompts(train_page):
    at = train_page
    next(r for r in at.radio if r.label == "What to run").set_value("Zero-shot evaluation only").run()
    at.text_input(key="own_model").input("intfloat/multilingual-e5-base").run()
    at.text_input(key="own_dataset").input(str(REPO / "tests" / "data" / "tiny-beir")).run()
    at.text_input(key="query_prompt").input("query: ").run()
    command = at.code[0].value
    assert "evaluate --model intfloat/multilingual-e5-base --dataset " in command
    assert "tiny-beir" in command and "--query-prompt 'query: '" in command and not at.error


def test_train_page_validates_launches_and_cancels(train_page, tmp_path):
    at = train_page
    command = at.code[0].value
    assert "train --model" in command and "--sampling hybrid --alpha 0.5" in command
    alpha = next(s for s in at.slider if s.label.startswith("α"))
    alpha.set_value(0.25).run()
    assert "--alpha 0.25" in at.code[0].value
    sampling = next(r for r in at.radio if r.label == "Batch sampling")
    sampling.set_value("mono").run()
    assert "--alpha" not in at.code[0].value and "--sampling mono" in at.code[0].value
    assert next(s for s in at.slider if s.label.startswith("α")).disabled
    run_name(at).input("mono-run").run()
    at.button(key="launch").click().run()
    queued = JobConfig.from_dict(runs.read_request(tmp_path / "runs" / "mono-run"))
    assert queued.train.sampling == SamplingConfig("mono") and queued.train.sampling.alpha == 1.0
    assert queued.eval.limit_per_lang is None and queued.eval.datasets == ("mlqa-r",)  # the study: every question
    assert queued.train.corpus == "xquad"  # the study's protocol: QA triplets, evaluated on MLQA-R only
    assert "--corpus" not in at.code[0].value and "--limit-per-lang" not in at.code[0].value  # the CLI's defaults
    corpus = next(r for r in at.radio if r.label == "Training data")
    assert next(s for s in at.selectbox if s.label == "Evaluate on").options == ["mlqa-r"]
    corpus.set_value("xnli").run()
    assert "--corpus xnli" in at.code[0].value  # the study's corpus (xquad) is the command line's default
    assert next(s for s in at.selectbox if s.label == "Evaluate on").options == ["xquad-r", "mlqa-r", "all"]
    mode = next(r for r in at.radio if r.label == "What to run")
    mode.set_value("Zero-shot evaluation only").run()
    assert at.code[0].value.startswith("python -m hybridir_core evaluate --model")

    run_name(at).input("../escape").run()
    at.button(key="launch").click().run()
    assert at.error and "Invalid run name" in at.error[0].value
    assert {p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")} == {"mono-run"}

    run_name(at).input("quick-zero-shot").run()
    at.button(key="launch").click().run()
    assert not at.error and "Queued" in at.success[0].value
    job_dir = tmp_path / "runs" / "quick-zero-shot"
    assert runs.read_status(job_dir)["state"] == "queued"
    assert JobConfig.from_dict(runs.read_request(job_dir)).kind == "evaluate"
    cancel = next(b for b in at.button if b.key == "cancel-quick-zero-shot")
    cancel.click().run()
    assert runs.read_status(job_dir)["state"] == "cancelled"


def test_train_page_trains_a_static_model_at_its_own_learning_rate(train_page, tmp_path):
    at = train_page
    assert not any("its own" in c.value for c in at.caption)  # me5-small: the study's rate
    next(s for s in at.selectbox if s.label == "Model scale").set_value("me5-static").run()
    assert any("learning rate 0.01, its own" in c.value for c in at.caption)
    run_name(at).input("static-run").run()
    at.button(key="launch").click().run()
    queued = JobConfig.from_dict(runs.read_request(tmp_path / "runs" / "static-run"))
    assert queued.train.model == "me5-static" and queued.train.learning_rate == 1e-2


@pytest.mark.parametrize("native", [True, False])
def test_train_page_offers_bf16_only_where_the_device_has_it(tmp_path, monkeypatch, native):
    def flags(precision):
        if not native:
            raise ValueError("--bf16: no CUDA GPU and this CPU lacks avx512_bf16/amx_bf16")
        return {"bf16": True, "fp16": False, "use_cpu": True}

    monkeypatch.setattr(devices, "precision_flags", flags)
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "runs"))
    monkeypatch.setattr(jobs, "ensure_worker", lambda root: False)
    at = open_page("views/train.py")
    boxes = [c for c in at.checkbox if c.label.startswith("Train in bf16")]
    assert len(boxes) == int(native) and "--precision" not in at.code[0].value  # fp32 unless asked
    if native:
        boxes[0].check().run()
        assert "--precision bf16" in at.code[0].value
        run_name(at).input("bf16-run").run()
        at.button(key="launch").click().run()
        assert JobConfig.from_dict(runs.read_request(tmp_path / "runs" / "bf16-run")).train.precision == "bf16"


def test_failed_job_shows_its_error(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(root))
    monkeypatch.setattr(jobs, "ensure_worker", lambda root: False)
    zero_shot = JobConfig("evaluate", EvalConfig(model="me5-small"))
    run_dir = jobs.submit(zero_shot, "bad-job", root, start_worker=False)
    runs.write_json(run_dir / runs.STATUS, {"state": "failed", "error": "DataError: en.json missing"})
    running = jobs.submit(zero_shot, "busy-job", root, start_worker=False)
    now = time.time()
    runs.write_json(running / runs.STATUS, {"state": "running", "phase": "encoding xquad-r questions",
                                            "step": 10, "total": 40, "started": now - 30, "updated": now,
                                            "phase_started": now - 20})
    st.cache_data.clear()
    at = open_page("views/train.py")
    assert any("en.json missing" in e.value for e in at.error)
    # without a worker, a "running" job is reported as interrupted, not as progressing forever
    assert any("interrupted" in e.value for e in at.error)


def test_answer_page_without_study_runs_says_what_is_missing(roots):
    at = open_page("views/answer.py")  # fixture runs: XQuAD-R only, one seed
    assert any("No model has hybrid" in i.value for i in at.info)


def test_answer_page_reads_the_shipped_families_without_computing(tmp_path, monkeypatch):
    """On the shipped runs the page reads results/reference/families.json: compute is never called."""
    from hybridir_core.analysis import family_cache

    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "none"))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(REPO / "results" / "reference"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no user cache to fall back on
    monkeypatch.setattr(family_cache, "write", lambda *a, **k: pytest.fail("the page computed the families"))
    st.cache_data.clear()
    at = open_page("views/answer.py")
    grid = at.table[0].value
    assert list(grid.index) == ["d2", "d4", "d6", "12L"] and "Mono" in grid.columns
    assert "degradation beyond the margin" in grid.loc["d2", "Mono"]
    # a session's first view sends the verdict alone and arms the timer that asks for the figures
    # once the browser has painted it (tests/test_browser.py follows that in a real browser)
    assert not at.get("plotly_chart") and any("Drawing the figures" in c.value for c in at.caption)
    assert at.session_state["answer.figures_armed"]
    at.session_state["answer.figures_shown"] = True  # what the timer's first tick sets
    at.run()
    assert len(at.get("plotly_chart")) == 3  # forest, scale trend, per-language heatmap
    assert {"Does it change with scale?", "Per query language", "The paper vs here (S7)"} <= {
        h.value for h in at.subheader}
    assert any(m.value.startswith("- **Primary (P)**") for m in at.markdown)
    st.cache_data.clear()


def test_twenty_runs_open_on_every_page(roots, tmp_path, monkeypatch):
    """Every page renders with twenty runs (their latency is measured in bench/pages.py)."""
    runs_root = tmp_path / "many"
    for i in range(20):
        shutil.copytree(roots[0] / ALL_LOCAL[i % len(ALL_LOCAL)], runs_root / f"run-{i:02d}")
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(runs_root))
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title and at.title[0].value == PAGES[page]


def test_core_never_imports_streamlit():
    for path in (REPO / "hybridir_core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "streamlit" for n in names), f"{path.name} imports streamlit"


@pytest.fixture(scope="module")
def malformed_root(tmp_path_factory):
    """One good run beside every malformed one of ``fixtures_runs.MALFORMED`` (and a link outside)."""
    from fixtures_runs import add_malformed_runs

    roots = fixture_runs(tmp_path_factory)
    base = tmp_path_factory.mktemp("malformed-app")
    runs_root = base / "runs"
    shutil.copytree(roots[0] / ALL_LOCAL[0], runs_root / ALL_LOCAL[0])
    reasons = add_malformed_runs(runs_root, ALL_LOCAL[0])
    shutil.copytree(roots[0] / ALL_LOCAL[1], base / "outside" / "elsewhere")
    (runs_root / "bad-symlink").symlink_to(base / "outside" / "elsewhere")
    return runs_root, {**reasons, "bad-symlink": "not followed"}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_survives_malformed_runs(malformed_root, tmp_path, monkeypatch, page):
    runs_root, reasons = malformed_root
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(runs_root))
    monkeypatch.setenv(paths.REFERENCE_DIR_ENV, str(tmp_path / "no-reference"))
    monkeypatch.setattr(jobs, "ensure_worker", lambda root: False)
    st.cache_data.clear()
    at = open_page(page)  # asserts no exception
    assert at.title[0].value == PAGES[page]
    if page == "views/train.py":
        return  # the Train page lists jobs, not runs
    shown = " ".join(m.value for m in [*at.markdown, *at.warning])
    for name, words in reasons.items():
        assert name in shown and words in shown, (name, words)
    if page == "views/home.py":
        assert list(at.dataframe[0].value.run) == [ALL_LOCAL[0]]
    elif page in ("views/matrices.py", "views/compare.py"):
        picker = at.selectbox(key="matrix_run") if page == "views/matrices.py" else at.multiselect(key="compare_runs")
        assert ALL_LOCAL[0] in str(picker.value) and not any("bad-" in o for o in picker.options)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_no_page_holds_a_bare_string_streamlit_would_print(page):
    """Streamlit's "magic" writes a module-level bare expression to the page: a string meant as a
    constant's docstring would show at the top of it (it did once on the Answer page)."""
    body = ast.parse((REPO / page).read_text(encoding="utf-8")).body
    strays = [node.lineno for node in body[1:]
              if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)]
    assert not strays, f"{page}: bare strings at lines {strays}"
