#!/usr/bin/env bash
# Runs every test: unit tests, the kubelet conformance vectors, property tests, and the
# end-to-end tests that exec the host binary against real wasm guests (built for wasm32-wasip1
# and wasm32-wasip2 by tests/artifacts/build.rs). Ends with one line totalling every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
