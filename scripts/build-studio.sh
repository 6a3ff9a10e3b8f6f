#!/usr/bin/env bash
# Build SAGE Studio's bundle (studio/dist, never committed) from studio/package-lock.json:
# npm ci when the lock file is there (npm install otherwise), then tsc + vite build.
set -euo pipefail
cd "$(dirname "$0")/../studio"
if [ -f package-lock.json ]; then
  npm ci --silent --no-audit --no-fund >/dev/null
else
  npm install --silent --no-audit --no-fund >/dev/null
fi
npm run --silent build >/dev/null
echo "  studio: bundle in studio/dist ($(du -sk dist | cut -f1) KiB)"
