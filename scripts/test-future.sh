#!/usr/bin/env bash
# The test suite with the clock a year ahead (libfaketime), to catch tests that depend on the
# calendar or on which of Node's bundled roots are still valid today.
#
#   npm run test:future                      every test, 365 days ahead
#   CERTGATE_FUTURE=+730d npm run test:future
#   bash scripts/test-future.sh test/trust/cli.test.ts   some files only
#
# The whole process tree runs on the moved clock: node, and the children the tests start keep
# libfaketime's variables (test/helpers/env.ts cleanEnv); redis-server alone keeps the real clock
# (libfaketime crashes it; it checks no certificate dates in these tests). Pebble is a Go binary,
# which reads the clock without libc, so it stays on the real clock too: its certificates are
# valid for years, so that does not matter here.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/test-deps.mjs
offset="${CERTGATE_FUTURE:-+365d}"
if [ $# -eq 0 ]; then
  mapfile -t files < <(find test -name '*.test.ts' | sort)
else
  files=("$@")
fi
echo "test:future: the clock reads $(faketime -f "$offset" date -u +%F) (real: $(date -u +%F))" >&2
exec faketime -f "$offset" node --import tsx --test "${files[@]}"
