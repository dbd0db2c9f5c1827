"""Pure ``DataFrame -> plotly.Figure`` builders for the dashboard (tested on data, not pixels).

Inputs are the tidy tables the core already writes or derives: ``matrix.csv`` rows,
``protocol.summary_frame``, ``published.summary_frame``, ``bias.rank_distances`` and the ranks
table. No builder computes a metric; they pivot, order and draw.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hybridir_core.analysis.report import alpha_sweeps
from hybridir_core.runs.measures import MAP_LABELS, MEASURE_LABELS, METRIC_LABELS, ZERO_SHOT, language_order

SAMPLING_COLORS = {ZERO_SHOT: "#7f7f7f", "mono": "#1f77b4", "cross": "#ff7f0e", "hybrid": "#2ca02c"}
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "x", "pentagon", "hexagon"]
PUBLISHED_SYMBOLS = {"XLM-R": "star", "LaBSE": "star-diamond"}
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=60, b=50))


def matrix_grid(matrix: pd.DataFrame, dataset: str, metric: str = "map") -> pd.DataFrame:
    """Query language x candidate language table of one metric (``multi`` column last)."""
    rows = matrix[matrix["dataset"] == dataset]
    grid = rows.pivot_table(index="query_lang", columns="candidate_lang", values=metric, aggfunc="first")
    return grid.reindex(index=language_order(grid.index), columns=language_order(grid.columns))


def _cell_text(z: np.ndarray, fmt: str) -> list[list[str]]:
    return [["" if (v is None or (isinstance(v, float) and math.isnan(v))) else format(v, fmt) for v in row]
            for row in z.tolist()]


def matrix_heatmap(matrix: pd.DataFrame, dataset: str, metric: str = "map",
                   title: str | None = None) -> go.Figure:
    """Heatmap of query x candidate language for ``metric``, values in the cells and on hover."""
    grid = matrix_grid(matrix, dataset, metric)
    counts = matrix_grid(matrix, dataset, "n_queries").reindex_like(grid)
    z = grid.to_numpy(dtype=float)
    label = METRIC_LABELS.get(metric, metric)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(grid.columns), y=list(grid.index), zmin=0.0, zmax=1.0, colorscale="Viridis",
        text=_cell_text(z, ".2f"), texttemplate="%{text}", customdata=counts.to_numpy(),
        hovertemplate=("query %{y} → candidates %{x}<br>" + label + " %{z:.3f}"
                       "<br>%{customdata} queries<extra></extra>"),
        colorbar=dict(title=label),
    ))
    fig.update_layout(title=title or f"{label} on {dataset}: query language × candidate language",
                      xaxis_title="candidate language (multi = the pooled ranking)",
                      yaxis_title="query language", **LAYOUT)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    return fig


def difference_grid(matrix_a: pd.DataFrame, matrix_b: pd.DataFrame, dataset: str,
                    metric: str = "map") -> pd.DataFrame:
    """``A - B`` per cell over the cells both runs have."""
    a, b = matrix_grid(matrix_a, dataset, metric), matrix_grid(matrix_b, dataset, metric)
    rows = [lang for lang in a.index if lang in b.index]
    cols = [lang for lang in a.columns if lang in b.columns]
    return a.loc[rows, cols] - b.loc[rows, cols]


def difference_heatmap(matrix_a: pd.DataFrame, matrix_b: pd.DataFrame, dataset: str,
                       metric: str = "map", label_a: str = "A", label_b: str = "B",
                       cell_tests: pd.DataFrame | None = None, alpha: float = 0.05) -> go.Figure:
    """``A - B`` on a diverging scale centred on 0 (blue: A better, red: B better).

    With ``cell_tests`` (``stats.cell_tests`` output), cells whose Holm-adjusted p-value is
    below ``alpha`` get a ``*`` and hover shows the p-value.
    """
    diff = difference_grid(matrix_a, matrix_b, dataset, metric)
    z = diff.to_numpy(dtype=float)
    bound = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.0
    bound = bound or 0.01
    text = _cell_text(z, "+.2f")
    p_holm = np.full(z.shape, np.nan)
    if cell_tests is not None and not cell_tests.empty:
        p = cell_tests.pivot_table(index="query_lang", columns="candidate_lang", values="p_holm",
                                   aggfunc="first").reindex(index=diff.index, columns=diff.columns)
        p_holm = p.to_numpy(dtype=float)
        text = [[t + ("*" if (not math.isnan(pv) and pv < alpha) else "") for t, pv in zip(trow, prow)]
                for trow, prow in zip(text, p_holm.tolist())]
    label = METRIC_LABELS.get(metric, metric)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(diff.columns), y=list(diff.index), zmid=0.0, zmin=-bound, zmax=bound,
        colorscale="RdBu", text=text, texttemplate="%{text}", customdata=p_holm,
        hovertemplate=("query %{y} → candidates %{x}<br>Δ" + label + " %{z:+.3f}"
                       "<br>Holm p %{customdata:.3g}<extra></extra>"),
        colorbar=dict(title=f"Δ {label}"),
    ))
    note = f" (* Holm-adjusted p < {alpha:g})" if cell_tests is not None else ""
    fig.update_layout(title=f"{label} difference on {dataset}: {label_a} − {label_b}{note}",
                      xaxis_title="candidate language", yaxis_title="query language", **LAYOUT)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def _symbol_map(values) -> dict:
    return {v: SYMBOLS[i % len(SYMBOLS)] for i, v in enumerate(sorted(map(str, set(values))))}


def tradeoff_scatter(summary: pd.DataFrame, dataset: str, x: str = "mono_map", y: str = "cross_map",
                     published: pd.DataFrame | None = None) -> go.Figure:
    """One point per run: ``x`` vs ``y`` mAP; colour = sampling, marker = model scale.

    Reference runs (``source == "reference"``) get open markers in their own legend group;
    ``published`` rows (``published.summary_frame``) are drawn as separate, labelled star
    traces in their own legend group, never merged with local runs.
    """
    local = summary[summary["dataset"] == dataset]
    symbols = _symbol_map(local["scale"].fillna("?"))
    fig = go.Figure()
    groups = local.groupby([local["source"].fillna("local"), local["sampling"].fillna(ZERO_SHOT),
                            local["scale"].fillna("?").astype(str)], sort=True)
    for (source, sampling, scale), group in groups:
        reference_runs = source == "reference"
        alpha_txt = group["alpha"].map(lambda a: "" if pd.isna(a) else f" α={a:g}")
        if "evaluation" in group:  # a quick or language-subset run says so
            alpha_txt = alpha_txt + group["evaluation"].map(lambda e: "" if e in ("full", None) or pd.isna(e)
                                                            else f" ({e})")
        fig.add_trace(go.Scatter(
            x=group[x], y=group[y], mode="markers",
            name=f"{sampling} · {scale}" + (" (reference run)" if reference_runs else ""),
            legendgroup=source, legendgrouptitle_text="reference runs" if reference_runs else "local runs",
            marker=dict(size=12, color=SAMPLING_COLORS.get(sampling, "#9467bd"),
                        symbol=symbols[scale] + ("-open" if reference_runs else ""),
                        line=dict(width=2 if reference_runs else 1,
                                  color=SAMPLING_COLORS.get(sampling, "#9467bd") if reference_runs else "white")),
            text=group["run"] + alpha_txt,
            hovertemplate="%{text}" + (" (reference run)" if reference_runs else "") + "<br>"
                          + MAP_LABELS.get(x, x) + " %{x:.3f}<br>"
                          + MAP_LABELS.get(y, y) + " %{y:.3f}<extra></extra>",
        ))
    if published is not None and not published.empty:
        ref = published[published["dataset"] == dataset]
        for (model, sampling), group in ref.groupby(["model", "sampling"], sort=True):
            fig.add_trace(go.Scatter(
                x=group[x], y=group[y], mode="markers", name=f"paper: {model} {sampling}",
                legendgroup="published", legendgrouptitle_text="published (arXiv 2408.10536)",
                marker=dict(size=15, symbol=PUBLISHED_SYMBOLS.get(model, "star"),
                            color=SAMPLING_COLORS.get(sampling, "#333"), line=dict(width=1, color="#333")),
                text=group["run"],
                hovertemplate="%{text} (published)<br>" + MAP_LABELS.get(x, x) + " %{x:.3f}<br>"
                              + MAP_LABELS.get(y, y) + " %{y:.3f}<extra></extra>",
            ))
    fig.update_layout(title=f"{MAP_LABELS.get(x, x)} vs {MAP_LABELS.get(y, y)} on {dataset}",
                      xaxis_title=MAP_LABELS.get(x, x), yaxis_title=MAP_LABELS.get(y, y),
                      legend=dict(groupclick="toggleitem"), **LAYOUT)
    return fig


def alpha_curve(summary: pd.DataFrame, dataset: str) -> go.Figure | None:
    """Mono, Cross and Multi mAP against α for each sweep; None when no sweep exists.

    Points are means over seeds; error bars (shown once any α has several seeds) are the
    sample standard deviation across seeds.
    """
    sweeps = alpha_sweeps(summary, dataset)
    if sweeps.empty:
        return None
    fig = go.Figure()
    dashes = {"mono_map": "solid", "cross_map": "dash", "multi_map": "dot"}
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    for i, (sweep, group) in enumerate(sweeps.groupby("sweep", sort=True)):  # colour = sweep, dash = setting
        by_alpha = group.groupby("alpha")
        mean, std = by_alpha[list(MAP_LABELS)].mean(), by_alpha[list(MAP_LABELS)].std()
        n_seeds = by_alpha.size()
        for col, label in MAP_LABELS.items():
            spread = std[col].fillna(0.0)
            fig.add_trace(go.Scatter(
                x=mean.index, y=mean[col], mode="lines+markers", name=f"{label} · {sweep}",
                line=dict(dash=dashes[col], color=palette[i % len(palette)]),
                customdata=np.column_stack([spread, n_seeds]),
                error_y=dict(type="data", array=spread, visible=bool((n_seeds > 1).any())),
                hovertemplate="α=%{x:g}<br>" + label + " %{y:.3f} ± %{customdata[0]:.3f} "
                              "(%{customdata[1]} seeds)<extra>" + sweep + "</extra>",
            ))
    fig.update_layout(title=f"mAP over α on {dataset} (α = share of monolingual batches; cross = 0, mono = 1)",
                      xaxis_title="α", yaxis_title="mAP", **LAYOUT)
    fig.update_xaxes(range=[-0.05, 1.05])
    return fig


def _distribution(frame: pd.DataFrame, x: str, value: str, kind: str, title: str, y_title: str,
                  log: bool) -> go.Figure:
    fig = go.Figure()
    order = language_order(frame[x].unique()) if not frame.empty else []
    for run, group in frame.groupby("run", sort=False):
        if kind == "histogram":
            fig.add_trace(go.Histogram(x=group[value], name=run, opacity=0.6, nbinsx=40,
                                       hovertemplate=y_title + " %{x}<br>%{y} items<extra>" + run + "</extra>"))
        elif kind == "violin":
            fig.add_trace(go.Violin(x=group[x], y=group[value], name=run, box_visible=True,
                                    meanline_visible=True, spanmode="hard", points=False))
        else:
            fig.add_trace(go.Box(x=group[x], y=group[value], name=run, boxmean=True, boxpoints=False))
    if kind == "histogram":
        fig.update_layout(barmode="overlay", xaxis_title=y_title, yaxis_title="count")
        if log:
            fig.update_yaxes(type="log", dtick=1)
    else:
        fig.update_layout(boxmode="group", violinmode="group", xaxis_title=x.replace("_lang", " language"),
                          yaxis_title=y_title)
        fig.update_xaxes(categoryorder="array", categoryarray=order, type="category")
        if log:
            fig.update_yaxes(type="log", dtick=1)
    fig.update_layout(title=title, **LAYOUT)
    return fig


def rank_distance_figure(distances: pd.DataFrame, kind: str = "box", log: bool = False) -> go.Figure:
    """Per-query rank distance by query language, runs side by side.

    Args:
        distances: ``bias.rank_distances`` rows with a ``run`` column added.
        kind: ``box``, ``violin`` or ``histogram`` (pooled over languages).
    """
    return _distribution(distances, "query_lang", "rank_distance", kind,
                         "Rank distance per query (max − min pooled rank of its relevant candidates)",
                         "rank distance", log)


def candidate_rank_figure(ranks: pd.DataFrame, kind: str = "box", log: bool = True) -> go.Figure:
    """Pooled rank of each relevant candidate by candidate language, runs side by side.

    Args:
        ranks: ranks-table rows (``candidate_lang``, ``rank_multi``) with a ``run`` column.
    """
    return _distribution(ranks, "candidate_lang", "rank_multi", kind,
                         "Rank of each relevant candidate in the pooled ranking, by candidate language",
                         "pooled rank (1 = top)", log)


def forest_plot(table: pd.DataFrame, dataset: str, margin: float) -> go.Figure:
    """Hybrid − mono and hybrid − cross per scale with 95% intervals, one panel per measure.

    ``table`` is ``report.verdict_table`` output. Scales run along the y axis by depth (layers);
    the non-inferiority margin is drawn on the Mono mAP panel (at −margin) and zero on every
    panel. Each point carries ``[model, against]`` as customdata, so a click can open that
    run pair.
    """
    rows = table[table["dataset"] == dataset].copy()
    measures = [m for m in MEASURE_LABELS if m in set(rows["measure"])]
    titles = MEASURE_LABELS
    fig = make_subplots(rows=1, cols=len(measures), shared_yaxes=True,
                        subplot_titles=[f"Δ {titles[m]}" for m in measures])
    order = rows.sort_values(["layers", "model"])["model"].drop_duplicates().tolist()
    labels = {m: f"{m} ({int(rows[rows.model == m]['layers'].iloc[0])}L)" for m in order}
    colours = {"mono": "#1f77b4", "cross": "#ff7f0e"}
    for col, measure in enumerate(measures, start=1):
        for against, part in rows[rows["measure"] == measure].groupby("against", sort=True):
            part = part.set_index("model").reindex([m for m in order if m in set(part["model"])])
            fig.add_trace(go.Scatter(
                x=part["diff"], y=[labels[m] for m in part.index], mode="markers",
                marker=dict(size=11, color=colours.get(against, "#2ca02c"),
                            symbol="circle" if against == "mono" else "diamond"),
                error_x=dict(type="data", symmetric=False, array=part["ci_high"] - part["diff"],
                             arrayminus=part["diff"] - part["ci_low"]),
                name=f"hybrid − {against}", legendgroup=against, showlegend=col == 1,
                customdata=[[m, against] for m in part.index],
                hovertemplate="%{y}: hybrid − " + against + " %{x:.4g}<extra>" + titles[measure] + "</extra>",
            ), row=1, col=col)
        fig.add_vline(x=0, line=dict(color="#999", width=1), row=1, col=col)
    if "mono" in measures:
        fig.add_vline(x=-margin, line=dict(color="#d62728", dash="dash"), row=1, col=measures.index("mono") + 1,
                      annotation_text=f"margin −{margin:g}", annotation_position="top left")
    fig.update_layout(title=f"Hybrid(α=0.5) against mono and cross on {dataset} (95% nested bootstrap intervals)",
                      legend=dict(orientation="h", y=-0.15), **LAYOUT)
    return fig
