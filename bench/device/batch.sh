#!/usr/bin/env bash
# Runs run-all.sh cases one after another, each under its own time limit, and after each one packs
# everything written so far into $OUT/results.tgz (a device call brings back at most 8 files, and
# a call cut off at its limit still brings back what was packed).
#   bash bench/device/batch.sh CASE:SECONDS ...     e.g. engine:150 torch:90 parity:90
set -uo pipefail
FINAL_OUT=${OUT:-/tmp/out}; export OUT=/tmp/batch-out; rm -rf "$OUT"; mkdir -p "$OUT" "$FINAL_OUT"
t0=$(date +%s)
for spec in "$@"; do
  c=${spec%%:*}; s=${spec##*:}
  echo "=== [$(( $(date +%s) - t0 ))s] $c (limit ${s}s)" | tee -a "$OUT/batch.log"
  timeout -k 5 "$s" bash bench/device/run-all.sh "$c" >> "$OUT/$c.log" 2>&1; echo "=== $c exit $?" | tee -a "$OUT/batch.log"
  tail -n 25 "$OUT/$c.log" | tr '\r' '\n' | grep -v -e Warning -e '^\[' | tail -n 15
  tar czf "$FINAL_OUT/results.tgz" -C "$OUT" . 2>/dev/null
done
echo "=== done after $(( $(date +%s) - t0 ))s" | tee -a "$OUT/batch.log"; tar czf "$FINAL_OUT/results.tgz" -C "$OUT" .
