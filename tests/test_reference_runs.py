"""Every shipped reference run: its metrics.json must follow from its ranks.parquet."""

from pathlib import Path

import pytest

from hybridir_core.analysis import report
from hybridir_core.evaluation import bias, metrics
from hybridir_core.runs import directory as runs
from hybridir_core.runs import protocol

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
LADDER = REFERENCE.parent / "ladder"
EARLIER = REFERENCE.parent / "earlier-xnli-protocol"
STATIC = REFERENCE.parent / "static"
README = REFERENCE.parent.parent / "README.md"
RUN_DIRS = sorted(p for root in (REFERENCE, LADDER, EARLIER, STATIC) if root.is_dir()
                  for p in root.iterdir() if p.is_dir())


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


@pytest.mark.parametrize("root", [REFERENCE, EARLIER], ids=lambda p: p.name)
def test_findings_follow_from_the_shipped_runs(root):
    """Each folder's FINDINGS.md (and README, for the study's own runs) shows exactly what
    `report` computes from the runs: the tables and every verdict sentence."""
    found = runs.list_runs(root).runs
    blocks = report.readme_blocks(report.study_tables(found))
    findings = (root / "FINDINGS.md").read_text(encoding="utf-8")
    summary = protocol.summary_frame(found)
    for part in (report.seed_table_markdown(report.seed_table(summary)),
                 report.alpha_markdown(report.alpha_table(summary)), blocks["verdict"], blocks["scale"]):
        assert part in findings
    if root == REFERENCE:
        readme = README.read_text(encoding="utf-8")
        for name, body in blocks.items():
            start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
            assert readme[readme.index(start) + len(start):readme.index(end)].strip() == body.strip(), \
                f"README's {name} block is stale: .venv/bin/python scripts/findings.py"


def test_verdict_rows_name_their_lowest_seed_run_pair():
    """The Answer page's drill-down shows the runs a verdict row was computed from."""
    found = runs.list_runs(REFERENCE).runs
    by_id = {r.run_id: r for r in found}
    table = report.verdict_table(found, ("mlqa-r",), n_resamples=20)
    assert not table.empty
    for row in table.itertuples():
        a, b = by_id[row.run_a].config, by_id[row.run_b].config
        assert a["model"]["name"] == b["model"]["name"]
        assert protocol.protocol_of(by_id[row.run_a]) == protocol.protocol_of(by_id[row.run_b])
        assert (a["train"]["sampling"]["strategy"], b["train"]["sampling"]["strategy"]) == ("hybrid", row.against)
        assert a["train"]["seed"] == b["train"]["seed"] == 0


def _ladder_cells_of(m: dict) -> str:
    """"Mono / Cross / Multi, rank distance" as README's tables write them."""
    return f"{m['mono_map']:.3f} / {m['cross_map']:.3f} / {m['multi_map']:.3f}, {m['mean_rank_distance']:.0f}"


def _ladder_cells(model: str) -> tuple[str, str, str]:
    """README's ladder cells for ``model``, computed from its shipped zero-shot run."""
    shipped = runs.load_run(LADDER / f"zs-{model}", reference=True).metrics
    teacher = runs.load_run(LADDER / "zs-me5-small", reference=True).metrics
    ratio = shipped["mlqa-r"]["mono_map"] / teacher["mlqa-r"]["mono_map"]
    return (_ladder_cells_of(shipped["xquad-r"]), _ladder_cells_of(shipped["mlqa-r"]),
            "1" if model == "me5-small" else f"{ratio:.2f}x")


def test_readme_ladder_table_follows_from_the_shipped_runs():
    """The hand-written scale-ladder table shows what results/ladder/ holds, rung by rung."""
    rows = [line for line in README.read_text(encoding="utf-8").splitlines()
            if line.startswith("| `me5-small") and line.count("|") == 7]
    assert len(rows) == 4, rows
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        model = cells[0].split("`")[1]
        assert tuple(cells[3:6]) == _ladder_cells(model), model


def test_readme_static_table_follows_from_the_shipped_runs():
    """README's static fine-tuning table: validation losses and MLQA-R figures of results/static/."""
    readme = README.read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| 1e-") and line.count("|") == 4]
    assert len(rows) == 3, rows
    for line in rows:
        rate, losses, figures = (c.strip() for c in line.strip("|").split("|"))
        run = runs.load_run(STATIC / f"me5-static_hybrid-a0.5_lr{rate}", reference=True)
        history = [h["eval_loss"] for h in run.train_stats["validation_history"]]
        assert losses == f"{history[0]:.2f} → {history[-1]:.2f}" and run.train_stats["steps"] == 200
        assert figures == _ladder_cells_of(run.metrics["mlqa-r"]), rate
    untrained = runs.load_run(REFERENCE / "zs-me5-static", reference=True).metrics["mlqa-r"]
    assert f"| (zero-shot) | {history[0]:.2f} | {_ladder_cells_of(untrained)} |" in readme


@pytest.mark.parametrize("run_dir", sorted(LADDER.glob("zs-*")), ids=lambda p: p.name)
def test_a_zero_shot_run_in_both_folders_is_the_same_run(run_dir):
    """The study's tables and the ladder's show one number per model, not two evaluations."""
    twin = REFERENCE / run_dir.name
    if twin.is_dir():
        for name in ("metrics.json", "ranks.parquet"):
            assert (twin / name).read_bytes() == (run_dir / name).read_bytes(), (twin, name)
