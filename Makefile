# hybridir: `make dashboard` sets up and opens the dashboard; `make test` runs the tests.
PY := .venv/bin/python

.PHONY: setup dashboard test bench

setup:
	bash scripts/setup.sh

dashboard: setup
	$(PY) -m streamlit run app.py

test: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: setup
	$(PY) -m bench --quick
