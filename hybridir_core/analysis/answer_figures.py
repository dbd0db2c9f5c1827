"""Figures of the Answer page, drawn from the declared families table (``families.all_families``).

Pure ``DataFrame -> plotly Figure`` builders: they select rows and draw estimates with their
intervals; none computes a statistic.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hybridir_core.analysis.family_text import NAMES

LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=70, b=50))
AGAINST_COLOURS = {"mono": "#1f77b4", "cross": "#ff7f0e"}
FOREST_MEASURES = ("mono", "cross", "multi", "rank_distance", "lpr")


def _rung_order(rows: pd.DataFrame) -> list[str]:
    return rows.sort_values("layers")["rung"].drop_duplicates().tolist()


def forest(frame: pd.DataFrame, margin: float) -> go.Figure:
    """Hybrid(0.5) − mono and − cross per rung with 95 % intervals, one panel per measure (P, S1, S2);
    the non-inferiority margin on the Mono panel, zero on every panel."""
    rows = frame[frame["family"].isin(["P", "S1", "S2"])].copy()
    rows["against"] = rows["comparison"].str.split("− ").str[-1]
    measures = [m for m in FOREST_MEASURES if m in set(rows["measure"])]
    fig = make_subplots(rows=1, cols=len(measures), shared_yaxes=True,
                        subplot_titles=[f"Δ {NAMES[m]}" for m in measures])
    order = _rung_order(rows)
    for col, measure in enumerate(measures, start=1):
        for against, part in rows[rows["measure"] == measure].groupby("against", sort=True):
            part = part.set_index("rung").reindex([r for r in order if r in set(part["rung"])])
            fig.add_trace(go.Scatter(
                x=part["estimate"], y=part.index, mode="markers",
                marker=dict(size=11, color=AGAINST_COLOURS.get(against, "#2ca02c"),
                            symbol="circle" if against == "mono" else "diamond"),
                error_x=dict(type="data", symmetric=False, array=part["ci_high"] - part["estimate"],
                             arrayminus=part["estimate"] - part["ci_low"]),
                name=f"hybrid − {against}", legendgroup=against, showlegend=col == 1,
                customdata=part["label"], hovertemplate="%{y}: %{x:.4g} (%{customdata})<extra></extra>",
            ), row=1, col=col)
        fig.add_vline(x=0, line=dict(color="#999", width=1), row=1, col=col)
    if "mono" in measures:
        fig.add_vline(x=-margin, line=dict(color="#d62728", dash="dash"), row=1, col=measures.index("mono") + 1,
                      annotation_text=f"margin −{margin:g}", annotation_position="top left")
    fig.update_layout(title="Hybrid(α = 0.5) against mono and cross, MLQA-R (95 % two-component t intervals)",
                      legend=dict(orientation="h", y=-0.15), **LAYOUT)
    return fig


def scale_trend(frame: pd.DataFrame, measures: tuple[str, ...] = ("mono", "multi", "rank_distance")) -> go.Figure:
    """Hybrid(0.5) − mono against depth (log axis; non-embedding parameters are 1.77M per layer),
    one panel per measure, titled with the S4 trend and end-to-end change."""
    rows = frame[frame["family"].isin(["P", "S1"])]
    trend = frame[frame["family"] == "S4"]
    titles = []
    for m in measures:
        t = trend[(trend["measure"] == m) & trend["comparison"].str.contains("trend")]
        titles.append(NAMES[m] + (f"<br>trend {t['estimate'].iloc[0]:+.3g} per decade ({t['label'].iloc[0]})"
                                  if not t.empty else ""))
    fig = make_subplots(rows=1, cols=len(measures), subplot_titles=titles)
    for col, measure in enumerate(measures, start=1):
        part = rows[rows["measure"] == measure].sort_values("layers")
        fig.add_trace(go.Scatter(
            x=part["layers"], y=part["estimate"], mode="markers+lines", name=NAMES[measure], showlegend=False,
            text=part["rung"], error_y=dict(type="data", symmetric=False, array=part["ci_high"] - part["estimate"],
                                            arrayminus=part["estimate"] - part["ci_low"]),
            hovertemplate="%{text}: %{y:.4g}<extra></extra>"), row=1, col=col)
        fig.add_hline(y=0, line=dict(color="#999", width=1), row=1, col=col)
        fig.update_xaxes(type="log", title_text="layers", row=1, col=col)
    fig.update_layout(title="Does hybrid − mono change with scale? (S4)", **LAYOUT)
    fig.update_layout(margin_t=110)  # room for the figure's title above the two-line panel titles
    return fig


def language_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Hybrid(0.5) − mono Mono per query language (columns) and rung (rows), S6; vi (unseen) included
    and marked; the cell text carries the interval and label."""
    rows = frame[frame["family"].str.startswith("S6")]
    order = _rung_order(rows)
    grid = rows.pivot_table(index="rung", columns="language", values="estimate", aggfunc="first").reindex(order)
    text = rows.assign(t=[f"{e:+.3f}<br>[{lo:+.3f}, {hi:+.3f}]<br>{lab}" for e, lo, hi, lab in
                          zip(rows["estimate"], rows["ci_low"], rows["ci_high"], rows["label"])])
    text = text.pivot_table(index="rung", columns="language", values="t", aggfunc="first").reindex(order)
    columns = [c if c not in ("vi",) else "vi (unseen)" for c in grid.columns]
    bound = float(abs(grid.to_numpy()).max()) if grid.size else 1.0
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=columns, y=grid.index, text=text.to_numpy(),
                               texttemplate="%{text}", colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound,
                               hovertemplate="%{y} %{x}: %{z:.4f}<extra></extra>"))
    fig.update_layout(title="Hybrid(0.5) − mono Mono per query language (S6)", **LAYOUT)
    return fig
