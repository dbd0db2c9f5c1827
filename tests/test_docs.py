"""The documents a reader opens: links that resolve, no machine paths or issue numbers, a short
README with the block `report` writes, and every figure left in a doc read back from results/."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", REPO / "bench" / "README.md", *sorted((REPO / "docs").glob("*.md")),
        *sorted((REPO / "data").rglob("README.md")), *sorted((REPO / "results").glob("*/FINDINGS.md"))]
"""Every document a reader opens (bench/results/ holds the benchmark's own generated output)."""
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FORBIDDEN = {
    "a machine path": re.compile(r"(?<![\w.~-])/(work|root|home|tmp)/"),
    "a lock file": re.compile(r"\.lock\b|\bflock\b"),
    "an issue number": re.compile(r"\bissues?[- ]?#?\d+", re.IGNORECASE),
}


def relative_links(path: Path) -> list[str]:
    """Link targets in a Markdown file that point into the repository (no scheme, no pure anchor)."""
    targets = LINK.findall(path.read_text(encoding="utf-8"))
    return [t for t in targets if not re.match(r"^[a-z][a-z+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc):
    missing = [t for t in relative_links(doc) if not (doc.parent / t.split("#", 1)[0]).exists()]
    assert not missing, f"{doc.relative_to(REPO)}: broken links {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_machine_path_lock_file_or_issue_number(doc):
    text = doc.read_text(encoding="utf-8")
    found = {what: pattern.findall(text) for what, pattern in FORBIDDEN.items() if pattern.search(text)}
    assert not found, f"{doc.relative_to(REPO)} holds {found}"


def test_link_checker_catches_a_broken_link(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("[a](missing.md) [b](https://example.org) [c](#anchor) ![d](x.md)", encoding="utf-8")
    assert relative_links(doc) == ["missing.md", "x.md"]
    assert FORBIDDEN["an issue number"].search("see issue-12") and FORBIDDEN["a machine path"].search(" /tmp/a")


def test_readme_is_a_front_page():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    assert text.count("<!-- findings:start -->") == 1 and text.count("<!-- findings:end -->") == 1
    assert text.index("<!-- findings:start -->") < text.index("<!-- findings:end -->")
    for command in ("make dashboard", "make test"):
        assert command in text
    linked = set(relative_links(REPO / "README.md"))
    assert {"docs/protocol.md", "docs/reproduce.md", "docs/usage.md", "bench/README.md"} <= linked


def test_dashboard_doc_lists_every_page():
    app = (REPO / "app.py").read_text(encoding="utf-8")
    doc = (REPO / "docs" / "dashboard.md").read_text(encoding="utf-8")
    for path, title in re.findall(r'st\.Page\("([^"]+)", title="([^"]+)"', app):
        assert f"| {title} | `{path}` |" in doc, title


def test_dataset_counts_in_the_docs_are_the_shipped_runs():
    """data-and-models.md's question and candidate counts, read back from a shipped full run."""
    text = (REPO / "docs" / "data-and-models.md").read_text(encoding="utf-8")
    shipped = json.loads((REPO / "results" / "ladder" / "zs-me5-small" / "metrics.json").read_text())["datasets"]
    xquad, mlqa = shipped["xquad-r"], shipped["mlqa-r"]
    assert (f"XQuAD-R has {xquad['n_questions']:,} questions\n({xquad['n_questions'] // 11:,} in each of its 11 "
            f"languages) and {xquad['n_candidates']:,} candidates") in text
    assert f"MLQA-R has {mlqa['n_questions']:,} questions and\n{mlqa['n_candidates']:,} candidates" in text
