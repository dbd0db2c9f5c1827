# hybridir: `make dashboard` sets up and opens the dashboard; `make test` runs the tests.
PY := .venv/bin/python

.PHONY: setup dashboard test lint bench

setup:
	bash scripts/setup.sh

dashboard: setup
	$(PY) -m streamlit run app.py

test: setup lint
	$(PY) -m pytest -q -p no:cacheprovider tests

lint: setup
	.venv/bin/ruff check .
	.venv/bin/lint-imports

bench: setup
	$(PY) -m bench --quick
