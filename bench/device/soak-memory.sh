#!/usr/bin/env bash
# Memory soak on the device GPU (issue 10): one training process of the 25m preset for at least
# 10 minutes with eval, checkpoints and a G_stack growth event (shapes change there), sampling the
# process's GPU memory (nvidia-smi per process) and host RSS every 10 s; SIGINT after STOP_S.
# Runs as a daemon so it can span device calls:
#   setsid bash bench/device/soak-memory.sh DIR [STOP_S=630] [GROW_AT=1500] &   (DIR/soak-mem.csv, DIR/soak.log)
#   bash bench/device/soak-wait.sh DIR LIMIT_S                                  (waits, copies to $OUT)
set -uo pipefail
source "$(dirname "$0")/procmem.sh"
DIR=$1; STOP=${2:-630}; GROW=${3:-1500}
mkdir -p "$DIR"; app=$(pwd)/.devpack/app
mem="$DIR/soak-mem.csv"; log="$DIR/soak.log"
echo "t_s,phase,step,host_rss_mib,gpu_proc_mib,gpu_total_mib" > "$mem"
node "$app/memory-estimate.js" --preset 25m --grow-factor 2 > "$DIR/soak-estimate.jsonl" 2>&1
start=$(date +%s)
node "$app/shapelab.js" train --preset 25m --steps 100000 --ep webgpu --eval-every 250 --checkpoint-every 500 \
  --grow-at-step "$GROW" --grow-factor 2 --grow-multiplier rescale --grow-optimizer copy --out "$DIR/runs" >> "$log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
  rss=$(proc_rss_mib "$pid")
  gpu=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  proc=$(proc_gpu_mib "$pid")
  step=$(tail -n 1 "$DIR"/runs/*/metrics.jsonl 2>/dev/null | grep -o '"step":[0-9]*' | tail -1 | cut -d: -f2)
  echo "$(( $(date +%s) - start )),train,${step:-0},${rss:-0},${proc:-na},${gpu:-0}" >> "$mem"
  if [ $(( $(date +%s) - start )) -ge "$STOP" ]; then echo "soak: SIGINT at $(( $(date +%s) - start )) s" >> "$log"; kill -INT $pid; break; fi
  sleep 10
done
wait $pid; echo "soak: train exited $?" >> "$log"
echo "soak: done after $(( $(date +%s) - start )) s" >> "$log"
