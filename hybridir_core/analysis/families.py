"""The declared families of ``docs/protocol.md`` (P, S1-S6, C1) as one tidy table of rows.

Each row is one tested quantity: ``family, rung, comparison, measure, estimate, ci_low,
ci_high, se, df, p_value, p_holm, label`` (plus seeds and question counts). Every estimate is a
linear contrast of recipe means (``contrasts.linear_contrast``), so a verdict's point estimate is
exactly the difference of the recipe table's numbers. Labels follow section 5 of the protocol:
Holm within each family, one-sided 0.025 for non-inferiority and confirmatory tests, two-sided
0.05 otherwise; a direction is named only where the Holm-adjusted p allows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybridir_core.analysis import stats
from hybridir_core.analysis.contrasts import (
    HIGHER_IS_BETTER,
    Contrast,
    linear_contrast,
    nested_bootstrap,
    ratio_of_contrasts,
)

MARGIN = 0.01
LEVEL = 0.05
ONE_SIDED = 0.025
DATASET = "mlqa-r"
UNSEEN = ("vi",)
"""MLQA-R languages never trained on (the XQuAD-R training languages leave vi out)."""
CONFIRMATORY_SEEDS = (0, 1, 2, 3, 4)
NEW_SEEDS = (3, 4)
FAMILIES = {
    "P": "primary: hybrid(0.5) − mono Mono, non-inferiority, margin 0.01",
    "S1": "hybrid(0.5) − mono on the other measures",
    "S2": "hybrid(0.5) − cross",
    "S3": "share of mono training's Mono gain that hybrid(0.5) keeps",
    "S4": "scale: how hybrid(0.5) − mono changes with model size",
    "S5": "α sweep: trend per unit α and adjacent steps",
    "S6": "hybrid(0.5) − mono Mono per query language",
    "C1": "confirmatory: 12 layers, α 0.75 − mono, five seeds",
}
ONE_SEED = "inconclusive (one seed)"


@dataclass(frozen=True)
class Rung:
    """One model of the ladder: its runs by recipe, all under one training protocol."""

    model: str
    layers: int
    recipes: dict[tuple[str, float | None], list]  # (sampling, alpha) -> [(seed, ranks), ...]
    zero_shot: list

    @property
    def name(self) -> str:
        """d2 / d4 / d6 for the students, 12L for me5-small, else the model's own name."""
        if self.model == "me5-small":
            return "12L"
        return self.model.removeprefix("me5-small-") if self.model.startswith("me5-small-d") else self.model

    def ranks(self, sampling: str, alpha: float | None = None, seeds: Sequence[int] | None = None) -> list:
        runs = self.recipes.get((sampling, alpha), [])
        return [r for s, r in runs if seeds is None or s in seeds]

    def seeds(self, sampling: str, alpha: float | None = None) -> list[int]:
        return sorted(s for s, _ in self.recipes.get((sampling, alpha), []))


def _row(family: str, rung: str, comparison: str, measure: str, c: Contrast, **extra) -> dict:
    return {"family": family, "dataset": DATASET, "rung": rung, "comparison": comparison, "measure": measure,
            "estimate": c.estimate, "ci_low": c.ci_low, "ci_high": c.ci_high, "se": c.se, "df": c.df,
            "p_value": c.p_value, "seeds": "/".join(map(str, c.seeds)), "n_clusters": c.n_clusters,
            "one_seed": c.one_seed, **extra}


def _pair(rung: Rung, a: tuple, b: tuple, measure: str, seeds=None) -> Contrast:
    return linear_contrast([rung.ranks(*a, seeds=seeds), rung.ranks(*b, seeds=seeds)], [1.0, -1.0], DATASET, measure)


HYBRID, MONO, CROSS = ("hybrid", 0.5), ("mono", None), ("cross", None)


def primary(rungs: Sequence[Rung], bootstrap: dict | None = None) -> list[dict]:
    """P: hybrid(0.5) − mono Mono per rung, with both one-sided p-values of the margin, and the
    nested-bootstrap cross-check interval (``bootstrap``: ``n_resamples``, ``seed``)."""
    rows = []
    for rung in rungs:
        c = _pair(rung, HYBRID, MONO, "mono")
        low, high = nested_bootstrap([rung.ranks(*HYBRID), rung.ranks(*MONO)], [1.0, -1.0], DATASET, "mono",
                                     **(bootstrap or {}))
        rows.append(_row("P", rung.name, "hybrid 0.5 − mono", "mono", c, bootstrap_low=low, bootstrap_high=high,
                         p_noninferior=c.p_beyond(-MARGIN, above=True), p_degraded=c.p_beyond(-MARGIN, above=False)))
    return rows


