"""The dashboard renders no user-controlled string as HTML and refuses foreign Host headers."""

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = [REPO / "app.py", REPO / "ui.py", *sorted((REPO / "views").glob("*.py"))]
HTML_CALLS = {"html"}  # st.html, components.html: raw HTML whatever the argument


def html_sinks(source: str) -> list[int]:
    """Lines of calls that render a non-literal string as HTML."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        unsafe = any(k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                     for k in node.keywords)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        literal = all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        if (unsafe or name in HTML_CALLS) and not literal:
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", DASHBOARD, ids=lambda p: p.name)
def test_no_user_string_reaches_html(path):
    assert html_sinks(path.read_text(encoding="utf-8")) == [], f"{path.name}: HTML from a non-literal string"


def test_the_check_catches_an_f_string():
    bad = 'import streamlit as st\nrun_id = "x"\nst.markdown(f"**{run_id}**", unsafe_allow_html=True)\n'
    assert html_sinks(bad) == [3]
    assert html_sinks('st.markdown("<br>", unsafe_allow_html=True)\nst.markdown(f"{x}")\n') == []
    assert html_sinks("st.html(page)\nst.markdown(text, unsafe_allow_html=flag)\n") == [1, 2]


def test_foreign_host_headers_are_refused():
    """DNS rebinding: the WebSocket of a page served under another name is refused."""
    from streamlit import config
    from streamlit.web.server.starlette.starlette_websocket import _is_origin_allowed

    server = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))["server"]
    assert server["address"] == "localhost"
    config.set_option("server.allowedHosts", server["allowedHosts"])
    try:
        assert _is_origin_allowed("http://localhost:8501", "localhost:8501")
        assert _is_origin_allowed("http://127.0.0.1:8501", "127.0.0.1:8501")
        assert not _is_origin_allowed("http://rebind.example:8501", "rebind.example:8501")
        assert not _is_origin_allowed(None, "rebind.example")
    finally:
        config.set_option("server.allowedHosts", [])
