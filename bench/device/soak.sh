#!/usr/bin/env bash
# Soak test on the device GPU (issue 7): a long WebGPU run with periodic eval, checkpoints and one
# growth event, a kill -9 in the middle and a resume, while host RSS and GPU memory are sampled.
#   setsid bash bench/device/soak.sh DIR STEPS GROW_AT KILL_AFTER_S &     (writes DIR/soak-*.{csv,log})
# The run itself goes to DIR/runs/<name>.
set -uo pipefail
source "$(dirname "$0")/procmem.sh"
DIR=$1; STEPS=${2:-3800}; GROW=${3:-1500}; KILL_AFTER=${4:-720}; STOP_AFTER=${5:-100000}
mkdir -p "$DIR"; app=$(pwd)/.devpack/app
mem="$DIR/soak-mem.csv"; log="$DIR/soak.log"
echo "t_s,phase,step,host_rss_mib,gpu_proc_mib,gpu_total_mib" > "$mem"
start=$(date +%s)
sample() { # $1 phase, $2 pid
  local rss step gpu
  rss=$(proc_rss_mib "$2")
  gpu=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  proc=$(proc_gpu_mib "$2")
  step=$(tail -n 1 "$DIR"/runs/*/metrics.jsonl 2>/dev/null | grep -o '"step":[0-9]*' | tail -1 | cut -d: -f2)
  echo "$(( $(date +%s) - start )),$1,${step:-0},${rss:-0},${proc:-na},${gpu:-0}" >> "$mem"
}
node "$app/shapelab.js" train --preset 25m --steps "$STEPS" --ep webgpu --eval-every 250 --checkpoint-every 250 \
  --grow-at-step "$GROW" --grow-factor 2 --grow-multiplier rescale --grow-optimizer copy --out "$DIR/runs" >> "$log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
  sample train $pid; sleep 15
  if [ $(( $(date +%s) - start )) -ge "$KILL_AFTER" ]; then
    echo "soak: kill -9 at $(( $(date +%s) - start )) s" >> "$log"; kill -9 $pid; sleep 2; break
  fi
done
run=$(ls -d "$DIR"/runs/*/ | head -1)
echo "soak: resuming $run" >> "$log"
node "$app/shapelab.js" resume "$run" >> "$log" 2>&1 &
pid=$!
stopped=0
while kill -0 $pid 2>/dev/null; do
  sample resume $pid; sleep 15
  if [ $stopped = 0 ] && [ $(( $(date +%s) - start )) -ge "$STOP_AFTER" ]; then
    echo "soak: SIGINT at $(( $(date +%s) - start )) s" >> "$log"; kill -INT $pid; stopped=1
  fi
done
wait $pid; echo "soak: resume exited $?" >> "$log"
echo "soak: done after $(( $(date +%s) - start )) s" >> "$log"