def label_primary(rows: list[dict]) -> None:
    """Holm over the family for each one-sided hypothesis; the label is the rule's."""
    ni, deg = stats.holm([r["p_noninferior"] for r in rows]), stats.holm([r["p_degraded"] for r in rows])
    for row, p_ni, p_deg in zip(rows, ni, deg):
        row["p_holm"], row["p_holm_degraded"] = float(p_ni), float(p_deg)
        row["label"] = (ONE_SEED if row["one_seed"] else "no degradation beyond the margin" if p_ni <= ONE_SIDED
                        else "degradation beyond the margin" if p_deg <= ONE_SIDED else "inconclusive")


def versus(rungs: Sequence[Rung], family: str, other: tuple, measures: Sequence[str]) -> list[dict]:
    """S1 / S2: hybrid(0.5) − ``other`` per rung and measure."""
    name = f"hybrid 0.5 − {other[0]}"
    return [_row(family, rung.name, name, m, _pair(rung, HYBRID, other, m)) for rung in rungs for m in measures]


def direction_word(row: dict) -> str:
    """better / worse (for hybrid, the measure's direction) / no clear difference, after Holm."""
    if row["one_seed"]:
        return ONE_SEED
    if row["p_holm"] > LEVEL:
        return "no clear difference"
    good = (row["estimate"] > 0) == HIGHER_IS_BETTER[row["measure"]]
    return "better" if good else "worse"


def change_word(row: dict) -> str:
    """increases / decreases / no clear change (S4, S5), after Holm."""
    if row["one_seed"]:
        return ONE_SEED
    return "no clear change" if row["p_holm"] > LEVEL else "increases" if row["estimate"] > 0 else "decreases"


def label_two_sided(rows: list[dict], word: Callable[[dict], str]) -> None:
    for row, p in zip(rows, stats.holm([r["p_value"] for r in rows])):
        row["p_holm"] = float(p)
        row["label"] = word(row)


def retained_share(rungs: Sequence[Rung]) -> list[dict]:
    """S3: (hybrid − zero-shot) / (mono − zero-shot) on Mono, per rung with a zero-shot run."""
    rows = []
    for rung in rungs:
        if not rung.zero_shot:
            continue
        groups = [rung.ranks(*HYBRID), rung.ranks(*MONO), rung.zero_shot[:1]]
        ratio, low, high, df = ratio_of_contrasts(groups, [1, 0, -1], [0, 1, -1], DATASET, "mono", [True, True, False])
        gain = linear_contrast(groups, [0, 1, -1], DATASET, "mono", [True, True, False])
        label = ("keeps all of the gain (interval holds 1)" if low <= 1 <= high
                 else "keeps less than all of the gain" if high < 1 else "more than all of the gain")
        rows.append({"family": "S3", "dataset": DATASET, "rung": rung.name, "comparison": "(hybrid − zero-shot) / "
                     "(mono − zero-shot)", "measure": "mono", "estimate": ratio, "ci_low": low, "ci_high": high,
                     "df": df, "mono_gain": gain.estimate, "seeds": "/".join(map(str, gain.seeds)),
                     "n_clusters": gain.n_clusters, "one_seed": gain.one_seed, "label": label})
    return rows


def _weights(x: Sequence[float]) -> np.ndarray:
    """Least-squares slope weights: slope = sum_k a_k y_k."""
    x = np.asarray(x, dtype=float)
    return (x - x.mean()) / np.sum((x - x.mean()) ** 2)


