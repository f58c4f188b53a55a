#!/usr/bin/env bash
# Makes sure the venv schemathesis runs in exists and holds requirements.txt, at
# $CAIRN_SCHEMATHESIS_VENV (default ~/.cache/cairn/schemathesis-venv, see
# scripts/cache-paths). Quick when it already does.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$HERE/../../scripts/cache-paths"
log() { echo "[openapi] $*" >&2; }
# shellcheck source=../venv.sh
. "$HERE/../venv.sh"
ensure_venv "$CAIRN_SCHEMATHESIS_VENV" "${CAIRN_E2E_PYTHON:-python3}" "$HERE/requirements.txt" \
    "schemathesis"
