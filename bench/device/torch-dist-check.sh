#!/usr/bin/env bash
# 2-GPU check of the exported program (kind nvidia-h200-x2): DDP and FSDP2 runs of train.py match
# the 1-GPU run at the same global batch, through a growth event, in parity mode (fp32) and in the
# default mode (bf16 + compile). Writes $OUT/dist-check.txt and $OUT/dist-check.json.
#   bash bench/device/torch-dist-check.sh            (on the device; CPU/gloo: DEVICE=cpu)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
timeout 560 "$PY" bench/torch_dist_check.py --device "$DEVICE" --nproc 2 --modes "${DIST_MODES:-parity,default}" --out "$OUT" 2>&1 | tee "$OUT/dist-check.txt"
exit "${PIPESTATUS[0]}"
