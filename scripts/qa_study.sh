#!/usr/bin/env bash
# The study on its main protocol: train on XQuAD-R QA triplets (hybridir_core/data/qa_pairs.py),
# evaluate zero-shot on MLQA-R only. For each rung given (smallest first): hybrid(0.5) and mono
# seed by seed (0, 1, 2), then cross. Complete runs are skipped, so the script resumes; every run takes
# the CPU lock, so it never shares the two cores with another heavy job.
# Usage: scripts/qa_study.sh [runs-folder] [model...]   (default: runs/qa me5-small-d2 me5-small)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/qa}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(me5-small-d2 me5-small)
py=${PYTHON:-.venv/bin/python}
common=(--corpus xquad --dataset mlqa-r --steps 200 --batch-size 32 --out "$out")
for model in "${models[@]}"; do
  for seed in 0 1 2; do  # the question first: hybrid(0.5) against mono, seed by seed
    flock /tmp/hybridir-cpu.lock "$py" -m hybridir_core sweep --models "$model" --sampling mono hybrid \
      --alphas 0.5 --seeds "$seed" "${common[@]}"
  done
  for seed in 0 1 2; do
    flock /tmp/hybridir-cpu.lock "$py" -m hybridir_core sweep --models "$model" --sampling cross \
      --seeds "$seed" "${common[@]}"
  done
done
