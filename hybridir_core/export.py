"""The comparison CSV: one row per run x dataset x setting, in words a spreadsheet user reads.

The CLI (``python -m hybridir_core export``) and the dashboard's download button both call
``comparison_frame`` + ``to_csv_bytes``, so the two files are identical.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .runs import Run, load_run

SETTINGS = {
    "mono": ("mono_map", "mono_map_micro"),
    "cross": ("cross_map", "cross_map_micro"),
    "multi": ("multi_map", "multi_map_micro"),
}
COLUMNS = [
    "run", "reference", "model", "scale", "layers", "params", "sampling", "alpha", "mix", "seed",
    "steps", "dataset", "setting", "map_macro", "map_micro", "multi_recall_at_10",
    "mean_rank_distance", "median_rank_distance", "n_questions", "n_candidates", "limit_per_lang",
]


def run_description(run: Run) -> dict:
    """Model and training fields of a run, flat (None where not applicable)."""
    model = run.config.get("model", {})
    train = run.config.get("train") or {}
    sampling = train.get("sampling") or {}
    return {
        "run": run.run_id,
        "reference": run.reference,
        "model": model.get("name"),
        "scale": model.get("scale"),
        "layers": model.get("layers"),
        "params": model.get("params"),
        "sampling": sampling.get("strategy", "zero-shot"),
        "alpha": sampling.get("alpha") if sampling.get("strategy") == "hybrid" else None,
        "mix": sampling.get("mix") if sampling.get("strategy") == "hybrid" else None,
        "seed": train.get("seed"),
        "steps": train.get("steps"),
        "limit_per_lang": (run.config.get("eval") or {}).get("limit_per_lang"),
    }


def comparison_frame(runs: list[Run | Path | str]) -> pd.DataFrame:
    """Rows of (run, dataset, setting) with macro and micro mAP and bias figures."""
    rows = []
    for run in runs:
        run = run if isinstance(run, Run) else load_run(Path(run))
        info = run_description(run)
        for dataset, m in sorted(run.metrics.items()):
            for setting, (macro, micro) in SETTINGS.items():
                rows.append({
                    **info, "dataset": dataset, "setting": setting,
                    "map_macro": m.get(macro), "map_micro": m.get(micro),
                    "multi_recall_at_10": m.get("multi_recall_at_10") if setting == "multi" else None,
                    "mean_rank_distance": m.get("mean_rank_distance"),
                    "median_rank_distance": m.get("median_rank_distance"),
                    "n_questions": m.get("n_questions"), "n_candidates": m.get("n_candidates"),
                })
    return pd.DataFrame(rows, columns=COLUMNS)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes with 4-decimal floats."""
    return frame.to_csv(index=False, float_format="%.4f").encode("utf-8")


SUMMARY_COLUMNS = [
    "run", "source", "model", "scale", "layers", "params", "sampling", "alpha", "mix", "seed",
    "steps", "limit_per_lang", "dataset", "mono_map", "cross_map", "multi_map",
    "multi_recall_at_10", "mean_rank_distance", "median_rank_distance", "n_questions",
]


def summary_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run x dataset with the three mAP settings side by side (for plots).

    ``source`` is ``reference`` for runs from the reference root, else ``local``.
    """
    rows = []
    for run in runs:
        info = run_description(run)
        info["source"] = "reference" if info.pop("reference") else "local"
        for dataset, m in sorted(run.metrics.items()):
            rows.append({**info, "dataset": dataset, **{k: m.get(k) for k in SUMMARY_COLUMNS if k in m}})
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for column in ("layers", "params", "seed", "steps", "limit_per_lang", "n_questions"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its description, then Mono/Cross/Multi mAP and mean rank distance per dataset.

    Dataset columns are named like ``xquad-r mono``, ``xquad-r rank dist.``.
    """
    summary = summary_frame(runs)
    info_cols = ["run", "source", "model", "scale", "sampling", "alpha", "mix", "seed", "steps",
                 "limit_per_lang"]
    if summary.empty:
        return pd.DataFrame(columns=info_cols)
    info = summary.drop_duplicates("run").set_index("run")[info_cols[1:]]
    values = {"mono_map": "mono", "cross_map": "cross", "multi_map": "multi",
              "mean_rank_distance": "rank dist."}
    wide = summary.pivot_table(index="run", columns="dataset", values=list(values), aggfunc="first")
    ordered = [(v, d) for d in sorted(summary["dataset"].unique()) for v in values if (v, d) in wide.columns]
    wide = wide[ordered]
    wide.columns = [f"{d} {values[v]}" for v, d in ordered]
    order = list(dict.fromkeys(summary["run"]))
    return info.join(wide).reindex(order).reset_index()
