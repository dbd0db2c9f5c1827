"""The comparison CSV: one row per run x dataset x setting, in words a spreadsheet user reads.

The CLI (``python -m hybridir_core export``) and the dashboard's download button both call
``comparison_frame`` + ``to_csv_bytes``, so the two files are identical.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hybridir_core.runs.directory import Run, load_run
from hybridir_core.runs.measures import SETTING_COLUMNS
from hybridir_core.runs.protocol import DESCRIPTION_COLUMNS, PROTOCOL_COLUMNS, describe_protocol, describe_run

COLUMNS = [*DESCRIPTION_COLUMNS[:-1], "dataset", "setting", "map_macro", "map_micro",
           "multi_recall_at_10", "mean_rank_distance", "median_rank_distance", "n_questions",
           "n_candidates", "limit_per_lang", *PROTOCOL_COLUMNS]
"""``languages`` (``all`` or the subset), ``evaluation`` (``full`` or ``quick: 30/lang · ...``) and
``protocol`` (rows of different protocols are not comparable) come last."""


def comparison_frame(runs: list[Run | Path | str]) -> pd.DataFrame:
    """Rows of (run, dataset, setting) with macro and micro mAP and bias figures."""
    rows = []
    for run in runs:
        run = run if isinstance(run, Run) else load_run(Path(run))
        info = {**describe_run(run), **describe_protocol(run)}
        for dataset, m in sorted(run.metrics.items()):
            for setting, (macro, micro) in SETTING_COLUMNS.items():
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
