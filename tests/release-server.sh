# Sourced by the test scripts that drive a release binary of their own (tests/pages,
# tests/openapi): `start_release_server DIR [ARGS...]` starts `$CAIRN_BIN serve` on a free
# port with its data (and its log, DIR/server.log) in DIR, exports CAIRN_URL, and waits
# (at most 10 s) until it answers; the server is killed and DIR removed when the script
# exits. Needs a `log` function.
start_release_server() {
    RELEASE_SERVER_DIR=$1
    shift
    : "${CAIRN_BIN:?set CAIRN_BIN to the cairn binary}"
    trap stop_release_server EXIT
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$CAIRN_BIN" serve --bind "127.0.0.1:$port" --no-websocket \
        --data-dir "$RELEASE_SERVER_DIR/data" "$@" > "$RELEASE_SERVER_DIR/server.log" 2>&1 &
    RELEASE_SERVER_PID=$!
    export CAIRN_URL="http://127.0.0.1:$port"
    local _
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null "$CAIRN_URL/v2/openapi.json" && return 0
        sleep 0.1
    done
    log "the server did not answer within 10 s:"
    tail -n 20 "$RELEASE_SERVER_DIR/server.log" >&2
    return 1
}

stop_release_server() {
    if [ -n "${RELEASE_SERVER_PID:-}" ]; then
        kill "$RELEASE_SERVER_PID" 2>/dev/null || true
        wait "$RELEASE_SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "${RELEASE_SERVER_DIR:-}"
}
