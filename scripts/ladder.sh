#!/usr/bin/env bash
# The model-scale ladder: build the distilled students, then evaluate teacher and students
# zero-shot on full XQuAD-R and MLQA-R. Each step takes the CPU lock on its own and complete
# runs are skipped, so the script resumes after an interruption.
# Usage: scripts/ladder.sh [runs-folder]   (then scripts/ship_reference.sh runs/<id>...)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs}
py=.venv/bin/python
lock() { flock /tmp/hybridir-cpu.lock "$@"; }
for k in 2 4 6; do
  lock "$py" -m hybridir_core models --build "me5-small-d$k"
done
for model in me5-small-d2 me5-small-d4 me5-small-d6 me5-small; do
  if [ -f "$out/zs-$model/metrics.json" ]; then echo "zs-$model: complete, skipped"; continue; fi
  lock "$py" -m hybridir_core evaluate --model "$model" --dataset all --out "$out/zs-$model"
done