def scale(rungs: Sequence[Rung], measures: Sequence[str] = ("mono", "multi", "rank_distance")) -> list[dict]:
    """S4: trend of hybrid − mono against log10 layers (= log10 non-embedding params + a constant),
    the end-to-end change smallest → largest, and each adjacent step."""
    rungs = [r for r in rungs if r.layers > 0]  # a static model has no depth to put on a log axis
    if len(rungs) < 2:
        return []
    groups = [g for rung in rungs for g in (rung.ranks(*HYBRID), rung.ranks(*MONO))]
    plans = [("trend per log10 params", _weights([np.log10(r.layers) for r in rungs]))]
    n = len(rungs)
    if n > 2:  # with two rungs the end-to-end change is the one step
        plans.append((f"{rungs[0].name} → {rungs[-1].name}", np.eye(n)[-1] - np.eye(n)[0]))
    plans += _steps([r.name for r in rungs])
    rows = []
    for measure in measures:
        for name, a in plans:
            weights = [w for k in a for w in (k, -k)]
            c = linear_contrast(groups, weights, DATASET, measure)
            rows.append(_row("S4", "all", f"hybrid 0.5 − mono: {name}", measure, c))
    return rows


ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _alpha_recipe(alpha: float) -> tuple:
    return CROSS if alpha == 0 else MONO if alpha == 1 else ("hybrid", alpha)


