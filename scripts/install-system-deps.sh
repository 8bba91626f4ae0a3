#!/usr/bin/env bash
# System packages evalkit's tests use: Debian's Chromium for the real-browser test.
# Installs only when missing and when we may (root); otherwise the browser tests skip with a reason.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "note: chromium not installed and not root: browser tests will be skipped (sudo apt-get install chromium)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing chromium (apt) for the browser tests..." >&2
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null \
  || { echo "warning: could not install chromium; browser tests will be skipped" >&2; exit 0; }
