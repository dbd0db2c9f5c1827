"""The declared families (``families.all_families``) as Markdown, LaTeX, CSV or JSON.

Every number and direction word below comes from a row of the families table; the sentences
only arrange them. ``docs/protocol.md`` names the families (P, S1-S6, C1).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from hybridir_core.analysis.families import FAMILIES, MARGIN

NAMES = {"mono": "Mono", "cross": "Cross", "multi": "Multi", "rank_distance": "rank distance",
         "lpr": "language preference"}
JSON_COLUMNS = ["family", "declared", "dataset", "rung", "layers", "comparison", "measure", "language", "estimate",
                "ci_low", "ci_high", "se", "df", "p_value", "p_holm", "p_holm_degraded", "label", "seeds", "n_clusters",
                "mono_gain", "bootstrap_low", "bootstrap_high"]
"""Every row of ``report --json``; ``p_holm`` of a P row is the non-inferiority test's, ``p_holm_degraded``
the degradation test's; ``bootstrap_*`` the nested-bootstrap cross-check (P rows only)."""


def _digits(measure: str, family: str = "") -> int:
    return 0 if measure == "rank_distance" and family != "S3" else 3


def interval(row: pd.Series) -> str:
    """``+0.012 [+0.003, +0.021]`` in the measure's precision."""
    d = _digits(row["measure"], row["family"])
    sign = "" if row["family"] == "S3" else "+"
    return f"{row['estimate']:{sign}.{d}f} [{row['ci_low']:{sign}.{d}f}, {row['ci_high']:{sign}.{d}f}]"


def _p(value: float) -> str:
    return "–" if pd.isna(value) else "< 0.001" if value < 0.001 else f"{value:.3f}"


def family_table(frame: pd.DataFrame, family: str) -> str:
    """One family as a Markdown table: rung, comparison, measure, Δ [95% CI], p (Holm), label."""
    rows = frame[frame["family"] == family]
    if rows.empty:
        return "(no runs for this family)"
    shown = pd.DataFrame({
        "rung": rows["rung"], "comparison": rows["comparison"],
        "measure": [NAMES[m] + (f" ({lang})" if isinstance(lang, str) else "")
                    for m, lang in zip(rows["measure"], rows.get("language", pd.Series(np.nan, index=rows.index)))],
        "seeds": rows["seeds"], "estimate [95% CI]": rows.apply(interval, axis=1),
        "p (Holm)": rows["p_holm"].map(_p) if "p_holm" in rows else "–", "label": rows["label"]})
    if family == "P":
        shown = shown.rename(columns={"p (Holm)": "p non-inferior (Holm)"})
        shown.insert(6, "p degraded (Holm)", rows["p_holm_degraded"].map(_p))
    if family == "P" and "bootstrap_low" in rows:
        shown["nested bootstrap (cross-check)"] = [f"[{lo:+.3f}, {hi:+.3f}]" for lo, hi in
                                                   zip(rows["bootstrap_low"], rows["bootstrap_high"])]
    return shown.to_markdown(index=False, disable_numparse=True)


def lead(frame: pd.DataFrame) -> list[str]:
    """The answer in a few sentences, each one built from the primary, S1, S3 and C1 rows."""
    out = []
    p = frame[frame["family"] == "P"]
    if not p.empty:
        parts = [f"{r.rung} {interval(r)} ({r.label})" for _, r in p.iterrows()]
        out.append(f"**Primary (P)**: hybrid(0.5) − mono on MLQA-R Mono, non-inferiority margin {MARGIN:g}: "
                   + "; ".join(parts) + ".")
    for measure in ("multi", "rank_distance", "lpr"):
        s1 = frame[(frame["family"] == "S1") & (frame["measure"] == measure)]
        if not s1.empty:
            words = ", ".join(f"{r.rung} {interval(r)} ({r.label})" for _, r in s1.iterrows())
            out.append(f"**{NAMES[measure]}** (S1, hybrid(0.5) − mono): {words}.")
    s3 = frame[frame["family"] == "S3"]
    if not s3.empty:
        out.append("**Share of mono training's Mono gain that hybrid keeps** (S3): "
                   + "; ".join(f"{r.rung} {interval(r)} of a gain of {r.mono_gain:+.3f}"
                               for _, r in s3.iterrows()) + ".")
    trend = frame[(frame["family"] == "S4") & frame["comparison"].str.contains("trend|→", regex=True)
                  & (frame["measure"] == "mono")]
    if not trend.empty:
        out.append("**Scale** (S4, hybrid − mono Mono): " + "; ".join(
            f"{r.comparison.split(': ', 1)[1]} {interval(r)} ({r.label})" for _, r in trend.iterrows()) + ".")
    c1 = frame[frame["family"] == "C1"]
    if not c1.empty:
        out.append("**Confirmatory (C1)**, 12 layers, α 0.75 − mono (seeds " + c1["seeds"].iloc[0] + "): " + "; ".join(
            f"{NAMES[r.measure]} {interval(r)} ({r.label})" for _, r in c1.iterrows()) + ".")
    return out


