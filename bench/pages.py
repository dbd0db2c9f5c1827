"""Dashboard page latency with many runs against one run, in one process (ratios, not seconds).

``python -m bench.pages --runs 20`` copies the shipped reference runs (cycling through them)
into a temporary runs folder, opens every page with Streamlit's ``AppTest`` and times a rerun
(what a user waits for on every later visit or widget change), once with one run and once
with ``--runs`` runs; it prints the seconds and the ratio per page. Replaces a timed test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from hybridir_core import paths

PAGES = ("views/home.py", "views/answer.py", "views/train.py", "views/matrices.py", "views/tradeoffs.py",
         "views/bias.py", "views/compare.py")


def page_seconds(runs_root: Path) -> dict[str, float]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ[paths.RUNS_DIR_ENV] = str(runs_root)
    st.cache_data.clear()
    app = AppTest.from_file(str(paths.REPO_ROOT / "app.py"), default_timeout=300)
    app.run()
    out = {}
    for page in PAGES:
        app.switch_page(page).run()
        started = time.perf_counter()
        app.run()
        out[page] = time.perf_counter() - started
        if app.exception:
            raise RuntimeError(f"{page}: {app.exception[0].value}")
    return out


def runs_folder(n: int, into: Path) -> Path:
    shipped = sorted(p for p in paths.reference_root().iterdir() if (p / "metrics.json").is_file())
    for i in range(n):
        shutil.copytree(shipped[i % len(shipped)], into / f"run-{i:03d}")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = page_seconds(runs_folder(1, Path(tmp) / "one"))
        many = page_seconds(runs_folder(args.runs, Path(tmp) / "many"))
    print(f"| page | 1 run (s) | {args.runs} runs (s) | ratio |\n|---|---|---|---|")
    for page in PAGES:
        print(f"| {page} | {one[page]:.3f} | {many[page]:.3f} | {many[page] / one[page]:.2f}x |")


if __name__ == "__main__":
    main()
