"""The architecture document names only symbols that exist, and the layers hold."""

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"
ROW = re.compile(r"^\| `([\w.]+)` \| [^|]+ \| [^|]+ \| (.+) \|$")
PACKAGE = REPO / "hybridir_core"
DASHBOARD = [REPO / "app.py", REPO / "serve.py", REPO / "ui.py", *sorted((REPO / "views").glob("*.py"))]
HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "onnxruntime")


def documented_api() -> list[tuple[str, str]]:
    pairs = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            module, api = match.groups()
            pairs += [(module, name) for name in re.findall(r"`(\w+)`", api)]
    return pairs


def test_the_module_map_lists_every_module():
    """One row per module of every role package (``cli`` is one row: its parts are private)."""
    listed = {module for module, _ in documented_api()}
    present = set()
    for path in PACKAGE.rglob("*.py"):
        dotted = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        if not path.stem.startswith("_"):
            present.add("cli" if dotted.startswith("cli.") else dotted)
    assert present == listed


def test_ls_shows_the_role_packages():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == {"analysis", "cli", "data", "evaluation", "jobs", "models", "runs", "training"}
    assert {p.stem for p in PACKAGE.glob("*.py")} == {"__init__", "__main__", "config", "devices", "paths"}


@pytest.mark.parametrize("module,name", documented_api())
def test_documented_symbol_exists(module, name):
    assert hasattr(importlib.import_module(f"hybridir_core.{module}"), name), f"{module}.{name}"


def _is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def dashboard_imports() -> set[str]:
    """Every ``hybridir_core`` module that app.py, ui.py and views/ import (at the top or inside a function)."""
    found = set()
    for path in DASHBOARD:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hybridir_core"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if _is_module(sub) else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("hybridir_core")}
    return found | {"hybridir_core"}  # the package itself runs first


def no_torch_contract() -> dict:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == "What the dashboard imports reaches no torch")


def test_the_no_torch_contract_covers_exactly_what_the_dashboard_imports():
    contract = no_torch_contract()
    assert set(contract["source_modules"]) == dashboard_imports()
    assert set(HEAVY) <= set(contract["forbidden_modules"])


def test_the_dashboard_imports_no_torch_in_a_fresh_interpreter():
    modules = sorted(dashboard_imports())
    code = (f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"the dashboard's modules import {out.stdout.strip()}"


def test_the_server_preloads_what_the_views_import_and_no_torch():
    """``serve.py`` imports the views' modules before the first visit (read from their import
    lines, so a new import is preloaded too), and that reaches no heavy library either."""
    code = ("import sys, serve; serve.preload(); "
            "print(sorted(set(serve.page_imports()) - set(sys.modules)), "
            f"sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []", out.stdout
    from serve import page_imports

    assert {"ui", "hybridir_core.analysis", "streamlit"} <= set(page_imports())
    assert "No runtime found" not in out.stderr  # the cache decorators' start-up warning is kept quiet


def test_the_public_api_loads_without_torch():
    code = ("import sys, hybridir_core as h; missing = [n for n in h.__all__ if n not in dir(h) "
            "and n not in h._ON_FIRST_USE]; print(missing, [m for m in ('torch',) if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"


LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (make lint installs it)")
def test_import_contracts_hold():
    out = subprocess.run([str(LINT_IMPORTS)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