def overview(frame: pd.DataFrame) -> str:
    """Rung x measure: hybrid(0.5) − mono with its interval and declared label (P for Mono, S1 else)."""
    rows = frame[frame["family"].isin(["P", "S1"])]
    if rows.empty:
        return "(no rung has hybrid(0.5) and mono runs)"
    table = {}
    for _, r in rows.iterrows():
        table.setdefault(r.rung, {"rung": r.rung, "seeds (hybrid/mono)": r.seeds})[NAMES[r.measure]] = (
            f"{interval(r)} {r.label}")
    columns = ["rung", "seeds (hybrid/mono)", *[NAMES[m] for m in ("mono", "cross", "multi", "rank_distance", "lpr")]]
    return pd.DataFrame(list(table.values())).reindex(columns=columns).fillna("–").to_markdown(
        index=False, disable_numparse=True)


TONE = {"degradation beyond the margin": "bad", "worse": "bad", "better": "good",
        "no degradation beyond the margin": "good"}
"""How a label reads for hybrid (the Answer page colours cells by it); anything else is neutral."""


def overview_grid(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The overview as two rung x measure frames: the cell text and the cell's tone (good/bad/neutral)."""
    rows = frame[frame["family"].isin(["P", "S1"])]
    order = rows.sort_values("layers")["rung"].drop_duplicates().tolist() if "layers" in rows else None
    text = rows.assign(cell=[f"{interval(r)}  {r['label']}" for _, r in rows.iterrows()],
                       tone=rows["label"].map(TONE).fillna("neutral"), name=rows["measure"].map(NAMES))
    columns = [NAMES[m] for m in ("mono", "cross", "multi", "rank_distance", "lpr") if NAMES[m] in set(text["name"])]
    grids = [text.pivot_table(index="rung", columns="name", values=v, aggfunc="first").reindex(index=order,
                                                                                              columns=columns)
             for v in ("cell", "tone")]
    return grids[0].fillna("–"), grids[1].fillna("neutral")


def families_markdown(frame: pd.DataFrame) -> str:
    """Every family under its heading, declared first (the FINDINGS sections)."""
    parts = []
    for family, title in FAMILIES.items():
        parts += [f"#### {family}: {title}", "", family_table(frame, family), ""]
        if family == "S6":
            parts += ["Unseen language (vi, never trained on; outside the family):", "",
                      family_table(frame, "S6 (unseen, outside the family)"), ""]
        if family == "C1" and (frame["family"] == "C1 sensitivity (new seeds only)").any():
            parts += ["Sensitivity, new seeds only (reported, not labelled):", "",
                      family_table(frame, "C1 sensitivity (new seeds only)"), ""]
    return "\n".join(parts)


def paper_markdown(table: pd.DataFrame) -> str:
    """S7 as a Markdown table (one row per paper model, comparison, measure and rung)."""
    if table.empty:
        return "(the paper's tables are not bundled)"
    shown = table.assign(**{"measure": table["measure"].map(NAMES),
                            "paper Δ": [f"{d:+.0f}" if m == "rank_distance" else f"{d:+.3f}"
                                        for d, m in zip(table["paper Δ"], table["measure"])],
                            "here Δ": [f"{d:+.0f}" if m == "rank_distance" else f"{d:+.3f}"
                                       for d, m in zip(table["here Δ"], table["measure"])]})
    return shown.to_markdown(index=False, disable_numparse=True)


def paper_summary(table: pd.DataFrame) -> str:
    """How many rung x paper-row pairs agree, disagree or stay unresolved here (generated)."""
    if table.empty:
        return ""
    counts = table["agreement"].value_counts()
    return ("Against the paper (S7, MLQA-R, both published models): "
            + ", ".join(f"{n} {k}" for k, n in counts.items()) + " of "
            + f"{len(table)} rung × published-difference pairs; a disagreement on a resolved row is a "
            "partial non-replication of the paper's direction.")


def to_json(frame: pd.DataFrame) -> str:
    """Every row for other tools (dataset, rung, comparison, measure, estimate, low, high, p, p_holm, label, family)."""
    rows = frame.reindex(columns=JSON_COLUMNS).replace({np.nan: None}).to_dict(orient="records")
    return json.dumps(rows, indent=1, default=float) + "\n"


def to_latex(frame: pd.DataFrame) -> str:
    """A booktabs table of every declared row (needs no package beyond booktabs)."""
    lines = [r"\begin{tabular}{llllrl}", r"\toprule",
             r"family & rung & comparison & measure & estimate [95\% CI] & label \\", r"\midrule"]
    for _, r in frame[frame["declared"]].iterrows():
        cells = [r["family"], r["rung"], r["comparison"], NAMES[r["measure"]], interval(r), r["label"]]
        lines.append(" & ".join(str(c).replace("α", r"$\alpha$").replace("−", "--").replace("→", r"$\to$")
                                .replace("%", r"\%") for c in cells) + r" \\")
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"
