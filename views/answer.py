"""The answer: does hybrid batching degrade Mono, what does it buy, and does it change with scale?

Everything on this page is read from the declared families (docs/protocol.md), computed once
by ``report`` and cached beside the runs; the page never resamples.
"""

import streamlit as st

import ui
from hybridir_core.analysis import answer_figures, families, family_text

QUESTION = ("Does hybrid batch training (α = 0.5) degrade monolingual retrieval on MLQA-R while it "
            "improves cross-lingual and multilingual retrieval and reduces language bias, and does "
            "that change with model scale?")
TONES = {"good": "background-color: #d8f0d8", "bad": "background-color: #f7d4d4", "neutral": ""}
# Session state: this session has asked for the figures (drawn with the verdict from then on), and
# the figures' timer has run once (a comment, not a string: Streamlit would print a bare string)
FIGURES_SHOWN = "answer.figures_shown"
ARMED = "answer.figures_armed"


def glance(frame) -> None:
    """The compact verdict table: rung x measure, coloured by the declared label."""
    text, tone = family_text.overview_grid(frame)
    styled = text.style.apply(lambda col: [TONES[t] for t in tone[col.name]], axis=0)
    st.table(styled)  # a static table paints at once (the data grid widget costs the first paint ~1 s)
    st.caption("hybrid(0.5) − mono, 95 % two-component t interval, and the declared label (Mono: the primary "
               "non-inferiority family P, margin 0.01; the rest: S1, Holm). Green: in hybrid's favour; red: "
               "against it. Rank distance and language preference: lower = less language bias.")


@st.fragment(run_every=0.2)
def draw_after_paint() -> None:
    """Ask for the figures once the browser has painted the verdict.

    The browser draws Plotly charts (loading plotly.js first, in a new tab) within the same
    frame as the elements sent with them, so charts sent with the verdict table held back its
    paint by seconds (``python -m bench.answer_paint``, new tab). This fragment's timer starts
    in the browser after the elements above it have arrived; its first tick marks the figures
    as wanted and reruns the page, which then draws them (and stops the timer)."""
    if st.session_state.pop(ARMED, False):
        st.session_state[FIGURES_SHOWN] = True
        st.rerun()
    st.session_state[ARMED] = True


def figures(frame, paper) -> None:
    """Everything below the verdict: forest plot, scale trend, languages, the other families."""
    ui.chart(answer_figures.forest(frame, families.MARGIN), key="forest")
    st.subheader("Does it change with scale?")
    ui.chart(answer_figures.scale_trend(frame), key="scale")
    st.markdown(family_text.family_table(frame, "S4"))
    st.subheader("Per query language")
    ui.chart(answer_figures.language_heatmap(frame), key="languages")
    st.subheader("Retained share, α sweep and the confirmatory test")
    for family in ("S3", "S5", "C1"):
        with st.expander(f"{family}: {families.FAMILIES[family]}", expanded=family == "C1"):
            st.markdown(family_text.family_table(frame, family))
    st.subheader("The paper vs here (S7)")
    st.markdown(family_text.paper_summary(paper))
    with st.expander("Every published difference beside ours"):
        st.markdown(family_text.paper_markdown(paper))
    st.caption("Families, estimands and the interval method: docs/protocol.md. Run pairs and cell tests: the "
               "Language matrices page.")


def main() -> None:
    st.title("The answer")
    st.markdown(f"**Question.** {QUESTION}")
    found = ui.require_runs()
    if found is None:
        return
    frame, paper = ui.declared_families()
    if frame.empty:
        st.info("No model has hybrid(α = 0.5), mono and cross runs on MLQA-R yet: train them on the Train page.")
        return
    glance(frame)
    for sentence in family_text.lead(frame):
        st.markdown(f"- {sentence}")
    if st.session_state.get(FIGURES_SHOWN):
        figures(frame, paper)
    else:
        st.caption("Drawing the figures…")
        draw_after_paint()

main()
ui.sidebar_footer()
