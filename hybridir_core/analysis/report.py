"""Findings over many runs: recipes averaged over seeds, the α sweep, recipe-vs-recipe tests.

A *recipe* is everything about a run except its seed (model, sampling, α, mix, steps); runs
are pooled only within one *protocol* (``protocol.protocol_of``: evaluation datasets,
languages and limit, training corpus, steps, batch size, learning rate, ...), so a quick or
language-subset run never moves the mean of a full one. The
README's Findings section is ``python -m hybridir_core report results/reference``: the same
functions the dashboard's Trade-offs page calls, rendered as Markdown.

- ``seed_table``: mean and sample standard deviation of each aggregate over a recipe's seeds.
- ``alpha_sweeps``: the runs of one model that differ only in α (mono = 1, cross = 0).
- ``seed_differences``: recipe A − recipe B per shared seed (the spread of the effect itself).
- ``verdict_table``: recipe differences with nested (seeds, then question ids) bootstrap
  intervals and the non-inferiority call (``intervals``), rendered as sentences and a table.

The command line (``report``) lives in ``hybridir_core.cli``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hybridir_core.analysis import intervals, stats
from hybridir_core.runs import directory as runs
from hybridir_core.runs.measures import (
    MEASURE_LABELS,
    SAMPLING_ORDER,
    ZERO_SHOT,
    dataset_order,
    training_label,
)
from hybridir_core.runs.measures import MEASURES as VALUES
from hybridir_core.runs.measures import measure as measure_of
from hybridir_core.runs.protocol import protocol_id, protocol_of, run_info, scale_protocol, source_of, summary_frame

RECIPE_KEYS = ["model", "scale", "sampling", "alpha", "mix", "steps"]
GROUP_KEYS = [*RECIPE_KEYS, "protocol"]
"""What one row of the findings pools over seeds: a recipe within one protocol."""


def with_protocol(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with ``protocol`` and ``evaluation`` columns (empty for hand-built frames)."""
    frame = summary.copy()
    for column in ("protocol", "evaluation", "trained_on"):
        if column not in frame.columns:
            frame[column] = ""
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def protocol_names(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """How each row's protocol is named beside ``keys``: its evaluation when not ``full``; the
    training in words where rows of the same ``keys`` and evaluation differ in protocol; the
    protocol id only where even that leaves them apart."""
    frame = with_protocol(frame)
    name = frame["evaluation"].where(~frame["evaluation"].isin(["full", ""]), "")
    for detail in ("trained_on", "protocol"):
        group = pd.Series([" ".join(map(str, t)) for t in zip(*(frame[k] for k in keys), name)], index=frame.index)
        ambiguous = frame.groupby(group)["protocol"].transform("nunique") > 1
        name = name.where(~ambiguous, (name + " · " + frame[detail]).str.strip(" ·"))
    return name


def protocol_suffix(summary: pd.DataFrame, recipe: Recipe) -> str:
    """`` [quick: 5/lang · 3 languages]`` after a recipe's name when its protocol needs naming."""
    if recipe.protocol is None:
        return ""
    named = protocol_names(summary, ["model"])[recipe.mask(summary)]
    return f" [{named.iloc[0]}]" if len(named) and named.iloc[0] else ""


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
    protocol: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model} {training_label(self.sampling, self.alpha)}"

    def select(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary rows of this recipe; an error if they mix training lengths, mixes or protocols."""
        rows = summary[self.mask(summary)]
        protocols = with_protocol(rows)
        if protocols["protocol"].nunique() > 1:
            named = sorted({f"{e or 'full'} ({p})" for e, p in zip(protocols["evaluation"], protocols["protocol"])})
            raise ValueError(f"{self.label} matches runs of {len(named)} protocols: {', '.join(named)}; "
                             "report on a folder that holds one of them")
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
        if self.protocol is not None:
            keep &= with_protocol(summary)["protocol"] == self.protocol
        return keep


def _with_recipe(summary: pd.DataFrame) -> pd.DataFrame:
    frame = with_protocol(summary)
    frame["sampling"] = frame["sampling"].fillna(ZERO_SHOT)
    frame["training"] = [training_label(s, a, m) for s, a, m in
                         zip(frame["sampling"], frame["alpha"], frame["mix"])]
    return frame


def seed_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per recipe × protocol × dataset: ``n_runs``, ``n_seeds``, ``seeds``, ``<value>_mean``/``_std``.

    Runs of one recipe under different protocols (a quick run beside full ones) are separate
    rows, named in ``evaluation``. The standard deviation is the sample one (ddof = 1) over the recipe's runs, NaN for a
    single run. ``n_seeds`` counts distinct seeds (0 for zero-shot runs). Rows are
    ordered by model size, then zero-shot, mono, hybrid (by α), cross.
    """
    frame = _with_recipe(summary)
    keys = GROUP_KEYS + ["training", "dataset"]
    out_cols = keys + ["evaluation", "n_runs", "n_seeds", "seeds", "layers", "params"] + [
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
    out["evaluation"] = protocol_names(out.assign(evaluation=grouped["evaluation"].first().to_numpy()),
                                       ["model", "training", "steps", "dataset"])
    order = out.assign(_size=out["params"].astype(float), _s=out["sampling"].map(SAMPLING_ORDER),
                       _a=-out["alpha"].astype(float).fillna(0.0))
    order = order.sort_values(["_size", "model", "steps", "_s", "_a", "dataset"], na_position="first")
    return order[out_cols].reset_index(drop=True)


def alpha_sweeps(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Runs that form an α sweep: same model, mix, steps and protocol, at least two distinct α.

    Mono runs are α = 1 and cross runs α = 0 (``SamplingConfig`` stores them so: the sampler
    draws exactly the same batches for them as hybrid at α 1 or 0). Returns the rows with a
    ``sweep`` label, sorted by α.
    """
    rows = summary[(summary["dataset"] == dataset) & summary["sampling"].isin(["mono", "cross", "hybrid"])].copy()
    if rows.empty:
        return rows.assign(sweep=[])
    rows["sweep"] = (rows["model"].astype(str) + " · " + rows["steps"].astype(str) + " steps")
    protocol = with_protocol(rows)["protocol"]
    mixes = rows[rows["sampling"] == "hybrid"].groupby([rows["sweep"], protocol])["mix"].agg(
        lambda m: "/".join(sorted(set(map(str, m)))))
    rows["sweep"] = [s + (f" · {mixes[(s, p)]}" if (s, p) in mixes.index else "")
                     for s, p in zip(rows["sweep"], protocol)]
    names = protocol_names(rows, ["sweep"])
    rows["sweep"] = rows["sweep"] + names.map(lambda n: f" · {n}" if n else "")
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
            better = (diffs > 0) if measure_of(value).higher_is_better else (diffs < 0)
            rows.append({"dataset": dataset, "value": value, "seeds": [int(i[1]) for i in idx],
                         "diffs": diffs.tolist(), "mean": float(diffs.mean()),
                         "std": float(diffs.std(ddof=1)) if len(diffs) > 1 else float("nan"),
                         "a_better": int(better.sum())})
    return pd.DataFrame(rows, columns=cols)


def default_comparisons(summary: pd.DataFrame) -> list[tuple[Recipe, Recipe]]:
    """Hybrid(0.5) against mono and against cross, for every model and protocol that has all of them."""
    frame = with_protocol(summary).sort_values("params")
    pairs = []
    for model, protocol in dict.fromkeys(zip(frame["model"], frame["protocol"])):
        hybrid = Recipe(model, "hybrid", 0.5, protocol=protocol)
        for other in (Recipe(model, "mono", protocol=protocol), Recipe(model, "cross", protocol=protocol)):
            if hybrid.mask(frame).any() and other.mask(frame).any():
                pairs.append((hybrid, other))
    return pairs


def one_run_per_seed(found: Sequence[runs.Run]) -> tuple[list[runs.Run], list[tuple[runs.Run, runs.Run]]]:
    """Each seed of a recipe counted once.

    A run with the recipe, protocol and seed of another (a local re-run of a shipped run, or a
    copy in a second folder) would otherwise enter the statistics as one more seed. Reference
    runs win, then the first path. Returns the kept runs in their order and
    ``(set aside, kept instead)`` pairs.
    """
    first: dict[tuple, runs.Run] = {}
    repeats = []
    for run in sorted(found, key=lambda r: (not r.reference, str(r.path))):
        info = run_info(run)
        key = tuple(str(info.get(k)) for k in (*GROUP_KEYS, "seed"))
        if key in first:
            repeats.append((run, first[key]))
        else:
            first[key] = run
    kept = {id(r) for r in first.values()}
    return [r for r in found if id(r) in kept], repeats


def _alpha_recipe(model: str, alpha: float, protocol: str) -> Recipe:
    """α = 0 is the cross recipe, α = 1 the mono one, anything between a hybrid one."""
    if np.isclose(alpha, 0.0):
        return Recipe(model, "cross", protocol=protocol)
    if np.isclose(alpha, 1.0):
        return Recipe(model, "mono", protocol=protocol)
    return Recipe(model, "hybrid", float(alpha), protocol=protocol)


def alpha_step_comparisons(summary: pd.DataFrame, min_seeds: int = 2) -> list[tuple[Recipe, Recipe]]:
    """Each α of a sweep against the next smaller α (A = the more monolingual recipe).

    Only models swept beyond the study's three recipes (a hybrid α other than 0.5) count, and
    only α with ``min_seeds`` seeds: a one-seed recipe's interval would miss its training
    variance, so its steps wait for more seeds.
    """
    frame = with_protocol(summary)
    frame = frame[frame["sampling"].isin(["mono", "cross", "hybrid"])]
    pairs = []
    for (model, protocol), rows in frame.sort_values("params").groupby(["model", "protocol"], sort=False):
        seeds = rows.groupby(rows["alpha"].astype(float))["seed"].nunique()
        alphas = sorted(a for a, n in seeds.items() if n >= min_seeds)
        if not any(0.0 < a < 1.0 and not np.isclose(a, 0.5) for a in alphas):
            continue
        pairs += [(_alpha_recipe(model, high, protocol), _alpha_recipe(model, low, protocol))
                  for low, high in zip(alphas, alphas[1:])]
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
    evaluation = table["evaluation"] if "evaluation" in table.columns else pd.Series("", index=table.index)
    for (_, r), named in zip(table.iterrows(), evaluation):  # seed_table order: model size, then training
        row = rows.setdefault((r["model"], r["training"], r["steps"], r.get("protocol")),
                              {"model": r["model"], "training": r["training"], "evaluation": named,
                               "seeds": r["n_seeds"] or "–"})
        for value, name in VALUES.items():
            row[f"{r['dataset']} {name}"] = _fmt(r[f"{value}_mean"], r[f"{value}_std"], measure_of(value).digits)
    labelled = any(evaluation.fillna("") != "")  # a quick, subset or otherwise distinct protocol
    columns = ["model", "training", *(["evaluation"] if labelled else []), "seeds"] + [
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
            row[f"{r['dataset']} {name}"] = f"{r[value]:.{measure_of(value).digits}f}"
    frame = pd.DataFrame(list(rows.values()))
    columns = ["sweep", "α", "seeds"] + [f"{d} {n}" for d in dataset_order(table["dataset"]) for n in VALUES.values()]
    return _markdown(frame[columns])


def seed_differences_markdown(spread: pd.DataFrame) -> str:
    """Recipe A − recipe B seed by seed (macro), and on how many seeds A was better."""
    rows = []
    for _, s in spread.iterrows():
        digits = measure_of(s["value"]).digits
        rows.append({"dataset": s["dataset"], "measure": VALUES[s["value"]], "seeds": ", ".join(map(str, s["seeds"])),
                     "Δ per seed (macro)": " / ".join(f"{d:+.{digits}f}" for d in s["diffs"]),
                     "A better": f"{s['a_better']}/{len(s['diffs'])}"})
    return _markdown(pd.DataFrame(rows))


@dataclass(frozen=True)
class StudyTables:
    """What the Findings rest on, computed once: the bootstrap tables take most of the time, and
    FINDINGS.md and README's blocks render the same ones."""

    summary: pd.DataFrame
    comparisons: list[tuple[Recipe, Recipe]]
    verdict: pd.DataFrame
    scale: pd.DataFrame
    n_resamples: int
    margin: float
    alpha_steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    set_aside: list[str] = field(default_factory=list)


def study_tables(found: Sequence[runs.Run], comparisons: list[tuple[Recipe, Recipe]] | None = None,
                 n_resamples: int = intervals.DEFAULT_RESAMPLES, margin: float = intervals.DEFAULT_MARGIN,
                 datasets: Sequence[str] = ("mlqa-r", "xquad-r")) -> StudyTables:
    """The summary, the verdict table and the change across scales of ``found`` (one run per seed)."""
    found, repeats = one_run_per_seed(found)
    summary = summary_frame(found)
    if summary.empty:
        raise ValueError("no complete runs to report on")
    comparisons = comparisons if comparisons is not None else default_comparisons(summary)
    present = tuple(d for d in datasets if d in set(summary["dataset"]))
    return StudyTables(summary, comparisons,
                       verdict_table(found, present, margin, n_resamples, comparisons),
                       scale_table(found, present, n_resamples), n_resamples, margin,
                       verdict_table(found, present, margin, n_resamples, alpha_step_comparisons(summary)),
                       [f"{a.path} (repeats {b.path})" for a, b in repeats])


SET_ASIDE = "Set aside (the recipe, protocol and seed of another run, so not one more seed): "


def findings_markdown(tables: StudyTables) -> str:
    """The Findings as one Markdown document: the verdict, then the tables it rests on."""
    summary, n_resamples, margin = tables.summary, tables.n_resamples, tables.margin
    parts = [f"## Findings over {summary['run'].nunique()} runs", "",
             "Written by `python -m hybridir_core report`; every sentence below is generated from the "
             "statistics next to it. Macro mAP over language cells; rank distance = the largest minus the "
             "smallest pooled rank of a query's relevant candidates, averaged within each query language, "
             "then over languages, as the paper does (lower = less language bias).", "",
             *([SET_ASIDE + "; ".join(tables.set_aside), ""] if tables.set_aside else []),
             VERDICT_HEADER.format(n=n_resamples, margin=margin), "",
             verdict_markdown(tables.verdict, margin), "",
             SCALE_HEADER.format(n=n_resamples), "", scale_markdown(tables.scale), "",
             "### Recipes (mean ± sample std over seeds)", "", seed_table_markdown(seed_table(summary)), "",
             "### α sweep (mean over seeds; α = share of monolingual batches)", "",
             alpha_markdown(alpha_table(summary)), "",
             ALPHA_STEPS_HEADER.format(n=n_resamples), "", alpha_steps_markdown(tables.alpha_steps), ""]
    for a, b in tables.comparisons:
        spread = seed_differences(summary, a, b)
        if not spread.empty and len(spread["seeds"].iloc[0]) > 1:
            parts += [f"### Seed by seed: A = {a.label} vs B = {b.label}{protocol_suffix(summary, a)}", "",
                      seed_differences_markdown(spread), ""]
    return "\n".join(parts)


def readme_blocks(tables: StudyTables) -> dict[str, str]:
    """README's generated Findings parts by marker name (``scripts/findings.py`` writes them
    between ``<!-- name:start -->`` and ``<!-- name:end -->``; a test compares them)."""
    alphas = ("**α sweep** (runs that differ only in α; α = 0 is the cross recipe and α = 1 the mono "
              "one):\n\n" + alpha_markdown(alpha_table(tables.summary)) + "\n\n"
              + ALPHA_STEPS_HEADER.format(n=tables.n_resamples).removeprefix("### ") + "\n\n"
              + alpha_step_lines(tables.alpha_steps))
    return {"verdict": "\n".join(f"- {s}" for s in verdict_sentences(tables.verdict, tables.margin)),
            "scale": scale_markdown(tables.scale),
            "tables": seed_table_markdown(seed_table(tables.summary)) + "\n\n" + alphas}


VERDICT_HEADER = (
    "### Verdict: does hybrid(0.5) degrade Mono, and what does it buy?\n\n"
    "Δ = hybrid − the other recipe, averaged within each query language, then over languages. "
    "95% intervals from {n:,} nested bootstrap resamples: a recipe's seeds with replacement, then "
    "question ids with replacement (all translations of a question move together; both recipes "
    "see the same questions). p-values are two-sided, Holm-adjusted over every row of the table "
    "(one family), shown as \"<= x\" at the resampling floor. *better* / *worse* when the interval "
    "excludes zero and the Holm-adjusted p is at most 0.05; *not clear after Holm* when only the "
    "unadjusted interval excludes zero; else *no clear difference*. The Mono question is a "
    "non-inferiority test with a margin of {margin:g} mAP: *no degradation beyond the margin* when "
    "the whole interval lies above −{margin:g}, *degradation* when it lies below, else "
    "*inconclusive*; where either recipe has one seed the interval misses its training variance, so "
    "the call is *inconclusive*.")


ALPHA_STEPS_HEADER = (
    "### α steps: each α against the next smaller one (A = more monolingual batches)\n\n"
    "Same nested intervals ({n:,} resamples: seeds, then question ids); Holm over the rows of this "
    "table, a family of its own; direction words as in the verdict. Only α with two or more seeds "
    "take part.")


# -- the verdict: nested, clustered intervals and non-inferiority ---------------------------------
VERDICT_MEASURES = MEASURE_LABELS


def _runs_of(found: Sequence[runs.Run], summary: pd.DataFrame, recipe: Recipe) -> list[runs.Run]:
    by_id = {(r.run_id, source_of(r)): r for r in found}
    chosen = recipe.select(summary.drop_duplicates(["run", "source"]))
    return [by_id[key] for key in zip(chosen["run"], chosen["source"])]


def verdict_table(found: Sequence[runs.Run], datasets: Sequence[str] = ("mlqa-r",),
                  margin: float = intervals.DEFAULT_MARGIN, n_resamples: int = intervals.DEFAULT_RESAMPLES,
                  comparisons: list[tuple[Recipe, Recipe]] | None = None) -> pd.DataFrame:
    """Recipe A − recipe B (default: hybrid(0.5) − mono and − cross) per model, dataset and measure.

    Intervals resample seeds, then question ids (``intervals.recipe_difference``); Holm runs
    over every row of the table (the stated family). ``verdict`` is the non-inferiority call on
    Mono mAP against mono with ``margin``; ``direction`` says better / worse / no clear
    difference for every row. ``run_a`` / ``run_b`` name the lowest-seed run of each recipe
    (the pair a drill-down shows).
    """
    found = one_run_per_seed(found)[0]
    summary = summary_frame(found)
    rows = []
    for hybrid, other in comparisons if comparisons is not None else default_comparisons(summary):
        group_a, group_b = _runs_of(found, summary, hybrid), _runs_of(found, summary, other)
        for recipe, group in ((hybrid, group_a), (other, group_b)):
            if not group:
                raise ValueError(f"no complete run matches {recipe.label}")
        ranks_a, ranks_b = [r.ranks for r in group_a], [r.ranks for r in group_b]
        pair = {"run_a": _first_seed(group_a).run_id, "run_b": _first_seed(group_b).run_id}
        info = summary[summary["model"] == hybrid.model].iloc[0]
        for dataset in datasets:
            if not all(_has_dataset(group, dataset) for group in (group_a, group_b)):
                continue  # e.g. QA-protocol runs, evaluated on MLQA-R only
            for measure in VERDICT_MEASURES:
                d = intervals.recipe_difference(ranks_a, ranks_b, dataset, measure, n_resamples)
                rows.append({**vars(d), "model": hybrid.model + protocol_suffix(summary, hybrid),
                             **pair,
                             "layers": info["layers"], "params": info["params"],
                             "recipe": training_label(hybrid.sampling, hybrid.alpha),
                             "against": training_label(other.sampling, other.alpha),
                             "direction": intervals.direction(d),
                             "verdict": intervals.verdict(d, margin) if (measure, other.sampling) == ("mono", "mono")
                             else ""})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_floor"] = frame["p_floor"].astype(float)
    return _with_holm(frame)


def scale_table(found: Sequence[runs.Run], datasets: Sequence[str] = ("mlqa-r",),
                n_resamples: int = intervals.DEFAULT_RESAMPLES) -> pd.DataFrame:
    """How hybrid(0.5) − mono and − cross change from each scale to the next larger one.

    Scales are the models of one protocol that have both recipes (``default_comparisons``,
    smallest first; the starting weights, which differ between models, are left out:
    ``protocol.scale_protocol``); each row is one measure of one consecutive pair, with the nested
    interval of ``intervals.scale_change`` and Holm over every row of the table.
    """
    found = one_run_per_seed(found)[0]
    summary = summary_frame(found)
    across_models = {protocol_id(p): protocol_id(scale_protocol(p)) for p in map(protocol_of, found)}
    ladders: dict[tuple, list[tuple[Recipe, Recipe]]] = {}
    for hybrid, other in default_comparisons(summary):  # ordered by parameter count
        ladders.setdefault((across_models.get(hybrid.protocol, hybrid.protocol), other.sampling), []).append(
            (hybrid, other))
    rows = []
    for pairs in ladders.values():
        builds = Counter(hybrid.model for hybrid, _ in pairs)
        for smaller, larger in _consecutive_models(pairs):
            members = [_runs_of(found, summary, recipe) for recipe in (*smaller, *larger)]
            groups = [[r.ranks for r in member] for member in members]
            for dataset in datasets:
                if not all(_has_dataset(member, dataset) for member in members):
                    continue
                for measure in VERDICT_MEASURES:
                    c = intervals.scale_change(groups[:2], groups[2:], dataset, measure, n_resamples)
                    rows.append({**vars(c), "small": _rung_name(summary, smaller[0], builds),
                                 "large": _rung_name(summary, larger[0], builds),
                                 "recipe": training_label(smaller[0].sampling, smaller[0].alpha),
                                 "against": training_label(smaller[1].sampling, smaller[1].alpha),
                                 "direction": intervals.change_direction(c, "hybrid")})
    frame = pd.DataFrame(rows)
    return frame if frame.empty else _with_holm(frame)


def _with_holm(frame: pd.DataFrame) -> pd.DataFrame:
    """Holm over every row (the table is the family); directions that do not survive it say so."""
    frame["p_holm"] = np.maximum(stats.holm(frame["p_value"].to_numpy()), frame["p_floor"])
    frame["direction"] = [intervals.after_holm(d, p) for d, p in zip(frame["direction"], frame["p_holm"])]
    return frame


def _rung_name(summary: pd.DataFrame, recipe: Recipe, builds: Counter) -> str:
    """The model's name, with its protocol where the ladder holds more than one build of it."""
    return recipe.model + (protocol_suffix(summary, recipe) if builds[recipe.model] > 1 else "")


def _consecutive_models(pairs: list[tuple[Recipe, Recipe]]) -> list[tuple[tuple[Recipe, Recipe], ...]]:
    """Each comparison of a model against each of the next larger model's (in ``pairs`` order); a
    model with two builds (two starting weights) is compared build by build, never with itself."""
    by_model: dict[str, list[tuple[Recipe, Recipe]]] = {}
    for pair in pairs:
        by_model.setdefault(pair[0].model, []).append(pair)
    models = list(by_model)
    return [(smaller, larger) for small, large in zip(models, models[1:])
            for smaller in by_model[small] for larger in by_model[large]]


def scale_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per pair of scales, comparison and dataset, every word from the table."""
    out = []
    keys = ["small", "large", "recipe", "against", "dataset"]
    for (small, large, recipe, against, dataset), rows in table.groupby(keys, sort=False):
        rows = rows.set_index("measure")
        seeds = rows["seeds"].iloc[0]
        items = []
        for m in VERDICT_MEASURES:
            if m in rows.index:
                r, digits = rows.loc[m], measure_of(m).digits
                small_diff, large_diff, change, low, high = (
                    f"{r[k]:+.{digits}f}" for k in ("small_diff", "large_diff", "change", "ci_low", "ci_high"))
                items.append(f"{VERDICT_MEASURES[m]} {small_diff} → {large_diff}, change {change} [{low}, {high}] "
                             f"({r['direction']})")
        out.append(f"{recipe} − {against} on {dataset}, {small} → {large} (seeds {seeds[0]}/{seeds[1]} → "
                   f"{seeds[2]}/{seeds[3]}): " + "; ".join(items) + ".")
    return out


SCALE_HEADER = (
    "### Does it change with scale?\n\n"
    "For each scale and the next larger one of the same protocol: how hybrid − mono (and − cross) "
    "changes, (Δ at the larger) − (Δ at the smaller), with 95% intervals from {n:,} nested bootstrap "
    "resamples (the same question ids for both scales, each recipe's seeds resampled on their own). "
    "*moves in hybrid's favour* / *against hybrid* when the whole interval lies on one side of zero, "
    "else *no clear change*; *not clear after Holm* when the Holm-adjusted p (over every row of the "
    "table) is above 0.05; *inconclusive* where any of the four recipes has one seed.")


def scale_markdown(table: pd.DataFrame) -> str:
    """The scale sentences, or why there are none."""
    if table.empty:
        return "(fewer than two scales of one protocol have hybrid(0.5) and mono or cross runs: not measured)"
    return "\n".join(f"- {s}" for s in scale_sentences(table))


def _first_seed(group: Sequence[runs.Run]) -> runs.Run:
    """The run of the lowest seed in ``group`` (the pair a page shows for a verdict row)."""
    return min(group, key=lambda r: (r.config.get("train") or {}).get("seed") or 0)


def _has_dataset(group: Sequence[runs.Run], dataset: str) -> bool:
    """Whether every run of ``group`` was evaluated on ``dataset``."""
    return all((r.ranks["dataset"] == dataset).any() for r in group)


def _interval(row: pd.Series) -> str:
    measure = row["measure"] if "measure" in row.index else row.name
    digits = measure_of(measure).digits
    return f"{row['diff']:+.{digits}f} [{row['ci_low']:+.{digits}f}, {row['ci_high']:+.{digits}f}]"


def verdict_sentences(table: pd.DataFrame, margin: float = intervals.DEFAULT_MARGIN) -> list[str]:
    """One sentence per model and dataset, every word taken from the table."""
    out = []
    for (model, dataset), rows in table.groupby(["model", "dataset"], sort=False):
        first = rows.iloc[0]
        clauses = []
        for (recipe, against), part in rows.groupby(["recipe", "against"], sort=False):
            part = part.set_index("measure")
            seeds = f"{int(part['seeds_a'].iloc[0])} vs {int(part['seeds_b'].iloc[0])} seeds"
            items = [f"{VERDICT_MEASURES[m]} {_interval(part.loc[m])} ({part.loc[m, 'direction']})"
                     for m in VERDICT_MEASURES if m in part.index]
            call = part.loc["mono", "verdict"] if "mono" in part.index else ""
            clauses.append(f"{recipe} − {against} ({seeds}): " + ", ".join(items)
                           + (f"; Mono verdict: {call} (margin {margin:g})" if call else ""))
        out.append(f"{model} ({int(first['layers'])} layers) on {dataset} ({int(first['n_clusters']):,} "
                   f"questions): " + "; ".join(clauses) + ".")
    return out


NO_ALPHA_STEPS = "(no sweep beyond the three recipes with two or more seeds per α yet)"


def alpha_step_lines(table: pd.DataFrame) -> str:
    """The α-step sentences as a Markdown list (README's α block)."""
    return "\n".join(f"- {s}" for s in verdict_sentences(table)) if not table.empty else NO_ALPHA_STEPS


def alpha_steps_markdown(table: pd.DataFrame) -> str:
    """The α-step sentences and the table behind them."""
    return verdict_markdown(table, recipe_column=True) if not table.empty else NO_ALPHA_STEPS


def verdict_markdown(table: pd.DataFrame, margin: float = intervals.DEFAULT_MARGIN,
                     recipe_column: bool = False) -> str:
    """The verdict sentences and the table behind them (Holm over all rows)."""
    if table.empty:
        return "(no model has hybrid(0.5) and mono runs: no verdict)"
    shown = table.assign(
        **{"Δ [95% CI]": table.apply(_interval, axis=1),
           "p (Holm)": [f"<= {h:.2g}" if p <= f + 1e-12 else f"{h:.3g}"
                        for p, h, f in zip(table["p_value"], table["p_holm"], table["p_floor"])],
           "measure": table["measure"].map(VERDICT_MEASURES), "questions": table["n_clusters"].map("{:,}".format),
           "seeds": table["seeds_a"].astype(str) + " vs " + table["seeds_b"].astype(str)})
    columns = ["model", "dataset", *(["recipe"] if recipe_column else []), "against", "measure", "seeds",
               "questions", "Δ [95% CI]", "p (Holm)", "direction", *([] if recipe_column else ["verdict"])]
    lines = [f"- {s}" for s in verdict_sentences(table, margin)]
    renamed = {"recipe": "A", "against": "B"} if recipe_column else {"against": "hybrid vs"}
    return "\n".join(lines) + "\n\n" + _markdown(shown[columns].rename(columns=renamed))
