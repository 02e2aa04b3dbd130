#!/usr/bin/env bash
# Builds the host binary that ships to nodes, with the `dist` profile (fat LTO, one codegen
# unit, stripped). When the x86_64-unknown-linux-musl target and musl-gcc are installed
# (`rustup target add x86_64-unknown-linux-musl`, Debian's musl-tools) the binary is static and
# not position-independent: nothing for the dynamic loader to do at exec (jemalloc replaces musl's
# allocator there, see host/Cargo.toml). Otherwise it is a glibc build. Prints the path and size of what it built.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -qx "$target" && command -v musl-gcc >/dev/null; then
    RUSTFLAGS="-C relocation-model=static -C target-feature=+crt-static" \
        cargo build --profile dist -p wasm-credential-provider --target "$target"
    out="target/$target/dist/wasm-credential-provider"
else
    echo "build-dist: $target or musl-gcc missing; building for glibc" >&2
    cargo build --profile dist -p wasm-credential-provider
    out="target/dist/wasm-credential-provider"
fi
size=$(stat -c %s "$out")
echo "$out: $((size / 1024 / 1024)).$(( (size % (1024 * 1024)) * 10 / 1024 / 1024 )) MiB ($size bytes)"
file "$out" 2>/dev/null || true
