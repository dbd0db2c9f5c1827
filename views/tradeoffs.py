"""Trade-offs: Mono vs Cross (or Multi) mAP across runs, the α curves, and the paper's numbers."""

import streamlit as st

import ui
from hybridir_core.analysis import figures, published, report
from hybridir_core.runs import measures, protocol

AXES = {label: key for key, label in measures.MAP_LABELS.items()}
RUN_COLUMNS = ["run", "source", "model", "scale", "sampling", "alpha", "mix", "seed", "steps", "evaluation",
               "languages", "mono_map", "cross_map", "multi_map", "mean_rank_distance"]


def alpha_section(summary, dataset: str) -> None:
    """mAP over α for the sweeps picked in the sidebar; by default the fullest ones (most α values)."""
    sweeps = report.alpha_sweeps(summary, dataset)
    if sweeps.empty:
        st.info("No α sweep on this dataset yet: train hybrid runs at two or more α values (mono counts as "
                "α = 1, cross as α = 0) with the same model and steps to draw mAP over α.")
        return
    points = sweeps.groupby("sweep")["alpha"].nunique()
    fullest = sorted(points[points == points.max()].index)
    names = sorted(points.index)
    ui.follow("trade_sweeps", (dataset, *names), fullest, names)
    chosen = st.sidebar.multiselect("α sweeps", names, key="trade_sweeps",
                                    help="Opens on the sweeps with the most α values")
    curve = figures.alpha_curve(summary[summary["run"].isin(sweeps[sweeps["sweep"].isin(chosen)]["run"])],
                                dataset)
    if curve is None:
        st.info("Pick an α sweep in the sidebar.")
        return
    ui.chart(curve, key="alpha_curve")


def seeds_section(summary, dataset: str) -> None:
    seeds = report.seed_table(summary[summary.dataset == dataset])
    if not (seeds["n_seeds"] > 1).any():  # no recipe trained with several seeds yet
        return
    st.subheader("Across seeds")
    st.caption("One row per recipe (model, sampling, α, steps) and protocol: mean and sample standard "
               "deviation (sd) over its seeds. Local and reference runs are pooled only when their protocol "
               "(evaluation languages and limit, training corpus, steps, batch size, learning rate, ...) "
               "is the same; *evaluation* names a quick or language-subset protocol.")
    shown = ["model", "training", "evaluation", "steps", "n_seeds", "seeds"] + [
        f"{v}_{s}" for v in measures.MEASURES for s in ("mean", "std")]
    ui.table(seeds[shown])


def main() -> None:
    st.title("Trade-offs")
    found = ui.require_runs()
    if found is None:
        return
    summary = protocol.summary_frame(found)
    dataset = ui.dataset_choice(ui.datasets_of(found), key="trade_dataset")
    x = AXES[st.sidebar.selectbox("x axis", list(AXES), index=0, key="trade_x")]
    y = AXES[st.sidebar.selectbox("y axis", list(AXES), index=1, key="trade_y")]
    pub = ui.published()
    show_pub = st.sidebar.checkbox("Show the paper's published numbers", value=pub.available,
                                   disabled=not pub.available, key="trade_published")
    alpha_section(summary, dataset)
    paper = published.summary_frame(pub) if show_pub else None
    ui.chart(figures.tradeoff_scatter(summary, dataset, x, y, paper), key="tradeoff")
    st.caption("Colour: sampling; marker: model scale. Stars are the paper's published numbers (XLM-R/LaBSE "
               "trained on far more data), shown for orientation only and kept out of every local table.")
    seeds_section(summary, dataset)
    st.subheader("Runs on this dataset")
    ui.table(summary[summary.dataset == dataset][RUN_COLUMNS])
    st.subheader(f"Published: {pub.short}")
    ui.published_notice(pub)
    if pub.available:
        ref = published.summary_frame(pub)
        ui.table(ref[ref.dataset == dataset])


main()
ui.sidebar_footer()
