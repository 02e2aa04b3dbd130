#!/usr/bin/env bash
# Builds every example plugin into target/wasm-plugins/<name>.wasm:
#   - the Rust plugins (example-plugins/*/Cargo.toml) for wasm32-wasip2, in release mode, in the
#     test artifacts' target directory (target/wasm-artifacts), so a test run reuses the build;
#   - token-exchange-js with componentize-js, the npm toolchain pinned by its package-lock.json
#     (installed with `npm ci --ignore-scripts`: no package's install script runs);
#   - token-exchange-py with componentize-py, pinned with hashes in its requirements.txt and
#     installed into a venv under target/py-venv.
#
# Idempotent and quick when nothing changed: each toolchain is reinstalled only when its lock
# file changes, and each JS/Python component is rebuilt only when one of its inputs (sources,
# SDK, WIT, lock files) changes (a digest of them is kept beside the output).
#
# With --test it also runs the native tests of the JS and Python SDKs and plugins (node's test
# runner, pytest from the venv).
#
# Needs cargo with the wasm32-wasip2 target, Node.js >= 20 with npm, and python3 >= 3.11 with
# venv (Debian: nodejs npm python3-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

run_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) run_tests=1 ;;
    *) echo "usage: scripts/build-plugins.sh [--test]" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
out=$target/wasm-plugins
mkdir -p "$out"

say() { echo "build-plugins: $*" >&2; }

# A digest of the given files and of every file under the given directories (names and
# contents), ignoring node_modules and caches.
inputs_digest() {
  find "$@" \( -name node_modules -o -name __pycache__ -o -name .pytest_cache \) -prune \
    -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

# Copies $1 to $2 unless they are already identical (keeps the mtime of an unchanged output).
install_if_changed() {
  if ! cmp -s "$1" "$2"; then
    cp "$1" "$2.tmp" && mv "$2.tmp" "$2"
  fi
}

# --- Rust plugins -----------------------------------------------------------------------------
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
rust_bins=()
cargo_args=()
for manifest in example-plugins/*/Cargo.toml; do
  package=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n1)
  rust_bins+=("$package")
  cargo_args+=(--package "$package")
done
say "cargo: ${rust_bins[*]}"
cargo build --quiet --release --target wasm32-wasip2 --target-dir "$target/wasm-artifacts" "${cargo_args[@]}"
for bin in "${rust_bins[@]}"; do
  install_if_changed "$target/wasm-artifacts/wasm32-wasip2/release/$bin.wasm" "$out/$bin.wasm"
done

# --- JavaScript: token-exchange-js ------------------------------------------------------------
js_dir=example-plugins/token-exchange-js
lock_digest=$(sha256sum "$js_dir/package-lock.json" | cut -d' ' -f1)
stamp=$js_dir/node_modules/.build-plugins-lock
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_digest" ]; then
  say "npm ci in $js_dir"
  (cd "$js_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$lock_digest" >"$stamp"
fi
js_digest=$(inputs_digest "$js_dir" guest-sdk/js)
if [ ! -f "$out/token-exchange-js.wasm" ] || [ "$(cat "$out/.token-exchange-js.inputs" 2>/dev/null)" != "$js_digest" ]; then
  say "componentize-js: token-exchange-js"
  (cd "$js_dir" && node node_modules/credential-provider-sdk/bin/build.js src/main.js -o "$out/token-exchange-js.wasm.new")
  mv "$out/token-exchange-js.wasm.new" "$out/token-exchange-js.wasm"
  echo "$js_digest" >"$out/.token-exchange-js.inputs"
fi

# --- Python: token-exchange-py ----------------------------------------------------------------
py_dir=example-plugins/token-exchange-py
venv=$target/py-venv
req_digest=$(sha256sum "$py_dir/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.build-plugins-requirements" 2>/dev/null)" != "$req_digest" ]; then
  say "pip install -r $py_dir/requirements.txt into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
    --only-binary=:all: -r "$py_dir/requirements.txt"
  echo "$req_digest" >"$venv/.build-plugins-requirements"
fi

# componentize-py needs the WASI 0.2 WIT packages the SDK's world names. They come from the
# `wasip2` crate the Rust SDK depends on (its exact version is pinned in Cargo.lock), so all
# three plugins import the same WASI release.
wasip2_manifest=$(cargo metadata --format-version 1 --filter-platform wasm32-wasip2 |
  python3 -c 'import json, sys
print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "wasip2"))')
wit=$target/wit/python
rm -rf "$wit.new"
mkdir -p "$wit.new/deps"
cp guest-sdk/python/wit/world.wit "$wit.new/world.wit"
cp "$(dirname "$wasip2_manifest")"/wit/deps/*.wit "$wit.new/deps/"
rm -rf "$wit" && mv "$wit.new" "$wit"

py_digest=$(inputs_digest "$py_dir" guest-sdk/python "$wit")
if [ ! -f "$out/token-exchange-py.wasm" ] || [ "$(cat "$out/.token-exchange-py.inputs" 2>/dev/null)" != "$py_digest" ]; then
  say "componentize-py: token-exchange-py"
  "$venv/bin/componentize-py" --quiet -d "$wit" -w plugin componentize \
    -p "$py_dir" -p guest-sdk/python app -o "$out/token-exchange-py.wasm.new"
  mv "$out/token-exchange-py.wasm.new" "$out/token-exchange-py.wasm"
  echo "$py_digest" >"$out/.token-exchange-py.inputs"
fi

ls -l "$out"/*.wasm >&2

# --- Native tests -----------------------------------------------------------------------------
if [ "$run_tests" = 1 ]; then
  say "node --test: guest-sdk/js"
  (cd guest-sdk/js && node --test test/)
  say "node --test: $js_dir"
  (cd "$js_dir" && node --test test/)
  say "pytest: guest-sdk/python"
  (cd guest-sdk/python && "$venv/bin/python" -m pytest -q -p no:cacheprovider)
  say "pytest: $py_dir"
  (cd "$py_dir" && "$venv/bin/python" -m pytest -q -p no:cacheprovider)
fi
