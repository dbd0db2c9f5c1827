"""Paint time of the Answer page in a real browser (Debian chromium), on fresh servers.

``python -m bench.answer_paint [--repo PATH ...] [--rounds N] [--selector CSS]`` serves the
dashboard of each checkout at ``--repo`` (default: this one) as ``make dashboard`` does, over the
shipped runs only (an empty local runs folder, an empty user cache), and times, until the compact
verdict table is on screen with no spinner left:

- ``answer_cold_s``: the very first request of a fresh server is the Answer page's address
  (nothing imported, nothing cached: the worst case);
- on a second fresh server, ``home_s``: Home until it has finished drawing (its last element),
  then ``answer_from_sidebar_s``: the sidebar link, as a reader moves on, and
  ``answer_new_tab_s``: a new tab at the page's address.

Prints one JSON line per checkout and round (the checkouts alternate within each round, so a
slower spell of the machine does not fall on one of them), then each measure's median per checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.screenshots import CHROMIUM, serve_dashboard

REPO = Path(__file__).resolve().parent.parent
HOME_DONE = '[data-testid="stCode"]'
"""Home's last element: once it is drawn, Home's script has run to its end."""
VIEWPORT = {"width": 1400, "height": 1000}
ANSWER_CHARTS = 3
"""The Answer page's figures, drawn after its verdict."""
SETTLE_MS = 1500
MEASURES = ["answer_cold_s", "answer_new_tab_s", "answer_from_sidebar_s", "home_s"]


@contextlib.contextmanager
def fresh_server(repo: Path):
    """A new server of ``repo`` over the shipped runs only (no local runs, an empty user cache)."""
    env = {"HYBRIDIR_RUNS_DIR": tempfile.mkdtemp(), "XDG_CACHE_HOME": tempfile.mkdtemp(),
           "HYBRIDIR_REFERENCE_DIR": str(repo / "results" / "reference")}
    with serve_dashboard(repo, env) as url:
        yield url


def checkout_label(repo: Path) -> str:
    """``path@commit``, with ``+changes`` where the work tree differs from it."""
    git = ["git", "-C", str(repo)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return f"{repo}@{commit or '?'}" + ("+changes" if changed else "")


def painted(page, selector: str, start: float) -> float:
    """Seconds since ``start`` until ``selector`` is drawn and no spinner is left."""
    page.wait_for_selector(selector, timeout=600_000)
    page.wait_for_selector('[data-testid="stSpinner"]', state="detached", timeout=600_000)
    return round(time.perf_counter() - start, 2)


def settle(page, charts: int = 0) -> None:
    """Let a page finish what it draws after the measured paint (the Answer page's ``charts``
    figures) before the next step, so that step is not timed against this page's drawing."""
    if charts:
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {charts}",
                               timeout=600_000)
    page.wait_for_timeout(SETTLE_MS)


def measure(repo: Path, selector: str) -> dict:
    from playwright.sync_api import sync_playwright

    result = {"repo": checkout_label(repo), "selector": selector}
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
            settle(page)
            start = time.perf_counter()  # a reader moves on: the sidebar link, no page reload
            page.get_by_role("link", name="The answer").click()
            result["answer_from_sidebar_s"] = painted(page, selector, start)
            settle(page, ANSWER_CHARTS)
            start = time.perf_counter()  # a new tab on the page's address: the app's code runs again
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/answer")
            result["answer_new_tab_s"] = painted(page, selector, start)
        browser.close()
    return result


def medians(results: list[dict]) -> str:
    """A markdown table: each measure's median (and every round's value) per checkout."""
    lines = ["| checkout | " + " | ".join(MEASURES) + " |", "|---" * (len(MEASURES) + 1) + "|"]
    for repo in dict.fromkeys(r["repo"] for r in results):
        cells = []
        for measure in MEASURES:
            values = [r[measure] for r in results if r["repo"] == repo]
            cells.append(f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})")
        lines.append(f"| {repo} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m bench.answer_paint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, action="append",
                        help="a checkout whose dashboard is served (repeat to compare; default: this one)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds over the checkouts (default: 1)")
    parser.add_argument("--selector", default='[data-testid="stTable"]',
                        help="what counts as the verdict being painted (the Answer page's compact verdict table; "
                             "Home has none, so a stale Home cannot match)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    results = []
    try:
        for _ in range(args.rounds):
            for repo in args.repo or [REPO]:
                results.append(measure(repo.resolve(), args.selector))
                print(json.dumps(results[-1]), flush=True)
    except RuntimeError as exc:  # the server did not start: one line, not a traceback
        raise SystemExit(str(exc).splitlines()[0]) from None
    print(medians(results))
    return results


if __name__ == "__main__":
    main()
