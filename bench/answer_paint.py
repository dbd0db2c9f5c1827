"""Cold paint time of the Answer page in a real browser (Debian chromium), on a fresh server.

``python -m bench.answer_paint [--repo PATH] [--selector CSS]`` starts ``streamlit run app.py``
of the checkout at ``--repo`` (default: this one) over the shipped runs only (an empty local
runs folder, an empty user cache), opens Home as a user arrives, then the Answer page twice:
from the sidebar link (a reader moving on) and in a new tab at its address (the app's code
loads again), each timed until the verdict is on screen (the first data frame, else the first
chart) with no spinner left. Prints one JSON line; run it on two checkouts to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from scripts.screenshots import CHROMIUM, free_port

REPO = Path(__file__).resolve().parent.parent


def wait_healthy(url: str, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"no Streamlit server at {url} after {timeout:.0f} s")


def measure(repo: Path, selector: str) -> dict:
    from playwright.sync_api import sync_playwright

    port, empty = free_port(), tempfile.mkdtemp()
    env = {**os.environ, "HYBRIDIR_RUNS_DIR": empty, "XDG_CACHE_HOME": tempfile.mkdtemp(),
           "HYBRIDIR_REFERENCE_DIR": str(repo / "results" / "reference")}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true", "--server.address", "localhost",
                               "--browser.gatherUsageStats", "false"], cwd=repo, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=180_000)
            home = time.perf_counter() - start
            start = time.perf_counter()  # as a reader moves on: the sidebar link, no page reload
            page.get_by_role("link", name="The answer").click()
            page.wait_for_selector(selector, timeout=600_000)
            page.wait_for_selector('[data-testid="stSpinner"]', state="detached", timeout=600_000)
            answer = time.perf_counter() - start
            start = time.perf_counter()  # a fresh tab on the page's address: the app's code loads again
            fresh = browser.new_page(viewport={"width": 1400, "height": 1000})
            fresh.goto(f"{url}/answer")
            fresh.wait_for_selector(selector, timeout=600_000)
            fresh.wait_for_selector('[data-testid="stSpinner"]', state="detached", timeout=600_000)
            direct = time.perf_counter() - start
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"repo": str(repo), "home_s": round(home, 2), "answer_from_sidebar_s": round(answer, 2),
            "answer_new_tab_s": round(direct, 2), "selector": selector}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.answer_paint", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose app.py is served")
    parser.add_argument("--selector", default='[data-testid="stTable"], [data-testid="stDataFrame"], .js-plotly-plot',
                        help="what counts as the verdict being painted")
    args = parser.parse_args(argv)
    result = measure(args.repo.resolve(), args.selector)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
