"""Findings over many runs: recipes averaged over seeds, the α sweep, recipe-vs-recipe tests.

A *recipe* is everything about a run except its seed (model, sampling, α, mix, steps). The
README's Findings section is ``python -m hybridir_core report results/reference``: the same
functions the dashboard's Trade-offs page calls, rendered as Markdown.

- ``seed_table``: mean and sample standard deviation of each aggregate over a recipe's seeds.
- ``alpha_sweeps``: the runs of one model that differ only in α (mono = 1, cross = 0).
- ``seed_differences``: recipe A − recipe B per shared seed (the spread of the effect itself).
- ``recipe_tests``: paired tests over queries with each query's AP averaged over the seeds of
  its recipe (``stats.compare_run_groups``).

The command line (``report``) lives in ``hybridir_core.cli``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import runs, stats
from .vocabulary import MEASURES as VALUES
from .vocabulary import SAMPLING_ORDER, ZERO_SHOT, dataset_order, summary_frame, training_label

RECIPE_KEYS = ["model", "scale", "sampling", "alpha", "mix", "steps"]


def _markdown(frame: pd.DataFrame) -> str:
    """GitHub Markdown of already formatted cells (no re-parsing of '0.340' into 0.34)."""
    cells = frame.astype(object).where(frame.notna(), "")
    return cells.astype(str).to_markdown(index=False, disable_numparse=True)


@dataclass(frozen=True)
class Recipe:
    """Which runs belong to one training recipe; ``None`` fields match anything."""

    model: str
    sampling: str
    alpha: float | None = None
    steps: int | None = None

    @property
    def label(self) -> str:
        return f"{self.model} {training_label(self.sampling, self.alpha)}"

    def select(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary rows of this recipe; an error if they mix training lengths or mixes."""
        rows = summary[self.mask(summary)]
        for column in ("steps", "mix"):
            values = sorted({f"{v:g}" if isinstance(v, (int, float)) else str(v)
                             for v in rows[column].dropna().unique()})
            if len(values) > 1:
                raise ValueError(f"{self.label} matches runs with {column} {', '.join(values)}; "
                                 "report on a folder that holds one of them")
        return rows

    def mask(self, summary: pd.DataFrame) -> pd.Series:
        keep = (summary["model"] == self.model) & (summary["sampling"] == self.sampling)
        if self.alpha is not None and self.sampling == "hybrid":
            keep &= np.isclose(summary["alpha"].astype(float), self.alpha)
        if self.steps is not None:
            keep &= summary["steps"] == self.steps
        return keep


def _with_recipe(summary: pd.DataFrame) -> pd.DataFrame:
    frame = summary.copy()
    frame["sampling"] = frame["sampling"].fillna(ZERO_SHOT)
    frame["training"] = [training_label(s, a, m) for s, a, m in
                         zip(frame["sampling"], frame["alpha"], frame["mix"])]
    return frame


def seed_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per recipe × dataset: ``n_runs``, ``n_seeds``, ``seeds``, ``<value>_mean``/``_std``.

    The standard deviation is the sample one (ddof = 1) over the recipe's runs, NaN for a
    single run. ``n_seeds`` counts distinct seeds (0 for zero-shot runs). Rows are
    ordered by model size, then zero-shot, mono, hybrid (by α), cross.
    """
    frame = _with_recipe(summary)
    keys = RECIPE_KEYS + ["training", "dataset"]
    out_cols = keys + ["n_runs", "n_seeds", "seeds", "layers", "params"] + [
        f"{v}_{s}" for v in VALUES for s in ("mean", "std")]
    if frame.empty:
        return pd.DataFrame(columns=out_cols)
    grouped = frame.groupby(keys, dropna=False, sort=False)
    out = grouped[list(VALUES)].agg(["mean", "std"])
    out.columns = [f"{v}_{s}" for v, s in out.columns]
    out["n_runs"] = grouped.size()
    out["n_seeds"] = grouped["seed"].nunique()  # 0 for zero-shot runs (nothing random to vary)
    out["seeds"] = grouped["seed"].agg(lambda s: ",".join(str(x) for x in sorted(s.dropna().unique())))
    out[["layers", "params"]] = grouped[["layers", "params"]].first()
    out = out.reset_index()
    order = out.assign(_size=out["params"].astype(float), _s=out["sampling"].map(SAMPLING_ORDER),
                       _a=-out["alpha"].astype(float).fillna(0.0))
    order = order.sort_values(["_size", "model", "steps", "_s", "_a", "dataset"], na_position="first")
    return order[out_cols].reset_index(drop=True)


def alpha_sweeps(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Runs that form an α sweep: same model, mix and steps, at least two distinct α.

    Mono runs are α = 1 and cross runs α = 0 (``SamplingConfig`` stores them so: the sampler
    draws exactly the same batches for them as hybrid at α 1 or 0). Returns the rows with a
    ``sweep`` label, sorted by α.
    """
    rows = summary[(summary["dataset"] == dataset) & summary["sampling"].isin(["mono", "cross", "hybrid"])].copy()
    if rows.empty:
        return rows.assign(sweep=[])
    rows["sweep"] = (rows["model"].astype(str) + " · " + rows["steps"].astype(str) + " steps")
    mixes = rows[rows["sampling"] == "hybrid"].groupby("sweep")["mix"].agg(lambda m: "/".join(sorted(set(map(str, m)))))
    rows["sweep"] = rows["sweep"] + rows["sweep"].map(lambda s: f" · {mixes[s]}" if s in mixes else "")
    distinct = rows.groupby("sweep")["alpha"].nunique()
    keep = distinct[distinct >= 2].index
    has_hybrid = rows.groupby("sweep")["sampling"].transform(lambda s: (s == "hybrid").any())
    rows = rows[rows["sweep"].isin(keep) & has_hybrid]
    return rows.sort_values(["sweep", "alpha", "run"]).reset_index(drop=True)


