#!/usr/bin/env bash
# The page tests: the web console (console.test.mjs) and the API reference (docs.test.mjs)
# in Debian's headless Chromium driven by playwright-core, against a release binary started here on SQLite (tests/pages/setup.sh
# installs what they need). Screenshots of each step go to $CAIRN_ARTIFACTS (default
# test-artifacts/pages in the clone). Prints `N passed, N failed`.
#
#   CAIRN_BIN=target/release/cairn tests/pages/run.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$ROOT/scripts/cache-paths"
log() { echo "[pages] $*" >&2; }

bash "$HERE/setup.sh"
export CAIRN_ARTIFACTS="${CAIRN_ARTIFACTS:-$ROOT/test-artifacts/pages}"
rm -rf "$CAIRN_ARTIFACTS"
mkdir -p "$CAIRN_ARTIFACTS"

# shellcheck source=../release-server.sh
. "$ROOT/tests/release-server.sh"
start_release_server "$(mktemp -d "${TMPDIR:-/tmp}/cairn-pages.XXXXXX")"
log "server at $CAIRN_URL; screenshots in $CAIRN_ARTIFACTS"
status=0
node "$HERE/console.test.mjs" || status=$?
node "$HERE/docs.test.mjs" || status=$?
exit "$status"
