"""Compare & export: the comparison table, paired significance between two runs, the CSV."""

import streamlit as st

import ui
from hybridir_core.analysis import export


def main() -> None:
    st.title("Compare & export")
    found = ui.require_runs()
    if found is None:
        return
    dataset = ui.STUDY_DATASET if ui.STUDY_DATASET in ui.datasets_of(found) else ui.datasets_of(found)[0]
    study = [ui.label(r) for r in ui.study_runs(found, dataset, key="compare")]
    labels = [ui.label(r) for r in found]
    ui.follow("compare_runs", tuple(study), study or labels, labels)
    chosen = ui.pick_runs("Runs to compare", found, key="compare_runs")
    resamples = st.sidebar.select_slider("Resamples per test", [1_000, 2_000, 5_000, 10_000], value=2_000,
                                         key="compare_resamples")
    if not chosen:
        st.info("Pick at least one run in the sidebar.")
        return
    frame = export.comparison_frame(chosen)
    ui.table(frame)
    st.download_button("Download comparison CSV", export.to_csv_bytes(frame), file_name="comparison.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:", key="download_csv")
    st.caption("The same file as `python -m hybridir_core export " +
               " ".join(str(ui.shown_path(r.path)) for r in chosen[:3]) + (" …" if len(chosen) > 3 else "") + "`.")

    st.subheader("Run A − run B on their common ground")
    if len(chosen) < 2:
        st.info("Pick two or more runs to test their difference.")
        return
    left, right = st.columns(2)
    names = [ui.label(r) for r in chosen]
    pair = (names[1], names[0]) if len(study) == 3 and names[:3] == study else (names[0], names[1])
    ui.follow("compare_a", (*names, "a"), pair[0], names)  # the study's pair: hybrid (A) against mono (B)
    ui.follow("compare_b", (*names, "b"), pair[1], names)
    run_a = ui.pick_run("Run A", chosen, key="compare_a", container=left)
    run_b = ui.pick_run("Run B", chosen, key="compare_b", container=right)
    if run_a.path == run_b.path:
        st.info("Pick two different runs.")
        return
    try:
        ground, table = ui.compare(run_a, run_b, resamples)
    except ValueError as exc:
        st.error(f"These runs cannot be compared: {exc}")
        return
    st.markdown(f"**A** = {ui.long_label(run_a)} · **B** = {ui.long_label(run_b)}")
    if ground.differing:
        st.warning("Different protocols: " + ", ".join(f"`{f}`" for f in ground.differing) + ". "
                   + " ".join(ground.notes)
                   + (" This compares protocols, not recipes under one protocol." if ground.other_protocol else ""))
    st.dataframe(table[["dataset", "measure", "n_queries", "n_clusters", "diff", "ci_low", "ci_high", "p_value",
                        "p_holm"]], hide_index=True,
                 column_config={c: st.column_config.NumberColumn(c, format="%.4f")
                                for c in ("diff", "ci_low", "ci_high", "p_value", "p_holm")})
    st.caption("diff = A − B (positive: A is better; rank distance: lower is better), on the questions and "
               "languages both runs scored, macro-averaged over query languages as in the findings. Interval "
               "and p: the report's engine (`intervals.recipe_difference`: a t interval over question clusters, "
               "all translations of a question together; docs/protocol.md), Holm-adjusted over the rows. "
               "Same as `python -m hybridir_core compare A B`.")


main()
ui.sidebar_footer()
