"""Language bias: rank distance per query, and where each candidate language lands in the pool."""

import pandas as pd
import streamlit as st

import ui
from hybridir_core.analysis import figures, published


def pick(found) -> tuple[list, str | None]:
    """The runs shown side by side and the dataset: by default mono, hybrid and cross at one rung."""
    dataset = ui.dataset_choice(ui.datasets_of(found), key="bias_dataset")
    study = ui.study_runs(found, dataset, key="bias")
    labels = [ui.label(r) for r in found if dataset in r.metrics]
    default = [ui.label(r) for r in study] or labels[:2]
    ui.follow("bias_runs", (dataset, *default), default, labels)
    chosen = st.sidebar.multiselect("Runs (side by side)", labels, key="bias_runs",
                                    help="Opens on the study's three recipes at the rung and seed above")
    by_label = {ui.label(r): r for r in found}
    return [by_label[c] for c in chosen], dataset


def main() -> None:
    st.title("Language bias")
    found = ui.require_runs()
    if found is None:
        return
    chosen, dataset = pick(found)
    kind = st.sidebar.radio("Plot", ["box", "violin", "histogram"], horizontal=True, key="bias_kind")
    log = st.sidebar.checkbox("Log scale", value=True, key="bias_log")
    if not chosen:
        st.info("Pick at least one run in the sidebar.")
        return

    distances = pd.concat([ui.rank_distances(r).assign(run=ui.label(r)) for r in chosen], ignore_index=True)
    distances = distances[distances.dataset == dataset]
    ui.chart(figures.rank_distance_figure(distances, kind, log), key="rank_distance")
    st.caption("Rank distance of a query: its relevant candidates' highest minus lowest rank in the pooled "
               "(all-language) ranking. R − 1 at best (all R translations adjacent); large when some "
               "languages are pushed down.")

    ranks = pd.concat([ui.ranks(r).assign(run=ui.label(r)) for r in chosen], ignore_index=True)
    ranks = ranks[ranks.dataset == dataset]
    ui.chart(figures.candidate_rank_figure(ranks, kind, log), key="candidate_rank")
    by_lang = pd.concat([ui.by_candidate_language(r).assign(run=ui.label(r)) for r in chosen], ignore_index=True)
    by_lang = by_lang[by_lang.dataset == dataset]
    st.caption("Mean pooled rank of the relevant candidates, by candidate language (rows) and query language "
               "(columns): a language with high numbers is pushed down.")
    pivot = by_lang.pivot_table(index=["run", "candidate_lang"], columns="query_lang", values="mean_rank")
    ui.table(pivot.rename_axis(columns=None).reset_index().rename(
        columns=lambda c: f"query {c}" if c not in ("run", "candidate_lang") else c), other="{:,.0f}")

    pub = ui.published()
    if pub.available:
        st.subheader(f"Published mean rank distance ({pub.short}, Table 2)")
        ref = published.summary_frame(pub)
        ui.table(ref.pivot(index="run", columns="dataset", values="mean_rank_distance").rename(
            columns=lambda d: f"{d} rank distance").reset_index(), height=260)
    else:
        ui.published_notice(pub)


main()
ui.sidebar_footer()
