"""Regenerate every generated part of the findings from the shipped runs.

Usage: .venv/bin/python scripts/findings.py
Writes ``results/reference/FINDINGS.md`` and ``results/earlier-xnli-protocol/FINDINGS.md``
(``report.findings_markdown``), each folder's ``families.json`` (the declared families, read by
the Answer page) and, in README.md, the generated findings between ``<!-- findings:start -->``
and ``<!-- findings:end -->`` (``report.readme_blocks``).
``tests/test_reference_runs.py`` fails when any of them drifts from the runs.
"""

from __future__ import annotations

from pathlib import Path

from hybridir_core.analysis import family_cache, report
from hybridir_core.runs import directory as runs

REPO = Path(__file__).resolve().parent.parent
STUDY = REPO / "results" / "reference"
EARLIER = REPO / "results" / "earlier-xnli-protocol"


def between(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"README.md has no {start} ... {end} block")
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def main() -> None:
    tables = {}
    for root in (STUDY, EARLIER):
        found = runs.list_runs(root).runs
        tables[root] = computed = report.study_tables(found, folders=(root,))
        text = report.findings_markdown(computed, declared=root == STUDY)
        (root / "FINDINGS.md").write_text(text + "\n", encoding="utf-8")
        if root == STUDY:
            key = family_cache.runs_key(report.one_run_per_seed(found)[0], report.DEFAULT_BOOTSTRAP)
            family_cache.write(root / family_cache.FILE_NAME, key, (computed.families, computed.paper))
        print(f"wrote {root / 'FINDINGS.md'}")
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    for name, body in report.readme_blocks(tables[STUDY]).items():
        text = between(text, name, body)
    readme.write_text(text, encoding="utf-8")
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
