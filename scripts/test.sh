#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks lint and types, starts the local
# stack of real servers (vitest's global setup does that), and runs every test.
# Writes reports/vitest.json (read by .ci/run) and reports/static.json (lint/typecheck).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh || exit 1
mkdir -p reports
export PATH="$PWD/node_modules/.bin:$PATH"

static_failed=0
echo "== lint (biome)"
biome check . || static_failed=$((static_failed + 1))
echo "== typecheck (tsc, every package)"
turbo run typecheck --output-logs=errors-only && tsc -p . || static_failed=$((static_failed + 1))
printf '{"failed": %d}\n' "$static_failed" > reports/static.json

echo "== tests (vitest, real servers)"
rm -f reports/vitest.json
vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json "$@"
tests_rc=$?

[ "$static_failed" -eq 0 ] && [ "$tests_rc" -eq 0 ]
