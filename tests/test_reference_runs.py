"""Every shipped reference run: its metrics.json must follow from its ranks.parquet."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from hybridir_core.analysis import family_cache, report
from hybridir_core.evaluation import bias, metrics
from hybridir_core.runs import directory as runs

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
LADDER = REFERENCE.parent / "ladder"
EARLIER = REFERENCE.parent / "earlier-xnli-protocol"
STATIC = REFERENCE.parent / "static"
README = REFERENCE.parent.parent / "README.md"
MODELS_DOC = REFERENCE.parent.parent / "docs" / "data-and-models.md"
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
    `report` computes from the runs: the tables and every generated sentence."""
    found = runs.list_runs(root).runs
    tables = report.study_tables(found, folders=(root,))
    findings = (root / "FINDINGS.md").read_text(encoding="utf-8")
    assert findings.strip() == report.findings_markdown(tables, declared=root == REFERENCE).strip(), \
        f"{root / 'FINDINGS.md'} is stale: .venv/bin/python scripts/findings.py"
    if root == REFERENCE:
        readme = README.read_text(encoding="utf-8")
        for name, body in report.readme_blocks(tables).items():
            start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
            assert readme[readme.index(start) + len(start):readme.index(end)].strip() == body.strip(), \
                f"README's {name} block is stale: .venv/bin/python scripts/findings.py"


@pytest.mark.slow  # every declared family afresh
def test_shipped_families_are_the_ones_report_computes():
    """results/reference/families.json (what the Answer page reads) holds these runs' key, and
    its rows are what the declared families give when computed afresh."""
    found = report.one_run_per_seed(runs.list_runs(REFERENCE).runs)[0]
    key = family_cache.runs_key(found, report.DEFAULT_BOOTSTRAP)
    shipped = json.loads((REFERENCE / family_cache.FILE_NAME).read_text(encoding="utf-8"))
    assert shipped["key"] == key, "stale families.json: .venv/bin/python scripts/findings.py"
    fresh, _ = report.declared_families(found, report.DEFAULT_BOOTSTRAP)
    cached, _ = family_cache.cached(found, lambda f: (_ for _ in ()).throw(AssertionError("not cached")),
                                    (REFERENCE,), report.DEFAULT_BOOTSTRAP)
    columns = ["family", "rung", "comparison", "measure", "estimate", "ci_low", "ci_high", "label"]
    pd.testing.assert_frame_equal(cached[columns].reset_index(drop=True), fresh[columns].reset_index(drop=True),
                                  check_exact=False, rtol=1e-12)


def test_readme_holds_no_findings_number_that_report_did_not_write():
    """Every three-decimal figure in README.md is report output (FINDINGS.md or a generated block)."""
    readme = README.read_text(encoding="utf-8")
    written = (REFERENCE / "FINDINGS.md").read_text(encoding="utf-8")
    numbers = set(re.findall(r"[+-]?\d\.\d{3}\b", readme.replace("−", "-")))
    stray = sorted(n for n in numbers if n not in written.replace("−", "-"))
    assert not stray, f"README figures that report did not produce: {stray}"


def _ladder_cells_of(m: dict) -> str:
    """"Mono / Cross / Multi, rank distance" as the docs' tables write them."""
    return f"{m['mono_map']:.3f} / {m['cross_map']:.3f} / {m['multi_map']:.3f}, {m['mean_rank_distance']:.0f}"


def _ladder_cells(model: str) -> tuple[str, str, str]:
    """The ladder table's cells for ``model``: layers, then the measures, from its shipped zero-shot run."""
    shipped = runs.load_run(LADDER / f"zs-{model}", reference=True).metrics
    teacher = runs.load_run(LADDER / "zs-me5-small", reference=True).metrics
    ratio = shipped["mlqa-r"]["mono_map"] / teacher["mlqa-r"]["mono_map"]
    layers = runs.load_run(LADDER / f"zs-{model}", reference=True).config["model"]["layers"]
    return (str(layers), _ladder_cells_of(shipped["xquad-r"]), _ladder_cells_of(shipped["mlqa-r"]),
            "1" if model == "me5-small" else f"{ratio:.2f}x")


def test_ladder_table_follows_from_the_shipped_runs():
    """The scale-ladder table of docs/data-and-models.md shows what results/ladder/ holds, rung by rung."""
    rows = [line for line in MODELS_DOC.read_text(encoding="utf-8").splitlines()
            if line.startswith("| `me5-small") and line.count("|") == 6]
    assert len(rows) == 4, rows
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        model = cells[0].split("`")[1]
        assert tuple(cells[1:5]) == _ladder_cells(model), model


def test_static_table_follows_from_the_shipped_runs():
    """The static fine-tuning table of docs/data-and-models.md: validation losses and MLQA-R
    figures of results/static/."""
    readme = MODELS_DOC.read_text(encoding="utf-8")
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
