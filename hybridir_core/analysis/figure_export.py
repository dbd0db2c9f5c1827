"""Figures out as files: SVG, PNG and PDF bytes of a Plotly figure, and the Answer page's figures.

Static export is Plotly's own (``Figure.to_image``), which drives kaleido 1.x, which drives a
Chrome or Chromium (Debian's ``chromium`` in CI; ``BROWSER_PATH`` names another). Without one,
an ``ExportError`` says so in one line. ``answer_figures`` builds exactly what the Answer page
draws (the forest plot of the verdict table per dataset and the difference heatmap of each
verdict row's run pair), so ``python -m hybridir_core figures`` writes them for a folder of runs.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import plotly.graph_objects as go

from hybridir_core.analysis import figures, report
from hybridir_core.analysis import intervals as inference
from hybridir_core.runs import directory as runs

FORMATS = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}
WIDTH, HEIGHT, PNG_SCALE = 1000, 650, 2


class ExportError(RuntimeError):
    """A figure cannot be exported (no kaleido, no browser, an unknown format)."""


def figure_bytes(fig: go.Figure, fmt: str) -> bytes:
    """``fig`` as ``fmt`` (svg, png or pdf) bytes, at the size the figure asks for or 1000 x 650."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r}: choose from {', '.join(FORMATS)}")
    width = fig.layout.width or WIDTH
    height = fig.layout.height or HEIGHT
    try:
        return fig.to_image(format=fmt, width=width, height=height, scale=PNG_SCALE if fmt == "png" else 1)
    except Exception as exc:  # noqa: BLE001 - kaleido / choreographer raise many types; one line says why
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"static {fmt} export failed ({first:.200}); it needs kaleido==1.5.0 and Chrome or "
                          "Chromium (apt-get install chromium, or set BROWSER_PATH)") from None


@contextlib.contextmanager
def export_session() -> Iterator[None]:
    """Keep one browser open for several exports (kaleido's sync server); a no-op without kaleido."""
    try:
        import kaleido
    except ImportError:
        yield
        return
    kaleido.start_sync_server(silence_warnings=True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The kopts argument is ignored")
            yield
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def slug(text: str) -> str:
    """A file-name-safe form of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "figure"


def answer_figures(found: Sequence[runs.Run], margin: float = inference.DEFAULT_MARGIN,
                   n_resamples: int = inference.DEFAULT_RESAMPLES) -> dict[str, go.Figure]:
    """The Answer page's figures for ``found``: ``forest-<dataset>`` and ``pair-<dataset>-<model>-vs-<against>``.

    Empty when no model has both hybrid(α = 0.5) and mono runs (the page says the same).
    """
    datasets = [d for d in ("mlqa-r", "xquad-r") if any(d in run.metrics for run in found)]
    table = report.verdict_table(found, datasets, margin, n_resamples)
    if table.empty:
        return {}
    by_id = {run.run_id: run for run in report.one_run_per_seed(found)[0]}
    out: dict[str, go.Figure] = {}
    for dataset in [d for d in datasets if d in set(table["dataset"])]:
        rows = table[table["dataset"] == dataset]
        out[f"forest-{dataset}"] = figures.forest_plot(table, dataset, margin)
        for row in rows.drop_duplicates(["model", "against"]).itertuples():
            a, b = by_id.get(row.run_a), by_id.get(row.run_b)
            if a is not None and b is not None:
                out[slug(f"pair-{dataset}-{row.model}-vs-{row.against}")] = figures.difference_heatmap(
                    a.matrix, b.matrix, dataset, "map", a.run_id, b.run_id)
    return out


def write_figures(figs: dict[str, go.Figure], out_dir: Path, formats: Sequence[str] = ("svg", "png")) -> list[Path]:
    """Write each figure in each format as ``<out_dir>/<name>.<format>``; the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with export_session():
        for name, fig in figs.items():
            for fmt in formats:
                path = out_dir / f"{slug(name)}.{fmt}"
                payload = figure_bytes(fig, fmt)
                runs.atomic_write(path, lambda tmp, data=payload: tmp.write_bytes(data))
                written.append(path)
    return written
