#!/usr/bin/env bash
# Packs the FFI prototype's bench and self-check for the GPU device machine, next to the project's
# .devpack (bench/device/pack.sh: node, onnxruntime-node, Vulkan debs), which it relies on.
#   bash bench/device/pack.sh && bash bench/ffi/pack.sh     -> .devpack-ffi/ (git-ignored, ~1 MiB)
# On the device (carry .devpack and .devpack-ffi):
#   see bench/ffi/README.md for the one-line command
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
rm -rf .devpack-ffi && mkdir -p .devpack-ffi/node_modules/@koromix
for e in bench:bench selfcheck:selfcheck step:step capture-ops:capture-ops; do
  npx esbuild "bench/ffi/${e%%:*}.ts" --bundle --platform=node --format=cjs --target=node20 \
    --external:onnxruntime-node --external:koffi --outfile=".devpack-ffi/${e##*:}.js" --log-level=warning
done
# koffi 3 loads its native module from the sibling package @koromix/koffi-<platform>-<arch>.
cp -r node_modules/koffi .devpack-ffi/node_modules/
cp -r node_modules/@koromix/koffi-linux-x64 .devpack-ffi/node_modules/@koromix/
rm -rf .devpack-ffi/node_modules/@koromix/koffi-linux-x64/musl_x64 .devpack-ffi/node_modules/koffi/lib/native .devpack-ffi/node_modules/koffi/doc
ex=$(git rev-parse --git-path info/exclude); grep -qx '/.devpack-ffi/' "$ex" 2>/dev/null || echo '/.devpack-ffi/' >> "$ex"
du -sh .devpack-ffi