def alpha_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Every sweep on every dataset, averaged over seeds: one row per sweep × α × dataset."""
    parts = [alpha_sweeps(summary, d) for d in sorted(summary["dataset"].dropna().unique())]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["sweep", "alpha", "dataset", "n_seeds", *VALUES])
    sweeps = pd.concat(parts, ignore_index=True)
    grouped = sweeps.groupby(["sweep", "alpha", "dataset"], sort=True)
    out = grouped[list(VALUES)].mean()
    out.insert(0, "n_seeds", grouped.size())
    return out.reset_index()


def seed_differences(summary: pd.DataFrame, a: Recipe, b: Recipe) -> pd.DataFrame:
    """Recipe A − recipe B on each seed both ran: per dataset × value, the per-seed differences.

    Returns columns ``dataset, value, seeds, diffs, mean, std, a_better`` (``a_better`` counts
    seeds where A is better: higher mAP, or lower rank distance).
    """
    cols = ["dataset", "value", "seeds", "diffs", "mean", "std", "a_better"]
    left = a.select(summary).set_index(["dataset", "seed"])
    right = b.select(summary).set_index(["dataset", "seed"])
    shared = left.index.intersection(right.index)
    rows = []
    for dataset in sorted(set(shared.get_level_values("dataset"))):
        idx = sorted(i for i in shared if i[0] == dataset)
        for value in VALUES:
            diffs = (left.loc[idx, value].astype(float) - right.loc[idx, value].astype(float)).to_numpy()
            better = (diffs < 0) if value == "mean_rank_distance" else (diffs > 0)
            rows.append({"dataset": dataset, "value": value, "seeds": [int(i[1]) for i in idx],
                         "diffs": diffs.tolist(), "mean": float(diffs.mean()),
                         "std": float(diffs.std(ddof=1)) if len(diffs) > 1 else float("nan"),
                         "a_better": int(better.sum())})
    return pd.DataFrame(rows, columns=cols)


def recipe_tests(found: Sequence[runs.Run], a: Recipe, b: Recipe, n_resamples: int = 2_000,
                 seed: int = 0) -> pd.DataFrame:
    """``stats.compare_run_groups`` of the runs of recipe A against those of recipe B."""
    summary = summary_frame(list(found)).drop_duplicates("run").set_index("run")
    by_id = {r.run_id: r for r in found}
    groups = [[by_id[i] for i in recipe.select(summary).index] for recipe in (a, b)]
    for recipe, group in zip((a, b), groups):
        if not group:
            raise ValueError(f"no complete run matches {recipe.label}")
    return stats.compare_run_groups([r.ranks for r in groups[0]], [r.ranks for r in groups[1]],
                                    n_resamples, seed)


def default_comparisons(summary: pd.DataFrame) -> list[tuple[Recipe, Recipe]]:
    """Hybrid(0.5) against mono and against cross, for every model that has all of them."""
    pairs = []
    for model in dict.fromkeys(summary.sort_values("params")["model"]):
        hybrid = Recipe(model, "hybrid", 0.5)
        for other in (Recipe(model, "mono"), Recipe(model, "cross")):
            if hybrid.mask(summary).any() and other.mask(summary).any():
                pairs.append((hybrid, other))
    return pairs


# -- Markdown -----------------------------------------------------------------------------------
def _fmt(mean: float, std: float, digits: int) -> str:
    if pd.isna(mean):
        return ""
    text = f"{mean:.{digits}f}"
    return text if pd.isna(std) else f"{text} ± {std:.{digits}f}"


def seed_table_markdown(table: pd.DataFrame) -> str:
    """Model × training rows, one column group per dataset, ``mean ± std`` over seeds."""
    rows: dict[tuple, dict] = {}
    for _, r in table.iterrows():  # seed_table order: model size, then training
        row = rows.setdefault((r["model"], r["training"], r["steps"]),
                              {"model": r["model"], "training": r["training"],
                               "seeds": r["n_seeds"] or "–"})
        for value, name in VALUES.items():
            digits = 0 if value == "mean_rank_distance" else 3
            row[f"{r['dataset']} {name}"] = _fmt(r[f"{value}_mean"], r[f"{value}_std"], digits)
    columns = ["model", "training", "seeds"] + [
        f"{d} {n}" for d in dataset_order(table["dataset"]) for n in VALUES.values()]
    return _markdown(pd.DataFrame(list(rows.values()), columns=columns))


def alpha_markdown(table: pd.DataFrame) -> str:
    """One row per sweep × α, Mono/Cross/Multi and rank distance per dataset."""
    if table.empty:
        return "(no α sweep)"
    rows = {}
    for _, r in table.sort_values(["sweep", "alpha"]).iterrows():
        row = rows.setdefault((r["sweep"], r["alpha"]), {
            "sweep": r["sweep"], "α": f"{r['alpha']:g}", "seeds": r["n_seeds"]})
        for value, name in VALUES.items():
            row[f"{r['dataset']} {name}"] = f"{r[value]:.0f}" if value == "mean_rank_distance" else f"{r[value]:.3f}"
    frame = pd.DataFrame(list(rows.values()))
    columns = ["sweep", "α", "seeds"] + [f"{d} {n}" for d in dataset_order(table["dataset"]) for n in VALUES.values()]
    return _markdown(frame[columns])


def comparison_markdown(tests: pd.DataFrame, spread: pd.DataFrame) -> str:
    """Paired tests (seed-averaged queries) beside the per-seed differences."""
    spread = spread.set_index(["dataset", "value"])
    rows = []
    order = dataset_order(tests["dataset"])
    tests = tests.sort_values("dataset", key=lambda d: d.map(order.index), kind="stable")
    for _, t in tests.iterrows():
        key = (t["dataset"], f"{t['setting']}_map")
        s = spread.loc[key] if key in spread.index else None
        rows.append({
            "dataset": t["dataset"], "setting": t["setting"], "queries": f"{int(t['n_queries']):,}",
            "Δ micro mAP": f"{t['diff']:+.3f}", "95% CI": f"[{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]",
            "p (Holm)": f"{t['p_holm']:.3g}",
            "Δ per seed (macro)": "" if s is None else " / ".join(f"{d:+.3f}" for d in s["diffs"]),
            "A better": "" if s is None else f"{s['a_better']}/{len(s['diffs'])}",
        })
    for dataset in order:
        key = (dataset, "mean_rank_distance")
        if key in spread.index:
            s = spread.loc[key]
            rows.append({"dataset": dataset, "setting": "rank dist.", "Δ per seed (macro)":
                         " / ".join(f"{d:+.0f}" for d in s["diffs"]), "A better": f"{s['a_better']}/{len(s['diffs'])}"})
    return _markdown(pd.DataFrame(rows))


def findings_markdown(found: Sequence[runs.Run], comparisons: list[tuple[Recipe, Recipe]] | None = None,
                      n_resamples: int = 2_000) -> str:
    """The three Findings tables as one Markdown document."""
    summary = summary_frame(list(found))
    if summary.empty:
        raise ValueError("no complete runs to report on")
    parts = [f"## Findings over {summary['run'].nunique()} runs", "",
             "Written by `python -m hybridir_core report`. Macro mAP over language cells; rank distance = "
             "the largest minus the smallest pooled rank of a query's relevant candidates, averaged within "
             "each query language, then over languages, as the paper does (lower = less language bias). "
             "Paired tests: randomization sign-flip and bootstrap over "
             f"queries ({n_resamples:,} resamples), each query's AP averaged over its recipe's seeds, "
             "Holm-adjusted over the rows of each table; 'per seed' is the macro difference seed by seed.", "",
             "### Recipes (mean ± sample std over seeds)", "", seed_table_markdown(seed_table(summary)), "",
             "### α sweep (mean over seeds; α = share of monolingual batches)", "",
             alpha_markdown(alpha_table(summary)), ""]
    for a, b in comparisons if comparisons is not None else default_comparisons(summary):
        tests = recipe_tests(found, a, b, n_resamples)
        seeds_a = sorted(summary[a.mask(summary)]["seed"].dropna().unique().tolist())
        seeds_b = sorted(summary[b.mask(summary)]["seed"].dropna().unique().tolist())
        parts += [f"### A = {a.label} (seeds {seeds_a}) vs B = {b.label} (seeds {seeds_b})", "",
                  comparison_markdown(tests, seed_differences(summary, a, b)), ""]
    return "\n".join(parts)
