"""The answer: does hybrid batching degrade Mono, what does it buy, and does it change with scale?"""

import streamlit as st

import ui
from hybridir_core.analysis import figures, intervals, report

QUESTION = ("Does hybrid batch training (α = 0.5) degrade monolingual retrieval on MLQA-R while it "
            "improves cross-lingual and multilingual retrieval and reduces language bias, and does "
            "that change with model scale?")


def drill_down(found, table, dataset: str, model: str, against: str) -> None:
    """The difference heatmap of the run pair behind one verdict row (its lowest seeds)."""
    rows = table[(table["dataset"] == dataset) & (table["model"] == model) & (table["against"] == against)]
    by_id = {r.run_id: r for r in found}
    pair = [] if rows.empty else [by_id.get(rows.iloc[0][k]) for k in ("run_a", "run_b")]
    if not pair or None in pair:
        st.info(f"No run pair for {model} (hybrid vs {against}) on this machine.")
        return
    a, b = pair
    st.plotly_chart(figures.difference_heatmap(a.matrix, b.matrix, dataset, "map", ui.label(a), ui.label(b)),
                    key="answer_pair")
    st.caption(f"Seed {(a.config.get('train') or {}).get('seed')} of each recipe; the Language matrices "
               "page shows every run and cell test.")


def main() -> None:
    st.title("The answer")
    st.markdown(f"**Question.** {QUESTION}")
    found = ui.require_runs()
    if found is None:
        return
    margin = st.sidebar.number_input("Non-inferiority margin (Mono mAP)", 0.001, 0.1,
                                     intervals.DEFAULT_MARGIN, 0.001, format="%.3f", key="answer_margin")
    datasets = tuple(d for d in ("mlqa-r", "xquad-r") if d in ui.datasets_of(found))
    table = ui.verdict(datasets, float(margin))
    repeats = report.one_run_per_seed(found)[1]
    if repeats:
        st.caption(report.SET_ASIDE + "; ".join(f"`{a.run_id}` (repeats {ui.label(b)})" for a, b in repeats))
    if table.empty:
        st.info("No model has both hybrid(α = 0.5) and mono runs yet: train them on the Train page.")
        return
    compared = [d for d in datasets if d in set(table["dataset"])]  # QA-protocol runs: MLQA-R only
    dataset = st.sidebar.selectbox("Dataset", compared, key="answer_dataset")
    st.subheader("Verdict per scale (generated from the intervals)")
    for sentence in report.verdict_sentences(table[table["dataset"] == dataset], float(margin)):
        st.markdown(f"- {sentence}")
    event = st.plotly_chart(figures.forest_plot(table, dataset, float(margin)), key="forest",
                            on_select="rerun", selection_mode="points")
    st.caption(report.VERDICT_HEADER.format(n=intervals.DEFAULT_RESAMPLES, margin=float(margin)).split("\n\n", 1)[1])
    st.subheader("Does it change with scale?")
    for line in report.scale_markdown(ui.scale_change((dataset,))).splitlines():
        st.markdown(line)
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", [])
    models = table.sort_values("layers")["model"].drop_duplicates().tolist()
    picked = points[0].get("customdata") if points else None
    st.subheader("A run pair's language matrices")
    left, right = st.columns(2)
    model = left.selectbox("Scale", models, index=models.index(picked[0]) if picked else 0, key="answer_model")
    against = right.radio("Hybrid against", ["mono", "cross"], horizontal=True,
                          index=1 if picked and picked[1] == "cross" else 0, key="answer_against")
    drill_down(found, table, dataset, model, against)


main()
ui.sidebar_footer()
