#!/usr/bin/env bash
# End-to-end test of Cairn with the real python-zaqarclient: first over REST
# (test_zaqarclient.py), then its subscription API with webhook delivery to a
# local receiver (test_notifications.py), then over WebSocket
# (test_zaqarclient_ws.py, the client's ws transport), then, with CAIRN_BIN, its
# keystone and signed-url auth backends, and the openstack CLI, against a server of
# its own with --auth keystone and a real Keystone (test_keystone.py; needs
# tests/keystone/setup.sh); fails if any fails.
#
#   CAIRN_BIN=target/release/cairn tests/e2e/run.sh   # starts the server itself
#   CAIRN_URL=http://127.0.0.1:8888 tests/e2e/run.sh   # uses a running server
#   CAIRN_URL=http://127.0.0.1:8888 CAIRN_WS_URL=ws://127.0.0.1:9000 \
#       tests/e2e/run.sh                               # ... with its WebSocket
#
# With CAIRN_URL but no CAIRN_WS_URL the WebSocket test is skipped.
# Env: CAIRN_E2E_VENV (default $HOME/.cache/cairn/e2e-venv, see scripts/cache-paths), CAIRN_E2E_PYTHON
# (interpreter used to create the venv, default python3), CAIRN_E2E_TIMEOUT
# (seconds for the test itself, default 300).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$HERE/../../scripts/cache-paths"

log() { echo "[e2e] $*" >&2; }

# ---- venv -------------------------------------------------------------------
bash "$HERE/setup.sh"
PY="$CAIRN_E2E_VENV/bin/python"

# ---- server -----------------------------------------------------------------
SERVER_PID=""
DATA_DIR=""
SERVER_LOG=""
cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$DATA_DIR" ]; then rm -rf "$DATA_DIR"; fi
    if [ -n "$SERVER_LOG" ]; then rm -f "$SERVER_LOG"; fi
    return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_server_log() {
    if [ -n "$SERVER_LOG" ] && [ -s "$SERVER_LOG" ]; then
        log "last lines of the server log:"
        tail -n 40 "$SERVER_LOG" >&2 || true
    fi
}

if [ -n "${CAIRN_BIN:-}" ]; then
    if [ ! -x "$CAIRN_BIN" ]; then
        log "CAIRN_BIN=$CAIRN_BIN is not an executable file"
        exit 2
    fi
    PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e-data.XXXXXX")"
    SERVER_LOG="$(mktemp "${TMPDIR:-/tmp}/cairn-e2e-log.XXXXXX")"
    WS_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    # test_notifications.py runs an SMTP server there for the mailto subscribers.
    CAIRN_E2E_SMTP_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    export CAIRN_E2E_SMTP_PORT
    log "starting $CAIRN_BIN serve --bind 127.0.0.1:$PORT --websocket-bind 127.0.0.1:$WS_PORT --data-dir $DATA_DIR"
    "$CAIRN_BIN" serve --bind "127.0.0.1:$PORT" --websocket-bind "127.0.0.1:$WS_PORT" \
        --data-dir "$DATA_DIR" --notify-allow-hosts 127.0.0.1/32 \
        --smtp-url "smtp://127.0.0.1:$CAIRN_E2E_SMTP_PORT" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    export CAIRN_URL="http://127.0.0.1:$PORT"
    export CAIRN_WS_URL="ws://127.0.0.1:$WS_PORT"

    # Wait (max ~20 s) for GET /v2/ping -> 204.
    if ! "$PY" - "$CAIRN_URL" "$SERVER_PID" <<'EOF'
import os, sys, time, uuid, urllib.request, urllib.error
url, pid = sys.argv[1].rstrip("/") + "/v2/ping", int(sys.argv[2])
deadline = time.time() + 20
last = "no answer"
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        print("[e2e] server process exited before answering ping",
              file=sys.stderr)
        sys.exit(1)
    req = urllib.request.Request(url, headers={
        "Client-ID": str(uuid.uuid4()), "X-Project-ID": "e2e"})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            if r.status == 204:
                sys.exit(0)
            last = "status %d" % r.status
    except urllib.error.HTTPError as e:
        last = "status %d" % e.code
    except Exception as e:  # connection refused while starting, etc.
        last = repr(e)
    time.sleep(0.2)
print("[e2e] server not ready after 20 s (%s)" % last, file=sys.stderr)
sys.exit(1)
EOF
    then
        show_server_log
        exit 1
    fi
    log "server is up at $CAIRN_URL"
elif [ -z "${CAIRN_URL:-}" ]; then
    log "set CAIRN_BIN (path to the cairn binary) or CAIRN_URL (running server)"
    exit 2
fi

# ---- tests -----------------------------------------------------------------
TIMEOUT="$(( ${CAIRN_E2E_TIMEOUT:-300} + 30 ))"
set +e
log "REST: test_zaqarclient.py against $CAIRN_URL"
CAIRN_URL="$CAIRN_URL" timeout -k 10 "$TIMEOUT" \
    "$PY" "$HERE/test_zaqarclient.py"
REST_STATUS=$?
log "notifications: test_notifications.py against $CAIRN_URL"
CAIRN_URL="$CAIRN_URL" timeout -k 10 "$TIMEOUT" \
    "$PY" "$HERE/test_notifications.py"
NOTIFY_STATUS=$?
if [ "$REST_STATUS" -eq 0 ]; then REST_STATUS=$NOTIFY_STATUS; fi
if [ -n "${CAIRN_WS_URL:-}" ]; then
    log "WebSocket: test_zaqarclient_ws.py against $CAIRN_WS_URL"
    CAIRN_WS_URL="$CAIRN_WS_URL" timeout -k 10 "$TIMEOUT" \
        "$PY" "$HERE/test_zaqarclient_ws.py"
    WS_STATUS=$?
else
    echo "INFO WebSocket e2e skipped: set CAIRN_BIN, or CAIRN_WS_URL for a" \
         "running server's WebSocket listener"
    WS_STATUS=0
fi
if [ -n "${CAIRN_BIN:-}" ]; then
    log "Keystone: test_keystone.py with $CAIRN_BIN serve --auth keystone"
    CAIRN_BIN="$CAIRN_BIN" timeout -k 10 "$TIMEOUT" "$PY" "$HERE/test_keystone.py"
    KS_STATUS=$?
    if [ "$REST_STATUS" -eq 0 ]; then REST_STATUS=$KS_STATUS; fi
fi
set -e
log "REST exit $REST_STATUS, WebSocket exit $WS_STATUS"
if [ "$REST_STATUS" -ne 0 ] || [ "$WS_STATUS" -ne 0 ]; then
    show_server_log
    if [ "$REST_STATUS" -ne 0 ]; then exit "$REST_STATUS"; fi
    exit "$WS_STATUS"
fi
exit 0