def _steps(names: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """Each adjacent step ``a → b`` as contrast weights over the points."""
    eye = np.eye(len(names))
    return [(f"{a} → {b}", eye[i + 1] - eye[i]) for i, (a, b) in enumerate(zip(names, names[1:]))]


def alpha_sweep(rungs: Sequence[Rung],
                measures: Sequence[str] = ("mono", "multi", "rank_distance", "lpr")) -> list[dict]:
    """S5: at each rung with all five α, the slope per unit α and each adjacent step."""
    rows = []
    for rung in rungs:
        if not all(rung.ranks(*_alpha_recipe(a)) for a in ALPHAS):
            continue
        groups = [rung.ranks(*_alpha_recipe(a)) for a in ALPHAS]
        plans = [("slope per unit α", _weights(ALPHAS))]
        plans += [(f"α {name}", w) for name, w in _steps([f"{a:g}" for a in ALPHAS])]
        for measure in measures:
            rows += [_row("S5", rung.name, name, measure, linear_contrast(groups, list(w), DATASET, measure))
                     for name, w in plans]
    return rows


def per_language(rungs: Sequence[Rung]) -> list[dict]:
    """S6: hybrid(0.5) − mono Mono in each query language; unseen languages outside the family."""
    rows = []
    for rung in rungs:
        hybrid, mono = rung.ranks(*HYBRID), rung.ranks(*MONO)
        langs = sorted(set(hybrid[0].loc[hybrid[0]["dataset"] == DATASET, "query_lang"]))
        for lang in langs:
            pick = [[r[(r["dataset"] == DATASET) & (r["query_lang"] == lang)] for r in g] for g in (hybrid, mono)]
            c = linear_contrast(pick, [1.0, -1.0], DATASET, "mono")
            rows.append(_row("S6" if lang not in UNSEEN else "S6 (unseen, outside the family)", rung.name,
                             "hybrid 0.5 − mono", "mono", c, language=lang))
    return rows


CLAIMS = {"mono": "non-inferior (margin 0.01)", "multi": "better", "rank_distance": "less biased"}


def confirmatory(rungs: Sequence[Rung]) -> list[dict]:
    """C1 at the largest rung: α 0.75 − mono on five seeds (Mono NI, Multi > 0, rank distance < 0),
    Holm over the three one-sided tests; the new seeds alone as a sensitivity row."""
    top = max(rungs, key=lambda r: r.layers)
    a75 = ("hybrid", 0.75)
    if not (top.ranks(*a75) and top.ranks(*MONO)):
        return []
    have = [s for s in CONFIRMATORY_SEEDS if s in top.seeds(*a75) and s in top.seeds(*MONO)]
    tests = (("mono", -MARGIN, True), ("multi", 0.0, True), ("rank_distance", 0.0, False))
    rows = []
    for measure, bound, above in tests:
        c = _pair(top, a75, MONO, measure, seeds=CONFIRMATORY_SEEDS)
        rows.append(_row("C1", top.name, "hybrid 0.75 − mono", measure, c, bound=bound,
                         p_one_sided=c.p_beyond(bound, above)))
    done = len(have) == len(CONFIRMATORY_SEEDS)
    for row, p in zip(rows, stats.holm([r["p_one_sided"] for r in rows])):
        row["p_holm"] = float(p)
        claim = CLAIMS[row["measure"]]
        row["label"] = (f"pending: {len(have)} of 5 seeds" if not done
                        else f"confirmed: {claim}" if p <= ONE_SIDED else "not confirmed")
    if all(s in top.seeds(*a75) and s in top.seeds(*MONO) for s in NEW_SEEDS):
        for measure, _, _ in tests:
            c = _pair(top, a75, MONO, measure, seeds=NEW_SEEDS)
            rows.append(_row("C1 sensitivity (new seeds only)", top.name, "hybrid 0.75 − mono", measure, c,
                             label="reported, not labelled"))
    return rows


def paper_versus_here(frame: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """S7: the sign of each published MLQA-R hybrid − mono / − cross difference beside ours.

    ``published`` holds the paper's rows (``published.load_published().rows``); ``frame`` the
    labelled P, S1 and S2 rows. Descriptive: no test, the paper gives no intervals.
    """
    paper = published[(published["dataset"] == DATASET) & published["sampling"].isin(["mono", "hybrid", "cross"])]
    paper = paper.assign(measure=np.where(paper["metric"] == "mean_rank_distance", "rank_distance", paper["setting"]))
    rows = []
    for (model, measure), part in paper.groupby(["model", "measure"], sort=False):
        value = part.set_index("sampling")["value"].astype(float)
        for other, families in (("mono", ("P", "S1")), ("cross", ("S2",))):
            if not {"hybrid", other} <= set(value.index):
                continue
            delta = value["hybrid"] - value[other]
            ours = frame[frame["family"].isin(families) & (frame["measure"] == measure)
                         & (frame["comparison"] == f"hybrid 0.5 − {other}")]
            for _, r in ours.iterrows():
                rows.append({"paper model": model, "comparison": f"hybrid − {other}", "measure": measure,
                             "paper Δ": delta, "rung": r["rung"], "here Δ": r["estimate"], "here label": r["label"],
                             "agreement": _agreement(delta, r)})
    return pd.DataFrame(rows)


def _agreement(paper_delta: float, row: pd.Series) -> str:
    """Same sign and resolved here / opposite sign and resolved / not resolved here."""
    resolved = row["label"] in ("better", "worse", "degradation beyond the margin")
    if paper_delta == 0:
        return "paper: no difference" + ("; here resolved" if resolved else "; here unresolved too")
    if not resolved:
        return "here unresolved"
    return "agrees" if np.sign(paper_delta) == np.sign(row["estimate"]) else "disagrees"


def all_families(rungs: Sequence[Rung], bootstrap: dict | None = None,
                 progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """Every declared family, labelled, as one frame (the report's JSON rows); ``progress`` is
    told the share done and what comes next."""
    steps = [("P", lambda: primary(rungs, bootstrap)),
             ("S1", lambda: versus(rungs, "S1", MONO, ("cross", "multi", "rank_distance", "lpr"))),
             ("S2", lambda: versus([r for r in rungs if r.ranks(*CROSS)], "S2", CROSS,
                                   ("mono", "cross", "multi", "rank_distance", "lpr"))),
             ("S3", lambda: retained_share(rungs)), ("S4", lambda: scale(rungs)), ("S5", lambda: alpha_sweep(rungs)),
             ("S6", lambda: per_language(rungs)), ("C1", lambda: confirmatory(rungs))]
    done: dict[str, list[dict]] = {}
    for i, (name, compute) in enumerate(steps):
        if progress:
            progress(i / len(steps), f"{name}: {FAMILIES[name]}")
        done[name] = compute()
    _label(done)
    frame = pd.DataFrame([row for rows in done.values() for row in rows])
    frame["declared"] = frame["family"].str.match(r"^(P|S\d|C1)$")
    frame["layers"] = frame["rung"].map({r.name: r.layers for r in rungs})
    if progress:
        progress(1.0, "done")
    return frame


def _label(done: dict[str, list[dict]]) -> None:
    """Holm and the rule's words within each family (C1 and S3 label themselves)."""
    label_primary(done["P"])
    for name, word in (("S1", direction_word), ("S2", direction_word), ("S4", change_word), ("S5", change_word)):
        label_two_sided(done[name], word)
    label_two_sided([r for r in done["S6"] if r["family"] == "S6"], direction_word)
    for row in done["S6"]:
        row.setdefault("label", "exploratory (unseen language)")
        row.setdefault("p_holm", np.nan)
