#!/usr/bin/env bash
# One device session: throughput table (+ profile), PyTorch baseline, and trainer parity.
#   bash bench/device/run-all.sh [bench|profile|torch|parity|variants|shapes|splitk|ckptcost]...   (default: bench torch parity)
# Expects .devpack (bench/device/pack.sh) in the repository root; writes to $OUT.
set -uo pipefail
root=$(pwd); OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
source .devpack/setup.sh >/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
what=${*:-bench torch parity}
app=$root/.devpack/app
for w in $what; do case $w in
  profile) (cd "$OUT" && timeout 300 node "$app/bench-train.js" --ep webgpu --presets 25m --steps 10 --ceiling 4096 --profile 2>&1 | grep -v Warning | tee "$OUT/profile.txt"; rm -f "$OUT"/profile-*.json) ;;
  bench) (cd "$OUT" && timeout 400 node "$app/bench-train.js" --ep webgpu --presets tiny,small,25m,wide --steps 20 --ceiling 2048,4096 --json "$OUT/bench.json" 2>&1 | grep -v Warning | tee "$OUT/bench.txt") ;;
  variants)
    # WebGPU EP options the Node binding passes through (bind at device creation: one process each)
    for o in '{}' '{"validationMode":"disabled"}' '{"enableRobustness":false}' '{"validationMode":"disabled","enableRobustness":false}'; do
      echo "== SHAPELAB_WEBGPU_OPTIONS=$o" | tee -a "$OUT/variants.txt"
      (cd "$OUT" && SHAPELAB_WEBGPU_OPTIONS=$o timeout 200 node "$app/bench-train.js" --ep webgpu --presets ${VARIANT_PRESETS:-25m} --steps 15 --ceiling 4096 2>&1 | grep -v Warning | tail -3 | tee -a "$OUT/variants.txt")
    done ;;
  shapes) (cd "$OUT" && timeout 300 node "$app/bench-matmul.js" --ep webgpu 2>&1 | grep -v Warning | tee "$OUT/matmul-shapes.txt") ;;
  splitk)
    # split-K weight gradients in the whole step (Graph.splitK; trains identically, see test/train/splitK.test.ts)
    for k in 1 4 8 16; do
      echo "== SHAPELAB_SPLIT_K=$k" | tee -a "$OUT/splitk.txt"
      (cd "$OUT" && SHAPELAB_SPLIT_K=$k timeout 200 node "$app/bench-train.js" --ep webgpu --presets 25m --steps 15 --ceiling 4096 2>&1 | grep -v Warning | tail -3 | tee -a "$OUT/splitk.txt")
    done ;;
  ckptcost)
    # cost of one checkpoint (params + both AdamW moments; the trainer's writeCheckpoint) at 25m and wide: the basis of checkpointMinutes
    (cd "$OUT" && timeout 500 node "$app/checkpoint-cost.js" --ep webgpu --presets 25m,wide --repeats 3 --json "$OUT/checkpoint-cost.json" 2>&1 | grep -v Warning | tee "$OUT/checkpoint-cost.txt") ;;
  torch) timeout 200 python3 bench/torch_speed.py 256x256x512x8x8x32 256x256x1024x8x16x16 | tee "$OUT/torch.jsonl" ;;
  parity)
    P=/tmp/parity; rm -rf $P
    timeout 300 node "$app/export-parity.js" --out $P --preset 25m --steps 120 --grow-at-step 60 --grow-factor 2 --grow-multiplier rescale --grow-optimizer copy --ep webgpu 2>&1 | grep -v Warning | tail -3
    timeout 300 bash bench/parity/run_torch.sh $P 2>&1 | tail -3
    cp "$(cat $P/ts-run.txt)/metrics.jsonl" "$OUT/parity-ts-metrics.jsonl"; cp $P/torch-run/metrics.jsonl "$OUT/parity-torch-metrics.jsonl"
    python3 bench/parity/compare.py "$OUT/parity-torch-metrics.jsonl" "$OUT/parity-ts-metrics.jsonl" 2>&1 | tee "$OUT/parity.txt" | tail -40 ;;
esac; done
