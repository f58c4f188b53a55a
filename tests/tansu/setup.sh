#!/usr/bin/env bash
# Installs Tansu, a Kafka-protocol broker from the Rust registry, for tests/kafka_broker.rs:
# version 0.6.0 with its SQLite storage engine (`libsql`), into ~/.cache/cairn-tansu (or
# CAIRN_TANSU_ROOT). Does nothing when that build is already there. The first build takes
# about 15 minutes on 2 cores.
set -euo pipefail
VERSION=0.6.0
ROOT="${CAIRN_TANSU_ROOT:-$HOME/.cache/cairn-tansu}"
STAMP="$ROOT/installed-$VERSION-libsql"
if [ -x "$ROOT/bin/tansu" ] && [ -e "$STAMP" ]; then
    exit 0
fi
echo "installing tansu $VERSION (libsql) into $ROOT"
cargo install tansu --version "$VERSION" --locked --features libsql --root "$ROOT" \
    --target-dir "${CARGO_TARGET_DIR_TANSU:-$ROOT/target}" --force
rm -rf "${CARGO_TARGET_DIR_TANSU:-$ROOT/target}"
touch "$STAMP"
