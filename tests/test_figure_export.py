"""Figures as files: SVG/PNG/PDF bytes through Plotly's export (kaleido + Chromium), the Answer page's set."""

import os
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest

from hybridir_core.analysis import figure_export
from hybridir_core.paths import REPO_ROOT
from hybridir_core.runs import directory as runs

REFERENCE = REPO_ROOT / "results" / "reference"
CHROMIUM = Path("/usr/bin/chromium")
needs_browser = pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("BROWSER_PATH"),
                                   reason=f"{CHROMIUM} is absent (apt-get install chromium)")
MAGIC = {"svg": b"<svg", "png": b"\x89PNG", "pdf": b"%PDF"}


@needs_browser
def test_a_figure_exports_as_svg_png_and_pdf():
    fig = go.Figure(go.Bar(x=["de", "en"], y=[0.5, 0.7]))
    with figure_export.export_session():
        for fmt, magic in MAGIC.items():
            assert figure_export.figure_bytes(fig, fmt).startswith(magic)


def test_an_unknown_format_is_refused_in_one_line():
    with pytest.raises(figure_export.ExportError, match="format 'gif': choose from svg, png, pdf"):
        figure_export.figure_bytes(go.Figure(), "gif")


def test_answer_figures_are_the_pages_figures():
    found = runs.list_runs(REFERENCE).runs
    figs = figure_export.answer_figures(found, (REFERENCE,))  # read from the shipped families.json
    assert set(figs) == {"forest", "scale-trend", "languages"}
    assert figs["forest"].layout.title.text.startswith("Hybrid")


@needs_browser
def test_figures_command_writes_files_and_refuses_a_folder_without_pairs(tmp_path):
    empty = tmp_path / "no-runs"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "hybridir_core", "figures", str(empty), "--out", str(tmp_path / "f")],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert done.returncode != 0 and len(lines) == 1 and "nothing to draw" in lines[0], done.stderr
    figs = {"forest": go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))}
    written = figure_export.write_figures(figs, tmp_path / "out", ("svg", "pdf"))
    assert [p.name for p in written] == ["forest.svg", "forest.pdf"]
    assert written[1].read_bytes().startswith(b"%PDF")
