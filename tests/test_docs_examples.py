"""The copy-paste examples of the user guides run as written (the ```bash blocks).

Each page's blocks run in a fresh folder (``tests/data`` linked in), with the test's virtual
environment first on ``PATH`` and this checkout first on ``PYTHONPATH``;
the output must hold what the page says.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hybridir_core.paths import REPO_ROOT

BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
PAGES = {
    "evaluate-your-own-model.md": ["local 'query: ' 'passage: '"],
    "use-your-own-dataset.md": ["dataset,query_lang,candidate_lang,map", "xquad-r: 13090 queries",
                                '"lang": "ar", "group"'],
    "formats.md": ["Q0 ", "nDCG@10", "tiny-beir-"],
}


def blocks(page: str) -> list[str]:
    return BLOCK.findall((REPO_ROOT / "docs" / page).read_text(encoding="utf-8"))


@pytest.mark.slow  # each page runs its commands (evaluations) in a shell
@pytest.mark.parametrize("page", sorted(PAGES))
def test_user_guide_examples_run(page, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "data").symlink_to(REPO_ROOT / "tests" / "data")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    found = blocks(page)
    assert found, f"docs/{page} has no ```bash example"
    out = ""
    for script in found:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"docs/{page}:\n{script}\n{done.stderr[-3000:]}"
        out += done.stdout
    for expected in PAGES[page]:
        assert expected in out, f"docs/{page}: {expected!r} not in the output:\n{out[-3000:]}"


def test_license_and_citation_match_the_package():
    import tomllib

    import yaml

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    citation = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert (REPO_ROOT / "LICENSE").read_text(encoding="utf-8").startswith(f"{project['license']} License\n")
    assert citation["license"] == project["license"] and str(citation["version"]) == project["version"]
    assert citation["cff-version"] == "1.2.0" and citation["authors"] and citation["title"]
