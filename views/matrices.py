"""Language matrices: query language x candidate language heatmaps, and the difference of two runs."""

import streamlit as st

import ui
from hybridir_core.analysis import figures
from hybridir_core.runs import measures

METRICS = {"mAP": "map", "Recall@1": "recall_at_1", "Recall@10": "recall_at_10"}
PER_QUERY = {"map": "ap", "recall_at_1": "recall_at_1", "recall_at_10": "recall_at_10"}
NONE = "— none —"


def main() -> None:
    st.title("Language matrices")
    found = ui.require_runs()
    if found is None:
        return
    dataset = ui.dataset_choice(ui.datasets_of(found), key="matrix_dataset")
    on_dataset = [r for r in found if dataset in r.metrics]
    study = ui.study_runs(found, dataset, key="matrix")
    labels = [ui.label(r) for r in on_dataset]
    hybrid, mono = (ui.label(study[1]), ui.label(study[0])) if len(study) == 3 else (labels[0], NONE)
    ui.follow("matrix_run", (dataset, hybrid), hybrid, labels)
    run = on_dataset[labels.index(st.sidebar.selectbox("Run", labels, key="matrix_run"))]
    metric = METRICS[st.sidebar.radio("Metric", list(METRICS), key="matrix_metric")]
    others = [r for r in on_dataset if r.path != run.path]
    choices = [NONE] + [ui.label(r) for r in others]
    ui.follow("matrix_other", (dataset, hybrid, mono), mono, choices)
    other_label = st.sidebar.selectbox("Difference with (run A − run B)", choices, key="matrix_other")
    other = next((r for r in others if ui.label(r) == other_label), None)
    test_cells = other is not None and st.sidebar.checkbox(
        "Test each cell (paired randomization over queries, Holm-corrected)", key="matrix_tests")

    ui.chart(figures.matrix_heatmap(run.matrix, dataset, metric,
                                           title=f"{ui.label(run)}: {measures.METRIC_LABELS[metric]} on {dataset}"),
                    key="heatmap")
    if other is not None:
        tests = ui.cell_tests(run, other, dataset, PER_QUERY[metric]) if test_cells else None
        matrix_a, matrix_b, ground = ui.restricted_matrices(run, other)  # the same questions in both
        if ground.differing:
            st.warning("Different protocols (" + ", ".join(f"`{f}`" for f in ground.differing) + "): the "
                       "difference is over the shared questions and languages only. " + " ".join(ground.notes))
        ui.chart(figures.difference_heatmap(matrix_a, matrix_b, dataset, metric, ui.long_label(run),
                          ui.long_label(other), tests), key="difference")

    st.subheader("Drill down into one cell")
    grid = figures.matrix_grid(run.matrix, dataset, metric)
    left, right = st.columns(2)
    q_lang = left.selectbox("Query language", list(grid.index), key="drill_query")
    c_lang = right.selectbox("Candidate language", list(grid.columns), key="drill_candidate")
    value = grid.loc[q_lang, c_lang]
    cols = st.columns(2)
    cols[0].metric(f"{ui.label(run)}", f"{value:.3f}")
    pq = ui.per_query(run)
    cell = pq[(pq.dataset == dataset) & (pq.query_lang == q_lang) & (pq.candidate_lang == c_lang)]
    cell = cell[["question_id", "ap", "recall_at_1", "recall_at_10"]].set_index("question_id")
    if other is not None:
        other_grid = figures.matrix_grid(other.matrix, dataset, metric)
        if q_lang in other_grid.index and c_lang in other_grid.columns:
            other_value = other_grid.loc[q_lang, c_lang]
            cols[1].metric(ui.label(other), f"{other_value:.3f}", delta=f"{other_value - value:+.3f} vs A")
        opq = ui.per_query(other)
        ocell = opq[(opq.dataset == dataset) & (opq.query_lang == q_lang) & (opq.candidate_lang == c_lang)]
        cell = cell.join(ocell.set_index("question_id")[["ap"]].rename(columns={"ap": "ap_b"}), how="left")
    st.caption(f"{len(cell)} queries in {q_lang} against {c_lang} candidates: per-query AP and recall.")
    ui.table(cell.reset_index(), height=260)


st.sidebar.caption("Cells: query language (rows) × candidate language (columns); *multi* ranks all "
                   "languages' candidates together. Values are in the cells and on hover.")
main()
ui.sidebar_footer()
