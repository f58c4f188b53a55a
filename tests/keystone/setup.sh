#!/usr/bin/env bash
# Make sure the venv that tests/keystone/serve.py runs in exists and has
# requirements.txt installed (Keystone, gunicorn, requests, ...). Quick when it
# already has: the sha256 of requirements.txt is kept in a stamp file.
#
#   tests/keystone/setup.sh
#   "${CAIRN_KEYSTONE_VENV:-$HOME/.cache/cairn-keystone/venv}/bin/python" \
#       tests/keystone/serve.py            # see its docstring
#
# Env: CAIRN_KEYSTONE_VENV (default $HOME/.cache/cairn-keystone/venv),
# CAIRN_KEYSTONE_PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${CAIRN_KEYSTONE_VENV:-$HOME/.cache/cairn-keystone/venv}"
PY_BOOT="${CAIRN_KEYSTONE_PYTHON:-python3}"
REQS="$HERE/requirements.txt"

log() { echo "[keystone] $*" >&2; }

if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating venv at $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PY_BOOT" -m venv "$VENV"
fi
STAMP="$VENV/.cairn-keystone-requirements.sha256"
WANT="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ] \
   || ! "$VENV/bin/python" -c 'import keystone, gunicorn, requests' >/dev/null 2>&1; then
    log "installing $REQS"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
    echo "$WANT" > "$STAMP"
fi
exit 0
