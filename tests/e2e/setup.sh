#!/usr/bin/env bash
# Makes sure the venv the end-to-end tests run in exists and holds requirements.txt
# (python-zaqarclient and what the tests use), at $CAIRN_E2E_VENV (default
# ~/.cache/cairn/e2e-venv, see scripts/cache-paths). Quick when it already does: the sha256
# of requirements.txt is kept in a stamp file. Env: CAIRN_E2E_PYTHON (interpreter that
# creates the venv, default python3).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$HERE/../../scripts/cache-paths"
log() { echo "[e2e] $*" >&2; }
# shellcheck source=../venv.sh
. "$HERE/../venv.sh"
ensure_venv "$CAIRN_E2E_VENV" "${CAIRN_E2E_PYTHON:-python3}" "$HERE/requirements.txt" \
    "zaqarclient.queues.client, websocket, aiosmtpd"
