#!/usr/bin/env bash
# What the browser tests need, for CI (.ci/run calls this). Idempotent: skips what is there.
#   - Debian's chromium at /usr/bin/chromium (Playwright drives it through executable_path;
#     never `playwright install`, which downloads its own browsers)
#   - the playwright Python package
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
else
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi

if python -c "import playwright.sync_api" 2>/dev/null; then
  echo "playwright: $(python -m pip show playwright 2>/dev/null | sed -n 's/^Version: //p')"
else
  python -m pip install -q playwright
fi
