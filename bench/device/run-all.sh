#!/usr/bin/env bash
# One device session: throughput table (+ profile), PyTorch baseline, and trainer parity.
#   bash bench/device/run-all.sh CASE...   (default: bench torch parity)
#   CASES: bench profile torch parity variants shapes splitk ffi runtimes | cache soakstart soakwait growthA growthB (issue 10/13)
#          study (issue 12) | torchexport torchdist (issue 11) | engine (issue 10 part 2) | growth-paper growth-old (issue 13) | calibrate calibrate-local (issue 11) | ckptcost (issue 16)
# study: STUDY_MINUTES=7 (default) -- a scaling study (8 runs) on the embedded corpus, then fit and plan --fit
#   (STUDY_ARGS replaces "--batch-size 64 --ep webgpu", e.g. for a CPU trial);
#   the study lives in /tmp/shapelab-study so a second call on the same warm machine resumes it.
# torchexport (1 GPU, ~6 min) and torchdist (2 GPUs) need only python3 + torch, not .devpack.
# Expects .devpack (bench/device/pack.sh) in the repository root; writes to $OUT.
set -uo pipefail
root=$(pwd); OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
source .devpack/setup.sh >/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
what=${*:-bench torch parity}
app=$root/.devpack/app
# One bench-train run under environment assignments (VAR=value ...), appended to $OUT/CASE.txt with
# its JSON in $OUT/CASE-NAME.json. CEIL '' skips the MatMul ceiling. Used by engine, splitk, runtimes.
bench_env() {
  local case=$1 name=$2 steps=$3 presets=$4 ceil=$5; shift 5
  echo "== $name: $*" | tee -a "$OUT/$case.txt"
  (cd "$OUT" && env "$@" timeout 200 node "$app/bench-train.js" --ep webgpu --presets "$presets" --steps "$steps" --ceiling "$ceil" --json "$OUT/$case-$name.json" 2>&1 | grep -v Warning | tail -7 | tee -a "$OUT/$case.txt")
}
for w in $what; do case $w in
  profile) (cd "$OUT" && timeout 300 node "$app/bench-train.js" --ep webgpu --presets ${PROFILE_PRESETS:-25m} --steps 10 --ceiling 4096 --profile 2>&1 | grep -v Warning | tee "$OUT/profile.txt"; rm -f "$OUT"/profile-*.json) ;;
  bench) (cd "$OUT" && timeout 400 node "$app/bench-train.js" --ep webgpu --presets tiny,small,25m,wide --steps 20 --ceiling 2048,4096 --json "$OUT/bench.json" 2>&1 | grep -v Warning | tee "$OUT/bench.txt") ;;
  variants)
    # WebGPU EP options the Node binding passes through (bind at device creation: one process each)
    for o in '{}' '{"validationMode":"disabled"}' '{"enableRobustness":false}' '{"validationMode":"disabled","enableRobustness":false}'; do
      echo "== SHAPELAB_WEBGPU_OPTIONS=$o" | tee -a "$OUT/variants.txt"
      (cd "$OUT" && SHAPELAB_WEBGPU_OPTIONS=$o timeout 200 node "$app/bench-train.js" --ep webgpu --presets ${VARIANT_PRESETS:-25m} --steps 15 --ceiling 4096 2>&1 | grep -v Warning | tail -3 | tee -a "$OUT/variants.txt")
    done ;;
  shapes)
    # each product of the 25m and wide steps alone, with split-K forms and the trainer's 'auto' choice
    for dims in "--d 512 --bt 8192 --heads 8" "--d 1024 --bt 4096 --heads 16"; do
      (cd "$OUT" && timeout 200 node "$app/bench-matmul.js" --ep webgpu $dims --t 256 --vocab 256 --reps ${SHAPES_REPS:-20} 2>&1 | grep -v Warning | tee -a "$OUT/matmul-shapes.txt")
    done ;;
  splitk)
    # split-K weight gradients in the whole step (Graph.splitK; trains identically, see test/train/splitK.test.ts);
    # the first value is repeated last for run-to-run noise
    for k in ${SPLITK_VALUES:-1 auto 8 auto:1024 auto:4096 1}; do
      bench_env splitk "${k/:/-}" 15 "${SPLITK_PRESETS:-small,25m,wide}" '' SHAPELAB_SPLIT_K=$k
    done ;;
  runtimes)
    # Issue 10, session 5: the captured step (SHAPELAB_RUNTIME) and split-K weight gradients
    # (SHAPELAB_SPLIT_K) side by side; default first (with the MatMul ceiling) and again last (noise).
    for run in ${RUNTIME_RUNS:-'default|' 'node|SHAPELAB_RUNTIME=node' 'nosplit|SHAPELAB_SPLIT_K=1' 'node-nosplit|SHAPELAB_RUNTIME=node SHAPELAB_SPLIT_K=1' 'default-again|'}; do
      name=${run%%|*}; ceil=''; [ "$name" = default ] && ceil=4096
      bench_env runtimes "$name" 20 small,25m,wide "$ceil" ${run#*|}
    done ;;
  ffi)
    # issue 10 part 3: the FFI prototype (bench/ffi, needs .devpack-ffi from bench/ffi/pack.sh): C API + graph capture vs onnxruntime-node
    (export NODE_PATH=$root/.devpack/app/node_modules:$root/.devpack-ffi/node_modules; f=$root/.devpack-ffi
     node $f/selfcheck.js; node $f/capture-ops.js; node $f/bench.js --runs 100; node $f/bench.js --ffi-only --pending 1024 --runs 100
     node $f/step.js --preset small --no-scatter --steps 20 --rounds 3; node $f/step.js --preset 25m --no-scatter --steps 10 --rounds 2) 2>&1 | grep -v Warning | tee "$OUT/ffi.txt" ;;
  torch) timeout 300 python3 bench/torch_speed.py 256x128x128x4x2x16 256x256x512x8x8x32 256x256x1024x8x16x16 | tee "$OUT/torch.jsonl" ;;
  cache) timeout 400 bash bench/device/cache-compare.sh ${CACHE_PRESETS:-small,25m,wide} 30 ;;
  # Memory soak as a daemon (spans device calls while the machine stays warm); soakwait collects it.
  soakstart) rm -rf /tmp/soak; mkdir -p /tmp/soak; setsid bash bench/device/soak-memory.sh /tmp/soak ${SOAK_S:-630} 1500 < /dev/null > /dev/null 2>&1 & sleep 2 ;;
  soakwait) bash bench/device/soak-wait.sh /tmp/soak ${SOAK_WAIT:-540}; cp /tmp/soak/soak-estimate.jsonl "$OUT/" 2>/dev/null ;;
  # Growth policy sets at the 25m size, equal FLOPs (issue 13): A = the G_stack paper's (g 4, fresh
  # optimizer, re-warmed LR), B = the trainer's old default (g 2, moments copied, LR continued).
  growthA|growthB)
    if [ $w = growthA ]; then gp="--factor 4 --grow-optimizer reset --grow-lr rewarm"; else gp="--factor 2 --grow-optimizer copy --grow-lr continue"; fi
    (cd "$OUT" && timeout ${GROWTH_TIMEOUT:-500} node "$app/shapelab.js" experiment growth --width 512 --depth 8 --heads 8 --context 256 --batch 32 \
      --steps ${GROWTH_STEPS:-800} $gp --policies rescale,keep --eval-every 100 --eval-batches 8 --ep webgpu --out /tmp/$w > "$OUT/$w.txt" 2>&1; cat "$OUT/$w.txt" | tr '\r' '\n' | grep -v Warning | tail -12
    cp /tmp/$w/growth-experiment.json "$OUT/$w-experiment.json"; cp /tmp/$w/growth-experiment.svg "$OUT/$w-experiment.svg") ;;
  study)
    S=/tmp/shapelab-study; M=${STUDY_MINUTES:-7}; cli="node $app/shapelab.js"
    if [ -f $S/study.json ]; then args="--resume $S"; else rm -rf $S; args="--minutes $M --out $S ${STUDY_ARGS:---batch-size 64 --ep webgpu}"; fi
    (cd "$OUT" && timeout $((M * 60 + 150)) $cli study $args --json > "$OUT/study-progress.jsonl" 2> >(grep -v Warning > "$OUT/study-stderr.txt")); echo "study exit $?" | tee -a "$OUT/study.txt"
    grep -E '"kind":"(study-start|run-end|study-end)"' "$OUT/study-progress.jsonl" | tee -a "$OUT/study.txt"
    $cli fit $S 2>&1 | tee "$OUT/fit.txt"; $cli fit $S --json > "$OUT/fit.json" 2>/dev/null
    for f in "" "--fit $S"; do
      echo "== plan --flops ${STUDY_PLAN_FLOPS:-1e15} --gpu h200-sxm --gpus 1 --seq 128 --vocab 256 $f" | tee -a "$OUT/plan-vs.txt"
      $cli plan --flops ${STUDY_PLAN_FLOPS:-1e15} --gpu h200-sxm --gpus 1 --seq 128 --vocab 256 --top 5 $f 2>&1 | tee -a "$OUT/plan-vs.txt"
    done
    # The manifest and each run's logs (no checkpoints: too large to bring back).
    mkdir -p "$OUT/study"; cp $S/study.json $S/fit.json "$OUT/study/" 2>/dev/null
    for d in $S/*/; do [ -f "$d/config.json" ] && mkdir -p "$OUT/study/$(basename $d)" && cp "$d"/*.json "$d"/*.jsonl "$OUT/study/$(basename $d)/" 2>/dev/null; done ;;
  torchexport) timeout 590 python3 bench/torch_export_speed.py --out "$OUT" ${TORCHEXPORT_SHAPES:-} 2>&1 | tee "$OUT/torch-export-speed.txt" ;;
  torchdist) bash bench/device/torch-dist-check.sh ;;
  engine)
    # Issue 10 part 2: the step graph's changes, each turned off once (SHAPELAB_ENGINE_OFF, see
    # src/core/train/graphs.ts), and the old 'bucket' buffer caches once; default first and last
    # (run-to-run noise). Read 'step ms' per preset: a change wins where its off run is slower.
    # About 3-4 minutes on an H200.
    for run in ${ENGINE_RUNS:-'default|' 'off-wgrad|wgrad' 'off-qkv|qkv' 'off-adamw|adamw' 'off-all|wgrad,qkv,adamw' 'bucket|' 'default-again|'}; do
      name=${run%%|*}; opts='{}'; ceil=''
      [ "$name" = bucket ] && opts='{"storageBufferCacheMode":"bucket","uniformBufferCacheMode":"bucket"}'
      [ "$name" = default ] && ceil=4096
      bench_env engine "$name" 20 small,25m,wide "$ceil" "SHAPELAB_ENGINE_OFF=${run#*|}" "SHAPELAB_WEBGPU_OPTIONS=$opts"
    done ;;
  growth-paper|growth-old)
    # Growth defaults from evidence (issue 13): scratch vs G_stack at equal FLOPs on the 25m preset,
    # per multiplier policy, with G_stack's policy set (g 4, fresh AdamW, re-warmed schedule) or the
    # old train defaults (g 2, moments copied, schedule continued). One set per command (~8 min each).
    if [ "$w" = growth-paper ]; then set_args="--factor 4 --grow-optimizer reset --grow-lr rewarm"; else set_args="--factor 2 --grow-optimizer copy --grow-lr continue"; fi
    (cd "$OUT" && timeout 590 node "$app/shapelab.js" experiment growth --preset 25m --steps ${GROWTH_STEPS:-1500} --grow-fraction 0.25 --policies ${GROWTH_POLICIES:-rescale,keep} $set_args --eval-every 100 --ep webgpu --out "$OUT/$w" 2>&1 | grep -v Warning | tail -12 | tee "$OUT/$w.txt"; rm -rf "$OUT/$w/runs"/*/checkpoints) ;;
  calibrate)
    # planner calibration (issue 11 part 2): exported train.py tokens/s at ~125M, ~350M, ~1B (+ a holdout shape), T 2048
    timeout 540 python3 bench/calibration_run.py --gpu ${CAL_GPU:-h200-sxm} --shapes ${CAL_SHAPES:-768x12x6,1024x24x8,2048x16x16} \
      --holdout ${CAL_HOLDOUT:-1536x16x12} --steps ${CAL_STEPS:-40} --out "$OUT/calibration.jsonl" --shapelab "node $app/shapelab.js" 2>&1 | tail -30 | tee "$OUT/calibration.txt" ;;
  calibrate-local)
    # ShapeLab's own engine: the 'local' hardware entry of this machine and bench-train rows (gpu local, fp32)
    (cd "$OUT" && SHAPELAB_HARDWARE_FILE="$OUT/hardware-local.json" timeout 200 node "$app/shapelab.js" device --save --ep webgpu 2>&1 | grep -v Warning | tail -3)
    (cd "$OUT" && timeout 400 node "$app/bench-train.js" --ep webgpu --presets small,25m,25m-b64,wide --steps 20 --ceiling 4096 --json "$OUT/bench-local.json" 2>&1 | grep -v Warning | tail -8) ;;
  ckptcost)
    # cost of one checkpoint (params + both AdamW moments; the trainer's writeCheckpoint) at 25m and wide: the basis of checkpointMinutes
    (cd "$OUT" && timeout 500 node "$app/checkpoint-cost.js" --ep webgpu --presets 25m,wide --repeats 3 --json "$OUT/checkpoint-cost.json" 2>&1 | grep -v Warning | tee "$OUT/checkpoint-cost.txt") ;;
  parity)
    P=/tmp/parity; rm -rf $P
    timeout 300 node "$app/export-parity.js" --out $P --preset 25m --steps 120 --grow-at-step 60 --grow-factor 2 --grow-multiplier rescale --grow-optimizer copy --ep webgpu 2>&1 | grep -v Warning | tail -3
    timeout 300 bash bench/parity/run_torch.sh $P 2>&1 | tail -3
    cp "$(cat $P/ts-run.txt)/metrics.jsonl" "$OUT/parity-ts-metrics.jsonl"; cp "$(cat $P/ts-run.txt)/events.jsonl" "$OUT/parity-ts-events.jsonl"; cp $P/torch-run/metrics.jsonl "$OUT/parity-torch-metrics.jsonl"
    python3 bench/parity/compare.py "$OUT/parity-torch-metrics.jsonl" "$OUT/parity-ts-metrics.jsonl" 2>&1 | tee "$OUT/parity.txt" | tail -40 ;;
esac; done
