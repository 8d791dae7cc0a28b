#!/usr/bin/env bash
# Runs the product on this machine: the local stack of real servers, then its status.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
node --import tsx deploy/local/src/main.ts up
node --import tsx packages/cli/src/main.ts status
