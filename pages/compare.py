"""Compare & export: the comparison table, paired significance between two runs, the CSV."""

import streamlit as st

import ui
from hybridir_core.analysis import export


def main() -> None:
    st.title("Compare & export")
    found = ui.require_runs()
    if found is None:
        return
    chosen = ui.pick_runs("Runs to compare", found, key="compare_runs")
    resamples = st.sidebar.select_slider("Resamples per test", [1_000, 2_000, 5_000, 10_000], value=2_000,
                                         key="compare_resamples")
    if not chosen:
        st.info("Pick at least one run in the sidebar.")
        return
    frame = export.comparison_frame(chosen)
    st.dataframe(frame, hide_index=True)
    st.download_button("Download comparison CSV", export.to_csv_bytes(frame), file_name="comparison.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:", key="download_csv")
    st.caption("The same file as `python -m hybridir_core export " +
               " ".join(str(r.path) for r in chosen[:3]) + (" …" if len(chosen) > 3 else "") + "`.")

    st.subheader("Paired significance (over queries)")
    if len(chosen) < 2:
        st.info("Pick two or more runs to test their difference.")
        return
    left, right = st.columns(2)
    run_a = ui.pick_run("Run A", chosen, key="compare_a", index=0, container=left)
    run_b = ui.pick_run("Run B", chosen, key="compare_b", index=1, container=right)
    if run_a.path == run_b.path:
        st.info("Pick two different runs.")
        return
    table = ui.compare(run_a, run_b, resamples)
    st.dataframe(table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.4f") for c in ("map_a", "map_b", "diff", "ci_low", "ci_high")})
    st.caption("diff = A − B (positive: A is better). Per query: Mono = AP against its own language, "
               "Cross = mean AP against the other languages, Multi = AP in the pooled ranking; queries "
               "paired by id and language. p_randomization: "
               "two-sided sign-flip test; p_bootstrap and the 95% interval: paired bootstrap; p_holm: "
               "Holm-adjusted over the rows. Seeded, so the numbers are stable.")


main()
ui.sidebar_footer()
