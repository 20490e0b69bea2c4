#!/usr/bin/env bash
# Parity driver (runs on the GPU machine): trains the PyTorch reference from the exact initial
# weights and batches the TS trainer used, and writes its losses.
#
# usage: bench/parity/run_torch.sh DIR [STEPS] [DEVICE]
#   DIR holds config.json (train.py's config as `shapelab export torch` writes it, or a ShapeLab
#   run config, which is passed through the exporter first), init.safetensors (ShapeLab parameter names) and batches.bin
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
CFG="$DIR/config.json"
# A ShapeLab run config (e.g. a run folder's config.json) has no per-depth `transfers`: let the
# exporter add them (needs node and a built dist/; the TS core computes them, Python never does).
if ! python3 -c 'import json,sys; sys.exit(0 if "transfers" in json.load(open(sys.argv[1])) else 1)' "$CFG"; then
  node "$HERE/../../bin/shapelab.js" export torch --config "$CFG" --out "$DIR/torch-export" --force >/dev/null
  CFG="$DIR/torch-export/config.json"
fi
rm -rf "$DIR/torch-run"
python3 "$TRAIN" --config "$CFG" --init "$DIR/init.safetensors" --batches "$DIR/batches.bin" \
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
