#!/usr/bin/env bash
# Buffer cache modes side by side (issue 10): for each preset and mode, one bench process (the
# options bind to the process's WebGPU device), sampling its peak GPU memory (nvidia-smi per
# process) and host RSS, next to the trainer's own memory estimate. Prints a table to $OUT/cache-compare.txt.
#   bash bench/device/cache-compare.sh [PRESETS=small,25m,wide] [STEPS=30]
set -uo pipefail
source "$(dirname "$0")/procmem.sh"
OUT=${OUT:-/tmp/out}; app=$(pwd)/.devpack/app; presets=${1:-small,25m,wide}; steps=${2:-30}
res="$OUT/cache-compare.jsonl"; : > "$res"
for p in ${presets//,/ }; do for mode in bucket simple; do
  opts="{\"storageBufferCacheMode\":\"$mode\",\"uniformBufferCacheMode\":\"$mode\"}"
  ( cd "$OUT" && SHAPELAB_WEBGPU_OPTIONS=$opts exec node "$app/bench-train.js" --ep webgpu --presets "$p" --steps "$steps" --ceiling 4096 --json "$OUT/cc-$p-$mode.json" > "$OUT/cc-$p-$mode.log" 2>&1 ) &
  pid=$!; peak=0; rss=0
  while kill -0 $pid 2>/dev/null; do
    g=$(proc_gpu_mib "$pid")
    r=$(proc_rss_mib "$pid")
    [ -n "$g" ] && [ "$g" -gt "$peak" ] && peak=$g; [ -n "$r" ] && [ "$r" -gt "$rss" ] && rss=$r
    sleep 0.5
  done
  ms=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['rows'][0]['stepMs'])" "$OUT/cc-$p-$mode.json" 2>/dev/null)
  echo "{\"preset\":\"$p\",\"mode\":\"$mode\",\"stepMs\":${ms:-null},\"peakGpuMiB\":$peak,\"peakRssMiB\":$rss}" | tee -a "$res"
done; done
