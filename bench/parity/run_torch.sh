#!/usr/bin/env bash
# Parity driver (runs on the GPU machine): trains the PyTorch reference from the exact initial
# weights and batches the TS trainer used, and writes its losses.
#
# usage: bench/parity/run_torch.sh DIR [STEPS] [DEVICE]
#   DIR holds config.json (train.py's config: `shapelab export torch` writes it, or the TS side
#   writes the same object), init.safetensors (ShapeLab parameter names) and batches.bin
#   (little-endian int32 [steps, B, T+1]). STEPS defaults to every batch in batches.bin,
#   DEVICE to cuda.
# Writes DIR/torch-run/ (metrics.jsonl, events.jsonl, final checkpoint) and DIR/torch-losses.jsonl
# ({"step", "loss", "gradNorm", "depth"} per step). Compare with:
#   python3 bench/parity/compare.py DIR/torch-run/metrics.jsonl TS_RUN/metrics.jsonl
set -euo pipefail
DIR=${1:?usage: run_torch.sh DIR [STEPS] [DEVICE]}
HERE=$(cd "$(dirname "$0")" && pwd)
TRAIN="$HERE/../../python/shapelab_torch/train.py"
DEVICE=${3:-cuda}
STEPS_ARG=()
if [ -n "${2:-}" ]; then STEPS_ARG=(--steps "$2"); fi
rm -rf "$DIR/torch-run"
python3 "$TRAIN" --config "$DIR/config.json" --init "$DIR/init.safetensors" --batches "$DIR/batches.bin" \
  "${STEPS_ARG[@]}" --device "$DEVICE" --deterministic --log-every 1 \
  --out "$DIR/torch-run" --quiet
python3 - "$DIR/torch-run/metrics.jsonl" "$DIR/torch-losses.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        r = json.loads(line)
        g.write(json.dumps({k: r.get(k) for k in ("step", "loss", "gradNorm", "depth", "lr")}) + "\n")
print("wrote", sys.argv[2])
PY
