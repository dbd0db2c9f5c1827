"""The architecture document names only symbols that exist, and the layers hold."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"
ROW = re.compile(r"^\| `(\w+)` \| [^|]+ \| [^|]+ \| (.+) \|$")


def documented_api() -> list[tuple[str, str]]:
    pairs = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            module, api = match.groups()
            pairs += [(module, name) for name in re.findall(r"`(\w+)`", api)]
    return pairs


def test_the_module_map_lists_every_module():
    listed = {module for module, _ in documented_api()}
    present = {p.stem for p in (REPO / "hybridir_core").glob("*.py") if not p.stem.startswith("_")}
    present |= {p.name for p in (REPO / "hybridir_core").iterdir() if (p / "__init__.py").is_file()}
    assert present == listed


@pytest.mark.parametrize("module,name", documented_api())
def test_documented_symbol_exists(module, name):
    assert hasattr(importlib.import_module(f"hybridir_core.{module}"), name), f"{module}.{name}"


def test_reading_runs_imports_no_torch():
    code = ("import sys; from hybridir_core import figures, report, export, stats, vocabulary, jobs, published; "
            "from hybridir_core.cli import options; "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (make lint installs it)")
def test_import_contracts_hold():
    out = subprocess.run([str(LINT_IMPORTS)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
