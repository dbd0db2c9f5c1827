"""The paper's published numbers (arXiv 2408.10536, Tables 1 and 2), kept apart from local runs.

``data/published/elmahdy2024.json`` stores the printed numbers with their citation and where
they were read. They are shown as labelled "paper: ..." rows beside local runs and never enter
``runs.list_runs`` or the comparison CSV.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hybridir_core.paths import REPO_ROOT

PUBLISHED_FILE = REPO_ROOT / "data" / "published" / "elmahdy2024.json"
ROW_COLUMNS = ["table", "model", "paper_sampling", "sampling", "alpha", "dataset", "setting", "metric", "value"]


@dataclass
class Published:
    """The published tables: ``available`` is False when only the citation is bundled."""

    available: bool
    citation: str
    short: str
    url: str
    setup: str
    provenance: str
    rows: pd.DataFrame

    def label(self, model: str, paper_sampling: str) -> str:
        """How a published row is named on every page, e.g. ``paper: LaBSE Hybrid``."""
        return f"paper: {model} {paper_sampling}"


def load_published(path: Path | None = None) -> Published:
    """Read the published tables; a missing or unreadable file gives ``available=False``."""
    path = Path(path) if path else PUBLISHED_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        doc = {"available": False, "provenance": f"{path}: not readable ({exc})"}
    rows = pd.DataFrame(doc.get("rows") or [], columns=ROW_COLUMNS)
    available = bool(doc.get("available")) and not rows.empty
    return Published(available, doc.get("citation", "arXiv:2408.10536"),
                     doc.get("short", "Elmahdy et al. 2024 (arXiv:2408.10536)"),
                     doc.get("url", "https://arxiv.org/abs/2408.10536"), doc.get("setup", ""),
                     doc.get("provenance", ""), rows)


def summary_frame(published: Published | None = None) -> pd.DataFrame:
    """One row per published model x sampling x dataset, shaped like ``protocol.summary_frame``.

    Columns: ``run, source, model, sampling, alpha, mix, dataset, mono_map, cross_map,
    multi_map, mean_rank_distance``; ``source`` is ``published``.
    """
    published = published or load_published()
    columns = ["run", "source", "model", "sampling", "alpha", "mix", "dataset",
               "mono_map", "cross_map", "multi_map", "mean_rank_distance"]
    if not published.available:
        return pd.DataFrame(columns=columns)
    rows = published.rows
    keys = ["model", "paper_sampling", "sampling", "dataset"]
    maps = rows[rows.metric == "map_macro"].pivot_table(index=keys, columns="setting", values="value")
    maps = maps.rename(columns=lambda s: f"{s}_map")
    bias = rows[rows.metric == "mean_rank_distance"].set_index(keys)["value"].rename("mean_rank_distance")
    out = maps.join(bias, how="outer").reset_index()
    alpha = rows.drop_duplicates(keys).set_index(keys)["alpha"]
    out["alpha"] = out.set_index(keys).index.map(alpha)
    out["run"] = [published.label(m, s) for m, s in zip(out.model, out.paper_sampling)]
    out["source"] = "published"
    out["mix"] = out["sampling"].map(lambda s: "per-batch" if s == "hybrid" else None)
    return out[columns].sort_values(["dataset", "model", "sampling"]).reset_index(drop=True)
