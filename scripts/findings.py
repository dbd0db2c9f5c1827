"""Regenerate every generated part of the findings from the shipped runs.

Usage: .venv/bin/python scripts/findings.py
Writes ``results/reference/FINDINGS.md`` and ``results/earlier-xnli-protocol/FINDINGS.md``
(``report.findings_markdown``) and, in README.md, the verdict bullets, the change across scales
and the recipe and α tables of the study's runs (``report.readme_blocks``) between their
``<!-- name:start -->`` / ``<!-- name:end -->`` markers; both render one ``report.study_tables``
per folder, so the bootstrap runs once.
``tests/test_reference_runs.py`` fails when any of them drifts from the runs.
"""

from __future__ import annotations

from pathlib import Path

from hybridir_core.analysis import report
from hybridir_core.runs import directory as runs

REPO = Path(__file__).resolve().parent.parent
STUDY = REPO / "results" / "reference"
EARLIER = REPO / "results" / "earlier-xnli-protocol"


def between(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def main() -> None:
    tables = {root: report.study_tables(runs.list_runs(root).runs) for root in (STUDY, EARLIER)}
    for root, computed in tables.items():
        (root / "FINDINGS.md").write_text(report.findings_markdown(computed) + "\n", encoding="utf-8")
        print(f"wrote {root / 'FINDINGS.md'}")
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    for name, body in report.readme_blocks(tables[STUDY]).items():
        text = between(text, name, body)
    readme.write_text(text, encoding="utf-8")
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
