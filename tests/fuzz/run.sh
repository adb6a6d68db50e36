#!/usr/bin/env bash
# Runs fuzz targets (default: all four) for SECONDS (default 600) from the committed seeds, two at a time,
# and prints each libFuzzer summary line (executions, crashes). Needs nightly Rust and
# `cargo install cargo-fuzz`. Crashing inputs land in tests/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(nifti idx cifar slices)
cargo +nightly fuzz build --fuzz-dir tests/fuzz -O
logs=${FUZZ_LOGS:-$(mktemp -d)}
run() {
    local target=$1
    mkdir -p "tests/fuzz/corpus/$target"
    cargo +nightly fuzz run --fuzz-dir tests/fuzz -O "$target" "tests/fuzz/corpus/$target" "tests/fuzz/seeds/$target" \
        -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 >"$logs/$target.log" 2>&1 || echo "$target: FAILED (see $logs/$target.log)"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[i]}" &
    if ((i + 1 < ${#targets[@]})); then run "${targets[i + 1]}" & fi
    wait
done
for target in "${targets[@]}"; do
    echo "$target: $(grep -E '^Done [0-9]+ runs' "$logs/$target.log" || echo 'no summary line') | crash files: $(ls "tests/fuzz/artifacts/$target" 2>/dev/null | wc -l)"
done
echo "logs: $logs"
