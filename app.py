"""hybridir dashboard: ``streamlit run app.py``.

One file per page in ``pages/``; every page reads runs through ``ui`` (cached calls into
``hybridir_core``) and computes no metric itself.
"""

import streamlit as st

st.set_page_config(page_title="hybridir", page_icon=":material/travel_explore:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/answer.py", title="The answer", icon=":material/fact_check:"),
    st.Page("pages/train.py", title="Train & evaluate", icon=":material/rocket_launch:"),
    st.Page("pages/matrices.py", title="Language matrices", icon=":material/grid_on:"),
    st.Page("pages/tradeoffs.py", title="Trade-offs", icon=":material/scatter_plot:"),
    st.Page("pages/bias.py", title="Language bias", icon=":material/balance:"),
    st.Page("pages/compare.py", title="Compare & export", icon=":material/table_chart:"),
]

st.navigation(PAGES).run()
