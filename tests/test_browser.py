"""End to end in a real headless browser: `streamlit run app.py`, the heatmap, the CSV download.

Needs Debian's chromium at /usr/bin/chromium (`.ci/run` installs it) and the `playwright` Python
package; Playwright's own browser download is not used.
"""

import time
from pathlib import Path

import pytest
from fixtures_runs import fixture_runs

from hybridir_core import paths
from hybridir_core.analysis import export, figures
from hybridir_core.runs import directory as runs
from scripts.screenshots import CHROMIUM as CHROMIUM_PATH
from scripts.screenshots import serve_dashboard

CHROMIUM = Path(CHROMIUM_PATH)  # the one the screenshots and the paint bench use
REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
]


def serve(runs_root: Path, ref_root: Path, log: Path):
    """The dashboard over these runs (``scripts/screenshots.serve_dashboard``), its output in ``log``."""
    return serve_dashboard(REPO, {paths.RUNS_DIR_ENV: str(runs_root), paths.REFERENCE_DIR_ENV: str(ref_root)},
                           log, timeout=90)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs_root, ref_root = fixture_runs(tmp_path_factory)
    with serve(runs_root, ref_root, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url, runs_root, ref_root


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_heatmap_renders_and_csv_downloads(server, browser, tmp_path):
    url, runs_root, ref_root = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)

    page.goto(f"{url}/matrices")  # the fresh server's first visit opens a page's address directly
    page.wait_for_selector(".js-plotly-plot .heatmaplayer .hm", timeout=90_000)
    page.get_by_role("heading", name="Language matrices").wait_for()
    # app.py's navigation (titles, wide layout), not Streamlit's file-name listing of a pages/ folder
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "The answer" in nav and "Train & evaluate" in nav and "tradeoffs" not in nav
    # one labelled cell per query language x candidate language (3 x (3 + multi)); the page opens
    # on the study's pair, hybrid α = 0.5 (this heatmap) minus mono (the difference below it)
    cells = ".js-plotly-plot .hm text"  # the second heatmap is drawn a moment after the first
    page.wait_for_function(f"document.querySelectorAll('{cells}').length >= 2 * 12", timeout=60_000)
    labels = page.locator(cells).all_text_contents()
    assert len(labels) == 2 * 12
    labels = labels[:12]  # the run's own heatmap comes first
    first = runs.load_run(runs_root / "tr-hybrid-a0.5-s1")
    grid = figures.matrix_grid(first.matrix, "xquad-r", "map")
    assert f"{grid.loc['de', 'de']:.2f}" in labels
    page.screenshot(path=str(tmp_path / "matrices.png"), full_page=True)

    page.goto(f"{url}/compare")
    button = page.get_by_role("button", name="Download comparison CSV")
    button.wait_for(timeout=90_000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "comparison.csv"
    data = Path(download.path()).read_bytes()
    study = [runs.load_run(runs_root / name) for name in ("tr-mono-s1", "tr-hybrid-a0.5-s1", "tr-cross-s1")]
    assert data == export.to_csv_bytes(export.comparison_frame(study))  # the page opens on the study's recipes
    lines = data.decode().splitlines()
    assert len(lines) == 1 + 3 * len(study)
    assert {line.split(",")[0] for line in lines[1:]} == {r.run_id for r in study}
    page.close()


def test_answer_page_paints_the_verdict_then_draws_its_figures(browser, tmp_path):
    """On the shipped runs, a fresh server's first visit to the Answer page shows the verdict
    table, then (once the browser has painted it) the three figures; the page then rests."""
    with serve(tmp_path / "no-local-runs", REPO / "results" / "reference", tmp_path / "server.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/answer")
        page.wait_for_selector('[data-testid="stTable"]', timeout=120_000)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 3", timeout=120_000)
        assert "Drawing the figures" not in page.locator('[data-testid="stMain"]').inner_text()
        time.sleep(1.5)  # the fragment's 0.2 s timer has stopped: no rerun redraws the page
        assert page.locator(".js-plotly-plot").count() == 3
        assert page.locator('[data-testid="stStatusWidget"]').count() == 0
