#!/usr/bin/env bash
# Runs every test: unit tests, the kubelet conformance vectors, and the end-to-end tests that exec
# the host binary against real wasm guests (built for wasm32-wasip1 and wasm32-wasip2 by
# tests/artifacts/build.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null
cargo test --workspace "$@"
