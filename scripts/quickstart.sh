#!/usr/bin/env bash
# Sets up a machine, builds the host and the static-credentials example plugin, and answers one
# sample kubelet request through the sandbox, exactly as the kubelet would exec it.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null
cargo build -p wasm-credential-provider
cargo build --release -p static-credentials --target wasm32-wasip2

request='{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"registry.example.com/team/app"}'
echo "request:  $request" >&2
echo -n "response: " >&2
echo "$request" |
  REGISTRY_USERNAME=robot REGISTRY_PASSWORD=example-password \
  target/debug/wasm-credential-provider \
    --module target/wasm32-wasip2/release/static-credentials.wasm \
    --env REGISTRY_USERNAME --env REGISTRY_PASSWORD \
    --arg --cache-duration --arg 10m
