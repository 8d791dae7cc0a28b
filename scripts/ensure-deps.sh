#!/usr/bin/env bash
# Installs the npm dependencies when they are missing or older than the lock file, so that
# every entry point (npm start, npm test, npm run stack) works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.cdc-cache-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "cdc-cache: installing npm dependencies (npm ci)..." >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
  touch "$stamp"
fi
