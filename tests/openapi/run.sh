#!/usr/bin/env bash
# schemathesis against Cairn's own OpenAPI document (/v2/openapi.json): it generates
# requests for every documented operation, from valid ones to edge cases and invalid ones,
# and checks that no answer is a 5xx, that each answer's status is documented, and that each
# body matches its documented schema. Runs a release binary on SQLite (with --signing-key,
# so that share is exercised). Prints `N passed, N failed` (operations).
#
#   CAIRN_BIN=target/release/cairn tests/openapi/run.sh
# Env: CAIRN_OPENAPI_EXAMPLES (examples per operation, default 40).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$ROOT/scripts/cache-paths"
log() { echo "[openapi] $*" >&2; }

bash "$HERE/setup.sh"
DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cairn-openapi.XXXXXX")"
# shellcheck source=../release-server.sh
. "$ROOT/tests/release-server.sh"
start_release_server "$DATA_DIR" --signing-key openapi-check
URL="$CAIRN_URL"

status=0
export CAIRN_URL="$URL" CAIRN_CLIENT_ID=3381af92-2b9e-11e3-b191-71861300734c CAIRN_PROJECT=openapi-check
# Run in the scratch folder: schemathesis keeps a cache of its findings where it runs.
cd "$DATA_DIR"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$HERE" "$CAIRN_SCHEMATHESIS_VENV/bin/schemathesis" run \
    "$URL/v2/openapi.json" --url "$URL" \
    -H "Client-ID: $CAIRN_CLIENT_ID" -H "X-Project-Id: $CAIRN_PROJECT" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${CAIRN_OPENAPI_EXAMPLES:-40}" --workers 2 --request-timeout 30 \
    --seed 1 --no-color --suppress-health-check all > "$DATA_DIR/report.txt" 2>&1 || status=$?
cat "$DATA_DIR/report.txt"
if grep -qiE 'panicked' "$DATA_DIR/server.log"; then
    log "the server panicked:"; grep -iE -A5 'panicked' "$DATA_DIR/server.log" >&2; status=1
fi
# One line in the suite's format: operations that passed and failed.
python3 - "$DATA_DIR/report.txt" "$status" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
ok = re.search(r"(\d+) passed", text)
bad = re.search(r"(\d+) failed", text)
passed = int(ok.group(1)) if ok else 0
failed = int(bad.group(1)) if bad else (0 if sys.argv[2] == "0" else 1)
print(f"{passed} passed, {failed} failed")
PY
exit "$status"
