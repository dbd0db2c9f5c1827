# hybridir: `make dashboard` sets up and opens the dashboard; `make test` runs the tests.
PY := .venv/bin/python

.PHONY: setup dashboard test test-fast lint bench

# scripts/setup.sh again only when what it installs from changed (run it by hand to force it)
SETUP_STAMP := .venv/.setup-done
setup: $(SETUP_STAMP)
$(SETUP_STAMP): scripts/setup.sh requirements.txt requirements-dev.txt pyproject.toml
	bash scripts/setup.sh
	touch $@

dashboard: setup
	$(PY) serve.py

test: setup lint
	$(PY) -m pytest -q -p no:cacheprovider tests

# The edit-test loop (under 3 minutes on 2 cores): all but model training, slow, browser and Slurm
# tests (docs/testing.md). CI runs `make test`.
test-fast: setup
	HYBRIDIR_TEST_FAST=1 $(PY) -m pytest -q -p no:cacheprovider --durations=10 -n auto --dist worksteal \
		-m "not slow and not browser and not slurm and not training" tests

lint: setup
	.venv/bin/ruff check .
	.venv/bin/lint-imports

bench: setup
	$(PY) -m bench --quick
