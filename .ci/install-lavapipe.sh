#!/usr/bin/env bash
# install-lavapipe (copied from the team notes): Mesa CPU Vulkan driver for the WebGPU EP on GPU-less machines.
# GPU (CI, these dev machines) by installing Mesa's CPU Vulkan driver (lavapipe) from Debian 12's
# bookworm-backports suite. Debian 12's own Mesa 22.3 lavapipe is rejected by Dawn ("No supported
# adapters"); Mesa 25 works. Needs root. Idempotent. A reference for .ci/run: call it or copy it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
  # reuse the mirror this machine already uses for Debian's main suites
  uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 | awk '{print $2}')
  [ -n "$uri" ] || uri=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1 | awk '{print $2}')
  [ -n "$uri" ] || { echo "install-lavapipe: no Debian mirror found in apt sources" >&2; exit 1; }
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" > "$src"
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
ver=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)
echo "install-lavapipe: mesa-vulkan-drivers $ver"
