"""Findings over many runs: recipes averaged over seeds, the α sweep, and the declared families.

A *recipe* is everything about a run except its seed (model, sampling, α, mix, steps); runs
are pooled only within one *protocol* (``vocabulary.protocol_of``: evaluation datasets,
languages and limit, training corpus, steps, batch size, learning rate, ...), so a quick or
language-subset run never moves the mean of a full one.

- ``seed_table``: mean and sample standard deviation of each aggregate over a recipe's seeds.
- ``alpha_sweeps``: the runs of one model that differ only in α (mono = 1, cross = 0).
- ``seed_differences``: recipe A − recipe B per shared seed (the spread of the effect itself).
- ``ladder`` / ``declared_families``: the rungs of the study and the families of
  docs/protocol.md (``families``), cached beside the runs (``family_cache``).

``findings_markdown`` is ``results/reference/FINDINGS.md``; ``readme_blocks`` README's
generated findings. The command line (``report``) lives in ``hybridir_core.cli``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hybridir_core.analysis import families, family_cache, family_text
from hybridir_core.analysis.published import load_published
from hybridir_core.runs import directory as runs
from hybridir_core.runs.measures import MEASURES as VALUES
from hybridir_core.runs.measures import (
    SAMPLING_ORDER,
    ZERO_SHOT,
    dataset_order,
    training_label,
)
from hybridir_core.runs.measures import measure as measure_of
from hybridir_core.runs.protocol import run_info, source_of, summary_frame

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


def ladder(found: Sequence[runs.Run]) -> list[families.Rung]:
    """The rungs of the study: each model (and protocol) with hybrid(0.5) and mono runs on
    MLQA-R, its runs by recipe and its zero-shot run, smallest first."""
    found = one_run_per_seed(found)[0]
    summary = _with_recipe(summary_frame(found))
    rows = summary[summary["dataset"] == families.DATASET]
    by_id = {(r.run_id, source_of(r)): r for r in found}
    rungs = []
    for hybrid, other in default_comparisons(rows):
        if other.sampling != "mono":
            continue
        part = rows[(rows["model"] == hybrid.model) & (rows["protocol"] == hybrid.protocol)]
        recipes: dict[tuple, list] = {}
        for r in part.itertuples():
            key = (r.sampling, float(r.alpha) if r.sampling == "hybrid" else None)
            recipes.setdefault(key, []).append((int(r.seed), by_id[(r.run, r.source)].ranks))
        zero = rows[(rows["model"] == hybrid.model) & (rows["sampling"] == ZERO_SHOT)
                    & rows["evaluation"].isin(["full", ""])]
        rungs.append(families.Rung(hybrid.model, int(part["layers"].iloc[0]), recipes,
                                   [by_id[(r.run, r.source)].ranks for r in zero.itertuples()]))
    return sorted(rungs, key=lambda r: r.layers)


@dataclass(frozen=True)
class StudyTables:
    """What the Findings rest on, computed once (FINDINGS.md and README's block render the same)."""

    summary: pd.DataFrame
    comparisons: list[tuple[Recipe, Recipe]]
    families: pd.DataFrame
    paper: pd.DataFrame
    set_aside: list[str] = field(default_factory=list)


def study_tables(found: Sequence[runs.Run], comparisons: list[tuple[Recipe, Recipe]] | None = None,
                 folders: Sequence = (), bootstrap: dict | None = None) -> StudyTables:
    """The summary and the declared families of ``found`` (one run per seed); the families are
    read from ``<folder>/families.json`` when it holds these runs (``cached_families``)."""
    found, repeats = one_run_per_seed(found)
    summary = summary_frame(found)
    if summary.empty:
        raise ValueError("no complete runs to report on")
    comparisons = comparisons if comparisons is not None else default_comparisons(summary)
    for recipe in {r for pair in comparisons for r in pair}:
        if not recipe.mask(summary).any():
            raise ValueError(f"no complete run matches {recipe.label}")
    return StudyTables(summary, comparisons, *cached_families(found, folders, bootstrap),
                       [f"{a.path} (repeats {b.path})" for a, b in repeats])


def cached_families(found: Sequence[runs.Run], folders: Sequence = (), bootstrap: dict | None = None,
                    progress: Callable[[float, str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``declared_families`` of the runs left by ``one_run_per_seed``, read from a ``families.json``
    in ``folders`` (or the user cache) when it holds these runs' and settings' key (``family_cache``)."""
    settings = {**DEFAULT_BOOTSTRAP, **(bootstrap or {})}
    return family_cache.cached(one_run_per_seed(found)[0], lambda f: declared_families(f, settings, progress),
                               folders, settings)


DEFAULT_BOOTSTRAP = {"n_resamples": 2_000, "seed": 0}
"""The nested-bootstrap cross-check of the primary rows (never used by a label)."""


def declared_families(found: Sequence[runs.Run], bootstrap: dict | None = None,
                      progress: Callable[[float, str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The families of docs/protocol.md over ``found`` and the paper-vs-here table (S7); empty
    frames where no rung has the recipes."""
    rungs = ladder(found)
    if not rungs:
        return pd.DataFrame(), pd.DataFrame()
    frame = families.all_families(rungs, bootstrap, progress)
    return frame, families.paper_versus_here(frame, load_published().rows)


SET_ASIDE = "Set aside (the recipe, protocol and seed of another run, so not one more seed): "


EXPLORATORY = ("**Exploratory.** These runs are not the ones docs/protocol.md declares (its families are for "
               "the QA-protocol study in results/reference); the families below apply its rules to them, but "
               "nothing here was declared before the runs.")


def findings_markdown(tables: StudyTables, declared: bool = True) -> str:
    """The Findings as one Markdown document: the declared families, then the tables they rest on;
    ``declared=False`` marks them exploratory (runs the protocol does not cover)."""
    summary = tables.summary
    parts = [f"## Findings over {summary['run'].nunique()} runs", "",
             "Written by `python -m hybridir_core report`; every number and direction word below is "
             "generated from the runs. Estimands, interval method, families and labels are declared in "
             "docs/protocol.md (sections 3-6); anything else is exploratory. Mono and Cross are means of "
             "language cells (diagonal, off-diagonal), Multi the mean over query languages of pooled mAP, "
             "rank distance the largest minus the smallest pooled rank of a query's relevant candidates "
             "(per query language, then over languages; lower = less language bias), language preference "
             "the rate at which the query's own-language answer ranks first among its relevant candidates "
             "(lower = less bias).", "",
             *([SET_ASIDE + "; ".join(tables.set_aside), ""] if tables.set_aside else []),
             *([] if declared else [EXPLORATORY, ""]), *answer_parts(tables),
             "### Recipes (mean ± sample std over seeds)", "", seed_table_markdown(seed_table(summary)), "",
             "### α sweep (mean over seeds; α = share of monolingual batches)", "",
             alpha_markdown(alpha_table(summary)), ""]
    for a, b in tables.comparisons:
        spread = seed_differences(summary, a, b)
        if not spread.empty and len(spread["seeds"].iloc[0]) > 1:
            parts += [f"### Seed by seed (exploratory): A = {a.label} vs B = {b.label}{protocol_suffix(summary, a)}",
                      "", seed_differences_markdown(spread), ""]
    return "\n".join(parts)


FAMILIES_HEADER = (
    "### The declared families\n\n"
    "Intervals: 95 %, two-component t (question clusters + between-seed variance, Satterthwaite "
    "degrees of freedom; analytic, no resampling). Holm within each family; one-sided 0.025 for "
    "non-inferiority (margin {margin:g}) and confirmatory tests, two-sided 0.05 otherwise.")


def answer_parts(tables: StudyTables) -> list[str]:
    """The lead, the rung x measure overview and every declared family (empty without rungs)."""
    frame = tables.families
    if frame.empty:
        return ["(no model has hybrid(0.5), mono and cross runs on MLQA-R: the declared families are not computed)", ""]
    paper = tables.paper
    return ["### The answer", "", *[f"- {s}" for s in family_text.lead(frame)],
            *([f"- {family_text.paper_summary(paper)}"] if not paper.empty else []), "",
            "Hybrid(0.5) − mono per rung (Mono: P; the rest: S1):", "", family_text.overview(frame), "",
            FAMILIES_HEADER.format(margin=families.MARGIN), "", family_text.families_markdown(frame),
            "#### S7: paper vs here (descriptive)", "", family_text.paper_markdown(paper), ""]


def readme_blocks(tables: StudyTables) -> dict[str, str]:
    """README's generated findings (``scripts/findings.py`` writes it between
    ``<!-- findings:start -->`` and ``<!-- findings:end -->``; a test compares them)."""
    frame = tables.families
    if frame.empty:
        return {"findings": "(no study runs)"}
    lines = [*[f"- {s}" for s in family_text.lead(frame)],
             *([f"- {family_text.paper_summary(tables.paper)}"] if not tables.paper.empty else [])]
    return {"findings": "\n".join(lines) + "\n\n" + family_text.overview(frame)}
