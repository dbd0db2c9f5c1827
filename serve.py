"""Serve the dashboard: ``python serve.py [streamlit run options]`` (what ``make dashboard`` runs).

The same server as ``streamlit run app.py``, with the pages' imports loaded while it starts
instead of during the first visit: Streamlit runs ``app.py`` and the views inside this process,
so a module imported here is already in ``sys.modules`` when a fresh server's first visitor
arrives (the Answer page's cold paint, ``python -m bench.answer_paint``).
"""

from __future__ import annotations

import ast
import importlib
import logging
import sys
from pathlib import Path

from streamlit.web import cli

HERE = Path(__file__).resolve().parent
FIRST_DRAW = ["pyarrow", "plotly.graph_objects", "plotly.io", "pandas.io.formats.style"]
"""What Streamlit and pandas import lazily on a page's first table and chart."""


def page_imports(views: Path = HERE / "views") -> list[str]:
    """Every module that the dashboard's views import at their top (read, not run: a view draws)."""
    names: list[str] = []
    for view in sorted(views.glob("*.py")):
        for node in ast.parse(view.read_text()).body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names += [node.module]
    return sorted(set(names))


def preload() -> None:
    """Import what the first page needs before the server takes requests."""
    sys.path.insert(0, str(HERE))  # ui.py lives beside this file, as for `streamlit run app.py`
    # ui's @st.cache_data functions are defined before Streamlit's runtime exists, which it logs
    # as a warning; their caches are made on first call, inside the runtime, as usual
    quiet = logging.getLogger("streamlit.runtime.caching.cache_data_api")
    level, quiet.level = quiet.level, logging.ERROR
    try:
        for name in [*page_imports(), *FIRST_DRAW]:
            importlib.import_module(name)
    finally:
        quiet.setLevel(level)


def main(argv: list[str] | None = None) -> None:
    """``streamlit run app.py ARGV`` after ``preload``; exits as Streamlit's command line does."""
    preload()
    cli.main(["run", str(HERE / "app.py"), *(sys.argv[1:] if argv is None else argv)], prog_name="streamlit")


if __name__ == "__main__":
    main()
