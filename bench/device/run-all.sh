#!/usr/bin/env bash
# One device session: throughput table (+ profile), PyTorch baseline, and trainer parity.
#   bash bench/device/run-all.sh [bench|profile|torch|parity|variants|shapes|splitk]...   (default: all)
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
  calibrate)
    # planner calibration (issue 11 part 2): exported train.py tokens/s at ~125M, ~350M, ~1B (+ a holdout shape), T 2048
    timeout 540 python3 bench/calibration_run.py --gpu ${CAL_GPU:-h200-sxm} --shapes ${CAL_SHAPES:-768x12x6,1024x24x8,2048x16x16} \
      --holdout ${CAL_HOLDOUT:-1536x16x12} --steps ${CAL_STEPS:-40} --out "$OUT/calibration.jsonl" --shapelab "node $app/shapelab.js" 2>&1 | tail -30 | tee "$OUT/calibration.txt" ;;
  calibrate-local)
    # ShapeLab's own engine: the 'local' hardware entry of this machine and bench-train rows (gpu local, fp32)
    (cd "$OUT" && SHAPELAB_HARDWARE_FILE="$OUT/hardware-local.json" timeout 200 node "$app/shapelab.js" device --save --ep webgpu 2>&1 | grep -v Warning | tail -3)
    (cd "$OUT" && timeout 400 node "$app/bench-train.js" --ep webgpu --presets small,25m,25m-b64,wide --steps 20 --ceiling 4096 --json "$OUT/bench-local.json" 2>&1 | grep -v Warning | tail -8) ;;
  torch) timeout 200 python3 bench/torch_speed.py 256x256x512x8x8x32 256x256x1024x8x16x16 | tee "$OUT/torch.jsonl" ;;
  parity)
    P=/tmp/parity; rm -rf $P
    timeout 300 node "$app/export-parity.js" --out $P --preset 25m --steps 120 --grow-at-step 60 --grow-factor 2 --grow-multiplier rescale --grow-optimizer copy --ep webgpu 2>&1 | grep -v Warning | tail -3
    timeout 300 bash bench/parity/run_torch.sh $P 2>&1 | tail -3
    cp "$(cat $P/ts-run.txt)/metrics.jsonl" "$OUT/parity-ts-metrics.jsonl"; cp $P/torch-run/metrics.jsonl "$OUT/parity-torch-metrics.jsonl"
    python3 bench/parity/compare.py "$OUT/parity-torch-metrics.jsonl" "$OUT/parity-ts-metrics.jsonl" 2>&1 | tee "$OUT/parity.txt" | tail -40 ;;
esac; done
