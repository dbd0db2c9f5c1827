"""hybridir dashboard: ``make dashboard`` (``python serve.py``), or ``streamlit run app.py``.

One file per page in ``views/``; every page reads runs through ``ui`` (cached calls into
``hybridir_core``) and computes no metric itself. The folder is not called ``pages/``: Streamlit
serves a folder of that name with file-name navigation (and without this file's page config) to
the first visitor of a fresh server who opens a page's address directly.
"""

import streamlit as st

st.set_page_config(page_title="hybridir", page_icon=":material/travel_explore:", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/answer.py", title="The answer", icon=":material/fact_check:"),
    st.Page("views/train.py", title="Train & evaluate", icon=":material/rocket_launch:"),
    st.Page("views/matrices.py", title="Language matrices", icon=":material/grid_on:"),
    st.Page("views/tradeoffs.py", title="Trade-offs", icon=":material/scatter_plot:"),
    st.Page("views/bias.py", title="Language bias", icon=":material/balance:"),
    st.Page("views/compare.py", title="Compare & export", icon=":material/table_chart:"),
]

st.navigation(PAGES).run()
