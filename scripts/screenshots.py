"""Screenshots of dashboard pages in Debian's headless chromium, for docs/screenshots/.

Usage: .venv/bin/python scripts/screenshots.py [page ...]   (default: every page)
Starts the dashboard (``serve.py``) on a free localhost port over the shipped reference runs (and
``runs/``), opens each page as a reader first sees it, waits until it has drawn (its first Plotly
chart, or what the page shows instead) and writes ``docs/screenshots/<page>.png`` (full page,
1400 px wide).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PAGES = ["home", "answer", "train", "matrices", "tradeoffs", "bias", "compare"]
READY = {"home": '[data-testid="stDataFrame"]', "train": "text=Estimated time", "compare": "text=diff = A"}
"""What shows that a page has drawn, where it is not a Plotly chart."""
SCROLL_HEIGHT = ("Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, '"
                 " + '[data-testid=stAppViewContainer]')].map(e => e.scrollHeight), 0)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_dashboard(repo: Path = REPO, env: dict[str, str] | None = None, log: Path | None = None,
                    timeout: float = 180) -> Iterator[str]:
    """The dashboard of ``repo`` as ``make dashboard`` serves it (``serve.py``; ``streamlit run
    app.py`` in a checkout older than it) on a free localhost port, with ``env`` added to this
    process's environment and its output in ``log`` (else discarded); yields the URL once the
    server says it is healthy, and stops it after. A RuntimeError (with the log's tail) if it
    exits or is not healthy within ``timeout`` seconds."""
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL
    launcher = ["serve.py"] if (repo / "serve.py").is_file() else ["-m", "streamlit", "run", "app.py"]
    proc = subprocess.Popen([sys.executable, *launcher, "--server.port", str(port), "--server.headless", "true",
                             "--server.address", "localhost", "--browser.gatherUsageStats", "false"],
                            cwd=repo, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    if log:
        out.close()  # the server holds its own copy of the file
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = f":\n{log.read_text(errors='replace')[-3000:]}" if log else ""
                raise RuntimeError(f"streamlit did not start at {url} within {timeout:.0f} s{tail}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(pages: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    with serve_dashboard() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name in pages:
            page.goto(url if name == "home" else f"{url}/{name}")  # Home is the default page: the root
            page.wait_for_selector('[data-testid="stSidebarNav"] >> text="Train & evaluate"', timeout=120_000)
            page.wait_for_selector(READY.get(name, ".js-plotly-plot"), timeout=300_000)
            page.wait_for_selector('[data-testid="stSpinner"]', state="detached", timeout=300_000)
            time.sleep(2)  # let the charts finish drawing
            # Streamlit scrolls inside its main block, so full_page alone stops at the viewport:
            # grow the viewport to the content's height instead
            height = page.evaluate(SCROLL_HEIGHT)
            page.set_viewport_size({"width": 1400, "height": max(1000, min(int(height), 8000))})
            time.sleep(2)
            out = REPO / "docs" / "screenshots" / f"{name}.png"
            page.screenshot(path=str(out), full_page=True)
            print(out)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:] or PAGES)
