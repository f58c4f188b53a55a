#!/usr/bin/env bash
# Installs cargo-fuzz (pinned) under $CAIRN_CARGO_FUZZ, once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../scripts/cache-paths
. scripts/cache-paths
VERSION=0.13.2
if [ "$("$CAIRN_CARGO_FUZZ/bin/cargo-fuzz" --version 2>/dev/null)" = "cargo-fuzz $VERSION" ]; then
    exit 0
fi
echo "installing cargo-fuzz $VERSION into $CAIRN_CARGO_FUZZ"
# Its own build folder: the shared one may be in use by a build of Cairn.
CARGO_TARGET_DIR="$CAIRN_CACHE/cargo-fuzz-build" \
    cargo install cargo-fuzz --version "$VERSION" --locked --root "$CAIRN_CARGO_FUZZ"
rm -rf "$CAIRN_CACHE/cargo-fuzz-build"
