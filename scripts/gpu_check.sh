#!/usr/bin/env bash
# The GPU path on one GPU (issue 30): me5-small trained 50 steps on the study's protocol at batch
# 128 with --bf16 --cached-loss --mini-batch-size 32, evaluated with the fp16 encoder, beside the
# same run in fp32; writes bench/results/gpu-check-<date>-<gpu>.{json,md} (throughput, peak
# memory, loss and metric differences). `scripts/gpu_check.sh --small` runs a CPU-sized version
# (seconds to minutes) to check the script itself. Extra arguments go to `python -m bench.gpu_check`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
exec "$PY" -m bench.gpu_check "$@"
