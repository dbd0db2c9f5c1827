"""Every shipped reference run: its metrics.json must follow from its ranks.parquet."""

from pathlib import Path

import pytest

from hybridir_core import bias, metrics, report, runs, vocabulary

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
LADDER = REFERENCE.parent / "ladder"
RUN_DIRS = sorted(p for root in (REFERENCE, LADDER) if root.is_dir() for p in root.iterdir() if p.is_dir())


def test_reference_runs_are_shipped():
    assert len(RUN_DIRS) >= 6


@pytest.mark.parametrize("run_dir", RUN_DIRS, ids=lambda p: p.name)
def test_metrics_recompute_from_ranks(run_dir):
    run = runs.load_run(run_dir, reference=True)
    assert not (run_dir / "model").exists(), "reference runs ship no weights"
    for dataset, stored in run.metrics.items():
        ranks = run.ranks[run.ranks.dataset == dataset]
        per_query = metrics.per_query_scores(ranks)
        matrix = metrics.cell_matrix(per_query)
        again = {**metrics.aggregates(per_query, matrix), **bias.rank_distance_summary(ranks)}
        for key, value in again.items():
            assert stored[key] == pytest.approx(value, abs=1e-9), (dataset, key)
        shipped = run.matrix[run.matrix.dataset == dataset].reset_index(drop=True)
        assert shipped["map"].to_numpy() == pytest.approx(matrix["map"].to_numpy(), abs=1e-9)


def test_findings_tables_follow_from_the_shipped_runs():
    """README and results/reference/FINDINGS.md show exactly what `report` computes from the runs."""
    summary = vocabulary.summary_frame(runs.list_runs(REFERENCE).runs)
    recipes = report.seed_table_markdown(report.seed_table(summary))
    alphas = report.alpha_markdown(report.alpha_table(summary))
    findings = (REFERENCE / "FINDINGS.md").read_text(encoding="utf-8")
    readme = (REFERENCE.parent.parent / "README.md").read_text(encoding="utf-8")
    assert recipes in findings and alphas in findings
    assert recipes in readme, "README's findings table is stale: python -m hybridir_core report"
    assert alphas in readme


def test_verdict_follows_from_the_shipped_runs():
    """README's verdict bullets are exactly what `report` generates from the shipped runs."""
    found = runs.list_runs(REFERENCE).runs
    table = report.verdict_table(found, ("mlqa-r", "xquad-r"))
    bullets = "\n".join(f"- {s}" for s in report.verdict_sentences(table))
    readme = (REFERENCE.parent.parent / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- verdict:start -->", "<!-- verdict:end -->"
    block = readme[readme.index(start) + len(start):readme.index(end)]
    assert block.strip() == bullets
    assert bullets in (REFERENCE / "FINDINGS.md").read_text(encoding="utf-8")
