#!/usr/bin/env bash
# Copy finished runs into results/reference/ without model weights or checkpoints.
# Usage: [PREFIX=qa-] scripts/ship_reference.sh runs/<id> [runs/<id> ...]
# (PREFIX names the shipped folders, e.g. to keep the QA-protocol runs apart from older ones.)
set -euo pipefail
cd "$(dirname "$0")/.."
for run in "$@"; do
  [ -f "$run/metrics.json" ] || { echo "skip $run: not complete" >&2; continue; }
  dest="results/reference/${PREFIX:-}$(basename "$run")"
  mkdir -p "$dest"
  for f in config.json matrix.csv ranks.parquet train_stats.json metrics.json; do  # metrics.json last
    [ -f "$run/$f" ] && cp "$run/$f" "$dest/$f"
  done
done
du -sh results/reference/* 2>/dev/null
