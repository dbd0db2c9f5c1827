"""Paint time of the Answer page in a real browser (Debian chromium), on fresh servers.

``python -m bench.answer_paint [--repo PATH] [--selector CSS]`` serves ``streamlit run app.py``
of the checkout at ``--repo`` (default: this one) over the shipped runs only (an empty local
runs folder, an empty user cache) and times, until the compact verdict table is on screen with
no spinner left:

- ``answer_cold_s``: the very first request of a fresh server is the Answer page's address
  (nothing imported, nothing cached: the worst case);
- on a second fresh server, ``home_s``: Home until it has finished drawing (its last element),
  then ``answer_from_sidebar_s``: the sidebar link, as a reader moves on, and
  ``answer_new_tab_s``: a new tab at the page's address.

Prints one JSON line; run it on two checkouts to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

from scripts.screenshots import CHROMIUM, serve_dashboard

REPO = Path(__file__).resolve().parent.parent
HOME_DONE = '[data-testid="stCode"]'
"""Home's last element: once it is drawn, Home's script has run to its end."""
VIEWPORT = {"width": 1400, "height": 1000}


@contextlib.contextmanager
def fresh_server(repo: Path):
    """A new server of ``repo`` over the shipped runs only (no local runs, an empty user cache)."""
    env = {"HYBRIDIR_RUNS_DIR": tempfile.mkdtemp(), "XDG_CACHE_HOME": tempfile.mkdtemp(),
           "HYBRIDIR_REFERENCE_DIR": str(repo / "results" / "reference")}
    with serve_dashboard(repo, env) as url:
        yield url


def painted(page, selector: str, start: float) -> float:
    """Seconds since ``start`` until ``selector`` is drawn and no spinner is left."""
    page.wait_for_selector(selector, timeout=600_000)
    page.wait_for_selector('[data-testid="stSpinner"]', state="detached", timeout=600_000)
    return round(time.perf_counter() - start, 2)


def measure(repo: Path, selector: str) -> dict:
    from playwright.sync_api import sync_playwright

    result = {"repo": str(repo), "selector": selector}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        with fresh_server(repo) as url:
            page = browser.new_page(viewport=VIEWPORT)
            start = time.perf_counter()
            page.goto(f"{url}/answer")
            result["answer_cold_s"] = painted(page, selector, start)
        with fresh_server(repo) as url:
            page = browser.new_page(viewport=VIEWPORT)
            start = time.perf_counter()
            page.goto(url)
            result["home_s"] = painted(page, HOME_DONE, start)
            start = time.perf_counter()  # a reader moves on: the sidebar link, no page reload
            page.get_by_role("link", name="The answer").click()
            result["answer_from_sidebar_s"] = painted(page, selector, start)
            start = time.perf_counter()  # a new tab on the page's address: the app's code runs again
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/answer")
            result["answer_new_tab_s"] = painted(page, selector, start)
        browser.close()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.answer_paint", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose app.py is served")
    parser.add_argument("--selector", default='[data-testid="stTable"]',
                        help="what counts as the verdict being painted (the Answer page's compact verdict table; "
                             "Home has none, so a stale Home cannot match)")
    args = parser.parse_args(argv)
    try:
        result = measure(args.repo.resolve(), args.selector)
    except RuntimeError as exc:  # the server did not start: one line, not a traceback
        raise SystemExit(str(exc).splitlines()[0]) from None
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
