#!/usr/bin/env bash
# Installs Tansu, a Kafka-protocol broker from the Rust registry, for the `kafka_broker`
# integration tests: version 0.6.0 with its SQLite storage engine (`libsql`), into
# $CAIRN_TANSU_ROOT (default ~/.cache/cairn/tansu, see scripts/cache-paths). Does nothing when
# that pin is already built there; a new pin replaces the old build.
#
# It is a test fixture, not something measured: it is built without optimisation or debug
# info (`cargo install --debug`), which takes a third of the time of a release build.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/cache-paths
. "$HERE/../../scripts/cache-paths"
VERSION=0.6.0
FEATURES=libsql
ROOT="$CAIRN_TANSU_ROOT"
STAMP="$ROOT/installed-$VERSION-$FEATURES-debug"
if [ -x "$ROOT/bin/tansu" ] && [ -e "$STAMP" ]; then
    echo "tansu $VERSION ($FEATURES) is installed in $ROOT"
    exit 0
fi
echo "installing tansu $VERSION ($FEATURES) into $ROOT"
BUILD="$ROOT/build"
rm -rf "$BUILD" "$ROOT/bin/tansu" "$ROOT"/installed-*
mkdir -p "$ROOT"
CARGO_PROFILE_DEV_DEBUG=false cargo install tansu --version "$VERSION" --locked \
    --features "$FEATURES" --debug --root "$ROOT" --target-dir "$BUILD" --force
rm -rf "$BUILD"
touch "$STAMP"
