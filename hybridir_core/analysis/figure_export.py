"""Figures out as files: SVG, PNG and PDF bytes of a Plotly figure, and the Answer page's figures.

Static export is Plotly's own (``Figure.to_image``), which drives kaleido 1.x, which drives a
Chrome or Chromium (Debian's ``chromium`` in CI; ``BROWSER_PATH`` names another). Without one,
an ``ExportError`` says so in one line. ``answer_figures`` builds exactly what the Answer page
draws (the forest plot, the scale trend and the per-language view of the declared families), so
``python -m hybridir_core figures`` writes them for a folder of runs.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import plotly.graph_objects as go

from hybridir_core.analysis import answer_figures as answer_figures_of
from hybridir_core.analysis import families, report
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


def answer_figures(found: Sequence[runs.Run], folders: Sequence[Path] = ()) -> dict[str, go.Figure]:
    """The Answer page's figures for ``found``: ``forest``, ``scale-trend``, ``languages``, drawn from
    the declared families (read from ``<folder>/families.json`` when it holds these runs).

    Empty when no rung has hybrid(α = 0.5) and mono runs on MLQA-R (the page says the same).
    """
    frame, _ = report.cached_families(found, folders)
    if frame.empty:
        return {}
    return {"forest": answer_figures_of.forest(frame, families.MARGIN),
            "scale-trend": answer_figures_of.scale_trend(frame),
            "languages": answer_figures_of.language_heatmap(frame)}


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
