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
: "${CAIRN_BIN:?set CAIRN_BIN to the cairn binary}"
export CAIRN_ARTIFACTS="${CAIRN_ARTIFACTS:-$ROOT/test-artifacts/pages}"
rm -rf "$CAIRN_ARTIFACTS"
mkdir -p "$CAIRN_ARTIFACTS"

DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cairn-pages.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$CAIRN_BIN" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA_DIR" > "$CAIRN_ARTIFACTS/server.log" 2>&1 &
SERVER_PID=$!
export CAIRN_URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -fs -o /dev/null -H 'Client-ID: 3381af92-2b9e-11e3-b191-71861300734c' \
        -H 'X-Project-Id: p' "$CAIRN_URL/v2/ping" && break
    sleep 0.1
done
log "server at $CAIRN_URL; screenshots in $CAIRN_ARTIFACTS"
status=0
node "$HERE/console.test.mjs" || status=$?
node "$HERE/docs.test.mjs" || status=$?
exit "$status"
