#!/usr/bin/env bash
# Make sure the venv that tests/keystone/serve.py runs in exists and has
# requirements.txt installed (Keystone, gunicorn, requests, ...). Quick when it
# already has: the sha256 of requirements.txt is kept in a stamp file.
#
#   tests/keystone/setup.sh
#   "${CAIRN_KEYSTONE_VENV:-$HOME/.cache/cairn/keystone-venv}/bin/python" \
#       tests/keystone/serve.py            # see its docstring
#
# Env: CAIRN_KEYSTONE_VENV (default $HOME/.cache/cairn/keystone-venv, see scripts/cache-paths),
# CAIRN_KEYSTONE_PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$HERE/../../scripts/cache-paths"
VENV="$CAIRN_KEYSTONE_VENV"
PY_BOOT="${CAIRN_KEYSTONE_PYTHON:-python3}"
REQS="$HERE/requirements.txt"

log() { echo "[keystone] $*" >&2; }

# shellcheck source=../venv.sh
. "$HERE/../venv.sh"
ensure_venv "$VENV" "$PY_BOOT" "$REQS" "keystone, gunicorn, requests"
exit 0
