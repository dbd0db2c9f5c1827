"""Home: what the tool answers, the runs found, what is running, how to start."""

import streamlit as st

import ui
from hybridir_core.jobs import queue as jobs
from hybridir_core.runs import protocol


@st.fragment(run_every=3)
def in_progress(runs_root) -> None:
    """Jobs of the dashboard's queue, and runs started from the command line, refreshed every 3 s."""
    active = [j for j in jobs.list_jobs(runs_root) if j.active]
    outside = [p for p in ui.listing().in_progress if p.name not in {j.run_id for j in active}]
    st.subheader("In progress")
    for job in active:
        ui.job_card(job, runs_root)
    for path in outside:
        st.caption(f"`{path.name}`: started outside the dashboard (see its status.json)")
    if not active and not outside:
        st.caption("Nothing is running now; reload to see the new runs.")


def main() -> None:
    st.title("hybridir: hybrid batches for multilingual retrieval")
    st.markdown(
        "Does training with **hybrid batches** (each batch monolingual with probability α, "
        "cross-lingual otherwise; arXiv 2408.10536) keep **monolingual** retrieval while improving "
        "**cross-lingual** and **multilingual** retrieval? Every run below is scored on XQuAD-R / MLQA-R "
        "(LAReQA protocol): Mono, Cross and Multi mAP, and the rank distance that measures language bias."
    )
    found = ui.listing()
    runs_root, _ = ui.roots()
    active = [j for j in jobs.list_jobs(runs_root) if j.active]
    queued_elsewhere = [p for p in found.in_progress if p.name not in {j.run_id for j in active}]
    local = [r for r in found.runs if not r.reference]
    left, mid, right = st.columns(3)
    left.metric("Finished runs", len(local))
    mid.metric("Reference runs", len(found.runs) - len(local))
    right.metric("Queued or running", len(active) + len(queued_elsewhere))

    if found.runs:
        st.subheader("Runs")
        ui.table(protocol.runs_table(found.runs))
        st.caption("mAP is macro-averaged over language cells (Mono: diagonal, Cross: off-diagonal, "
                   "Multi: the pooled ranking). Rank dist.: mean over queries of max − min pooled rank of "
                   "the parallel answers (lower = less language bias). Source *reference* = shipped reference runs. "
                   "Evaluation: *full* = every question of every language; *quick* = the first N questions per "
                   "language; a language count = a subset. Such runs are not comparable with full ones.")
    else:
        ui.empty_state()

    if active or queued_elsewhere:
        in_progress(runs_root)
    ui.show_unreadable(found)

    st.subheader("How to start")
    st.markdown(
        "1. **The answer**: the study's verdict per rung, with intervals, from the shipped runs.\n"
        "2. **Train & evaluate**: pick a model scale and a sampling mix (or a quick first run), see how long it "
        "will take, launch; the job runs in the background (one at a time) and survives a reload.\n"
        "3. **Language matrices**: per-language mAP heatmaps and the difference between two runs.\n"
        "4. **Trade-offs** and **Language bias**: Mono vs Cross/Multi across runs, α curves, rank distances.\n"
        "5. **Compare & export**: paired significance tests and the comparison CSV."
    )
    st.code(ui.FIRST_RUN, language="bash", wrap_lines=True)


st.sidebar.caption("Runs are read from disk and refreshed automatically when their files change.")
ui.sidebar_footer()
main()
