"""Trade-offs: Mono vs Cross (or Multi) mAP across runs, the α curve, and the paper's numbers."""

import streamlit as st

import ui
from hybridir_core.analysis import figures, published, report
from hybridir_core.runs import measures, protocol

AXES = {label: key for key, label in measures.MAP_LABELS.items()}


def main() -> None:
    st.title("Trade-offs")
    found = ui.require_runs()
    if found is None:
        return
    summary = protocol.summary_frame(found)
    dataset = st.sidebar.selectbox("Dataset", ui.datasets_of(found), key="trade_dataset")
    x = AXES[st.sidebar.selectbox("x axis", list(AXES), index=0, key="trade_x")]
    y = AXES[st.sidebar.selectbox("y axis", list(AXES), index=1, key="trade_y")]
    pub = ui.published()
    show_pub = st.sidebar.checkbox("Show the paper's published numbers", value=pub.available,
                                   disabled=not pub.available, key="trade_published")
    paper = published.summary_frame(pub) if show_pub else None
    st.plotly_chart(figures.tradeoff_scatter(summary, dataset, x, y, paper), key="tradeoff")
    st.caption("Colour: sampling; marker: model scale. Stars are the paper's published numbers (XLM-R/LaBSE "
               "trained on far more data), shown for orientation only and kept out of every local table.")

    curve = figures.alpha_curve(summary, dataset)
    if curve is not None:
        st.plotly_chart(curve, key="alpha_curve")
    else:
        st.info("No α sweep yet: train hybrid runs at two or more α values (mono counts as α = 1, "
                "cross as α = 0) with the same model and steps to draw mAP over α.")

    seeds = report.seed_table(summary[summary.dataset == dataset])
    if (seeds["n_seeds"] > 1).any():  # some recipe was trained with several seeds
        st.subheader("Across seeds")
        st.caption("One row per recipe (model, sampling, α, steps) and protocol: mean and sample standard "
                   "deviation over its seeds. Local and reference runs are pooled only when their protocol "
                   "(evaluation languages and limit, training corpus, steps, batch size, learning rate, ...) "
                   "is the same; *evaluation* names a quick or language-subset protocol.")
        shown = ["model", "training", "evaluation", "steps", "n_seeds", "seeds"] + [
            f"{v}_{s}" for v in measures.MEASURES for s in ("mean", "std")]
        st.dataframe(seeds[shown], hide_index=True)

    st.subheader("Local runs")
    cols = ["run", "source", "model", "scale", "sampling", "alpha", "mix", "seed", "steps", "evaluation",
            "languages", "mono_map", "cross_map", "multi_map", "mean_rank_distance"]
    st.dataframe(summary[summary.dataset == dataset][cols], hide_index=True)
    st.subheader(f"Published: {pub.short}")
    ui.published_notice(pub)
    if pub.available:
        ref = published.summary_frame(pub)
        st.dataframe(ref[ref.dataset == dataset], hide_index=True)


main()
ui.sidebar_footer()
