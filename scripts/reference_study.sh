#!/usr/bin/env bash
# The whole reference study (issue 5), in the order we ran it. Complete runs are skipped, so an
# interrupted study resumes where it stopped. One heavy job at a time: the flock serialises it
# with anything else that takes /tmp/hybridir-cpu.lock (benchmarks, other sweeps).
# Usage: scripts/reference_study.sh [runs-folder]     (then scripts/ship_reference.sh runs/<id>...)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs}"
py="${PYTHON:-.venv/bin/python}"
run() { flock /tmp/hybridir-cpu.lock "$py" -m hybridir_core "$@"; }
common=(--steps 300 --batch-size 32 --out "$out")

# 1. zero-shot, every offline scale
for model in me5-static me5-small-l6 me5-small; do
  [ -f "$out/zs-$model/metrics.json" ] || run evaluate --model "$model" --dataset all --out "$out/zs-$model"
done
# 2. mono / cross / hybrid(0.5), seed 0, every scale (static models learn with a larger rate)
run sweep --models me5-static --sampling mono cross hybrid --alphas 0.5 --seeds 0 --lr 1e-3 "${common[@]}"
run sweep --models me5-small-l6 --sampling mono cross hybrid --alphas 0.5 --seeds 0 "${common[@]}"
# 3. alpha sweep at me5-small-l6 (alpha 0 is exactly `cross` and 1 exactly `mono`: same sampler draws)
run sweep --models me5-small-l6 --sampling hybrid --alphas 0.25 0.75 --seeds 0 "${common[@]}"
# 4. seeds 1 and 2 for hybrid(0.5) versus mono at me5-small-l6
run sweep --models me5-small-l6 --sampling mono hybrid --alphas 0.5 --seeds 1 2 "${common[@]}"
# 5. the 12-layer scale
run sweep --models me5-small --sampling mono cross hybrid --alphas 0.5 --seeds 0 "${common[@]}"
