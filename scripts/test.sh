#!/usr/bin/env bash
# Runs every test: the JS/Python SDK and plugin tests, unit tests, the kubelet conformance vectors, property tests, and the
# end-to-end tests that exec the host binary against real wasm guests (built for wasm32-wasip1
# and wasm32-wasip2 by tests/artifacts/build.rs). Ends with one line totalling every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null
# The JavaScript and Python plugins and SDKs: built (pinned toolchains under target/) and their
# native tests run when Node.js with npm and python3 with venv are here; otherwise their
# end-to-end tests skip (CI sets CI_REQUIRE_PLUGINS=1 to make that a failure).
if command -v node >/dev/null && command -v npm >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
  bash scripts/build-plugins.sh --test
else
  echo "test.sh: no Node.js/npm or python3-venv here: the JavaScript and Python plugin tests will skip" >&2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
