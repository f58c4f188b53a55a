#!/usr/bin/env bash
# Builds the fuzz targets (cargo fuzz, libFuzzer, coverage-instrumented) and runs each for a
# bounded time, two at a time (one per core), from the committed seed corpus; first replays
# every input of fuzz/regressions, where each crash found so far is kept.
#
#   fuzz/run.sh [SECONDS] [TARGET...]    default: 30 seconds, every target
#
# New corpus entries go to a temporary folder, never into the repository. A crash, a panic,
# a timeout (10 s for one input) or memory past 2 GB fails the run; its input is kept in
# test-artifacts/fuzz/ with the command that replays it. The end is a table: executions,
# executions per second, coverage (edges, features) and corpus size per target, and a line
# `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../scripts/cache-paths
. scripts/cache-paths
bash fuzz/setup.sh
export PATH="$CAIRN_CARGO_FUZZ/bin:$PATH"

SECONDS_EACH=${1:-30}
shift || true
mapfile -t ALL < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^cairn-fuzz$')
TARGETS=("${@:-${ALL[@]}}")
if [ $# -eq 0 ]; then TARGETS=("${ALL[@]}"); fi

# The fuzz package resolves its dependencies from the main package's lock file: a copy made
# afresh on every run (not committed), to which cargo adds the fuzzer's own crates.
cp Cargo.lock fuzz/Cargo.lock
cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
# The build is optimized, with debug assertions and overflow checks, and without a sanitizer:
# Cairn forbids unsafe code, and the instrumentation stays cheap enough for stable Rust.
cargo fuzz build --sanitizer none --release --debug-assertions
BIN="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
ARTIFACTS="test-artifacts/fuzz"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$ARTIFACTS"

failed=0
passed=0
# Every input that once crashed a target must pass it now.
for dir in fuzz/regressions/*/; do
    [ -d "$dir" ] || continue
    target=$(basename "$dir")
    mapfile -t inputs < <(find "$dir" -type f | sort)
    [ ${#inputs[@]} -gt 0 ] || continue
    if "$BIN/$target" "${inputs[@]}" > "$WORK/regressions-$target.log" 2>&1; then
        echo "regressions of $target: ${#inputs[@]} inputs pass"
        passed=$((passed + 1))
    else
        echo "regressions of $target: FAILED"
        tail -40 "$WORK/regressions-$target.log"
        failed=$((failed + 1))
    fi
done

# run TARGET: one bounded fuzzing run, its log in $WORK/TARGET.log.
run() {
    local target=$1
    mkdir -p "$WORK/corpus/$target"
    "$BIN/$target" "$WORK/corpus/$target" "fuzz/corpus/$target" \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -dict=fuzz/zaqar.dict -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$target-" > "$WORK/$target.log" 2>&1
}

declare -A STATUS
pids=()
names=()
for target in "${TARGETS[@]}"; do
    run "$target" &
    pids+=($!)
    names+=("$target")
    if [ ${#pids[@]} -eq 2 ]; then
        for i in "${!pids[@]}"; do
            status=0
            wait "${pids[$i]}" || status=$?
            STATUS[${names[$i]}]=$status
        done
        pids=()
        names=()
    fi
done
for i in "${!pids[@]}"; do
    status=0
    wait "${pids[$i]}" || status=$?
    STATUS[${names[$i]}]=$status
done

echo
printf '%-18s %8s %12s %10s %8s %8s %8s  %s\n' target seconds executions exec/s edges features corpus result
for target in "${TARGETS[@]}"; do
    log="$WORK/$target.log"
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    edges=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$done_line")
    features=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$done_line")
    corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$done_line")
    if [ "${STATUS[$target]}" -eq 0 ]; then
        result=passed
        passed=$((passed + 1))
    else
        result="FAILED (exit ${STATUS[$target]})"
        failed=$((failed + 1))
    fi
    printf '%-18s %8s %12s %10s %8s %8s %8s  %s\n' "$target" "$SECONDS_EACH" "${execs:-?}" \
        "${rate:-?}" "${edges:-?}" "${features:-?}" "${corpus:-?}" "$result"
done
for target in "${TARGETS[@]}"; do
    if [ "${STATUS[$target]}" -ne 0 ]; then
        echo
        echo "== $target failed; its log ends:"
        tail -40 "$WORK/$target.log"
        echo "The input is in $ARTIFACTS/$target-*; replay it with"
        echo "  $BIN/$target $ARTIFACTS/$target-<file>"
        echo "and once fixed, keep it in fuzz/regressions/$target/."
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
