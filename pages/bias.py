"""Language bias: rank distance per query, and where each candidate language lands in the pool."""

import pandas as pd
import streamlit as st

import ui
from hybridir_core.analysis import figures, published


def main() -> None:
    st.title("Language bias")
    found = ui.require_runs()
    if found is None:
        return
    chosen = ui.pick_runs("Runs (side by side)", found, key="bias_runs", default=2)
    if not chosen:
        st.info("Pick at least one run in the sidebar.")
        return
    dataset = st.sidebar.selectbox("Dataset", ui.datasets_of(chosen), key="bias_dataset")
    kind = st.sidebar.radio("Plot", ["box", "violin", "histogram"], horizontal=True, key="bias_kind")
    log = st.sidebar.checkbox("Log scale", value=True, key="bias_log")
    chosen = [r for r in chosen if dataset in r.metrics]

    distances = pd.concat([ui.rank_distances(r).assign(run=ui.label(r)) for r in chosen], ignore_index=True)
    distances = distances[distances.dataset == dataset]
    st.plotly_chart(figures.rank_distance_figure(distances, kind, log), key="rank_distance")
    st.caption("Rank distance of a query: its relevant candidates' highest minus lowest rank in the pooled "
               "(all-language) ranking. R − 1 at best (all R translations adjacent); large when some "
               "languages are pushed down.")

    ranks = pd.concat([ui.ranks(r).assign(run=ui.label(r)) for r in chosen], ignore_index=True)
    ranks = ranks[ranks.dataset == dataset]
    st.plotly_chart(figures.candidate_rank_figure(ranks, kind, log), key="candidate_rank")
    by_lang = pd.concat([ui.by_candidate_language(r).assign(run=ui.label(r)) for r in chosen], ignore_index=True)
    by_lang = by_lang[by_lang.dataset == dataset]
    st.caption("Mean pooled rank of the relevant candidates, by candidate language (rows) and query language "
               "(columns): a language with high numbers is pushed down.")
    st.dataframe(by_lang.pivot_table(index=["run", "candidate_lang"], columns="query_lang",
                                     values="mean_rank").round(1))

    pub = ui.published()
    if pub.available:
        st.subheader(f"Published mean rank distance ({pub.short}, Table 2)")
        ref = published.summary_frame(pub)
        st.dataframe(ref[["run", "dataset", "mean_rank_distance"]].pivot(index="run", columns="dataset"),
                     height=260)
    else:
        ui.published_notice(pub)


main()
ui.sidebar_footer()
