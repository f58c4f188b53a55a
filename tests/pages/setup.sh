#!/usr/bin/env bash
# Makes sure the page tests can run: Debian's Chromium (/usr/bin/chromium, installed with
# apt-get when missing) and playwright-core (tests/pages/package-lock.json) installed with
# npm into $CAIRN_PAGES_NODE (default ~/.cache/cairn/pages-node, see scripts/cache-paths).
# Quick when both are there: the sha256 of the lock file is kept in a stamp file.
# Playwright never downloads a browser of its own here: the tests launch Debian's.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$HERE/../../scripts/cache-paths"
log() { echo "[pages] $*" >&2; }

if ! command -v chromium >/dev/null; then
    log "installing Debian's chromium"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
        fonts-dejavu-core >/dev/null
fi
command -v chromium >/dev/null || { log "chromium is not installed"; exit 1; }

want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
stamp="$CAIRN_PAGES_NODE/.stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -d "$CAIRN_PAGES_NODE/node_modules/playwright-core" ]; then
    exit 0
fi
log "installing playwright-core into $CAIRN_PAGES_NODE"
rm -rf "$CAIRN_PAGES_NODE"
mkdir -p "$CAIRN_PAGES_NODE"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/.npmrc" "$CAIRN_PAGES_NODE/"
(cd "$CAIRN_PAGES_NODE" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
