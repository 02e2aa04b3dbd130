#!/usr/bin/env python3
"""Cold-start benchmark: the kubelet execs a credential provider on every cache miss, so the cost
of one exec is what users feel.

Compares, on the same request, a native build of a plugin, the host with a warm compile cache,
and the host compiling the module from scratch; for the static-credentials plugin and, when the
HTTP example guest exists, a plugin doing one HTTP request to a loopback server. For each: median
and p95 wall time over N execs, and peak RSS. Writes a Markdown table to docs/benchmarks.md
(between the BEGIN/END markers) and prints it.

With --dist it also builds the shipping binary (scripts/build-dist.sh: fat LTO, stripped, static
musl when available) and measures it beside the release build.

A second table (its own BEGIN/END markers) compares the token-exchange plugin in its three
languages (Rust, JavaScript, Python; built by scripts/build-plugins.sh): module size, cold compile
time and peak RSS, warm exec (cache) time and peak RSS, beside the same logic run natively (the
Rust plugin's native build, Node.js, CPython). --only-languages measures just that table.

A third table (its own markers) is the compile path: on the static-credentials plugin, with
the native build interleaved exec by exec, a warm exec, the first exec after `install` (a fresh
cache filled by `compile --cache-dir`, which is what install runs), a sealed `.cwasm` loaded
with --allow-precompiled, and 16 concurrent cold execs on one empty cache (wall and CPU, beside
one cold exec's). --only-compile-path measures just that table.

Usage: python3 benches/cold_start.py [--runs 50] [--no-build] [--dist] [--only-languages]
       [--only-compile-path]
"""

import argparse
import http.server
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
HOST = TARGET / "release" / "wasm-credential-provider"
# What scripts/build-dist.sh builds (static musl when it can, else glibc), if it was run.
DIST_HOSTS = [TARGET / "x86_64-unknown-linux-musl" / "dist" / "wasm-credential-provider",
              TARGET / "dist" / "wasm-credential-provider"]
REQUEST = (
    b'{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1",'
    b'"image":"registry.example.com/team/app"}\n'
)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- BEGIN cold_start.py -->"
END = "<!-- END cold_start.py -->"


def build():
    run = lambda *a: subprocess.run(a, cwd=ROOT, check=True)
    run("cargo", "build", "--release", "-p", "wasm-credential-provider")
    run("cargo", "build", "--release", "-p", "static-credentials")
    run("cargo", "build", "--release", "--target", "wasm32-wasip2", *PLUGIN_PACKAGES)
    if (ROOT / "tests/guests/src/bin/http_fetch.rs").exists():
        run("cargo", "build", "--release", "-p", "test-guests", "--bin", "http_fetch")
        run("cargo", "build", "--release", "-p", "test-guests", "--bin", "http_fetch",
            "--target", "wasm32-wasip2")


GNU_TIME = "/usr/bin/time"
# The example plugins, compiled to wasm32-wasip2 for the cold-compile table.
PLUGINS = ["static-credentials", "ecr-credential-provider", "auth-provider-gcp",
           "acr-credential-provider"]
PLUGIN_PACKAGES = [arg for name in PLUGINS for arg in ("-p", name)]


def exec_once(argv, env, expect_json=True):
    """One exec like the kubelet's: request on stdin. Returns (seconds, peak RSS KiB).

    The exec goes through GNU time, which reports the plugin's own peak RSS: a child forked
    straight from this Python process would be charged Python's RSS too. The wall time includes
    that small extra fork for every row alike."""
    with tempfile.NamedTemporaryFile("r") as rss_file:
        start = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss_file.name, *argv],
                              input=REQUEST, capture_output=True, env=env)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0 or (expect_json and not proc.stdout.startswith(b"{")):
            sys.exit(f"benchmark exec failed: {argv}\n{proc.stderr.decode(errors='replace')}")
        rss_kib = int(rss_file.read().strip().splitlines()[-1])
    return elapsed, rss_kib


def measure(argv, env, runs, setup=None, expect_json=True):
    times, rss = [], []
    for _ in range(runs):
        if setup:
            setup()
        t, r = exec_once(argv, env, expect_json)
        times.append(t)
        rss.append(r)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, max(rss)


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


LANG_BEGIN = "<!-- BEGIN cold_start.py languages -->"
LANG_END = "<!-- END cold_start.py languages -->"
WASM_PLUGINS = TARGET / "wasm-plugins"
# token-exchange in each language: (row name, module).
LANG_PLUGINS = [("Rust", WASM_PLUGINS / "token-exchange.wasm"),
                ("JavaScript", WASM_PLUGINS / "token-exchange-js.wasm"),
                ("Python", WASM_PLUGINS / "token-exchange-py.wasm")]


class TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """An RFC 8693 token endpoint on loopback: a Content-Length form in, a token out."""

    def do_POST(self):
        length = self.headers.get("Content-Length")
        if length is None or self.headers.get("Transfer-Encoding"):
            self.send_response(411)
            self.end_headers()
            return
        self.rfile.read(int(length))
        body = b'{"access_token":"bench-access","token_type":"Bearer","expires_in":3600}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def build_languages():
    """scripts/build-plugins.sh (every plugin, JS and Python toolchains) and the native builds."""
    subprocess.run(["bash", "scripts/build-plugins.sh"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-p", "wasm-credential-provider",
                    "-p", "token-exchange"], cwd=ROOT, check=True)


def languages_table(hosts, runs):
    """The token-exchange rows: one table per host build, as Markdown lines."""
    missing = [str(path) for _, path in LANG_PLUGINS if not path.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run scripts/build-plugins.sh")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/token"
    guest_args = [f"--endpoint={endpoint}", "--registry=registry.example.com"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "EXCHANGE_TOKEN": "bench-subject"}
    venv_python = TARGET / "py-venv" / "bin" / "python"
    natives = {
        "Rust": [str(TARGET / "release" / "token-exchange"), *guest_args],
        "JavaScript": ["node", "--input-type=module", "-e",
                       "import { handle } from 'credential-provider-sdk';"
                       "import { provide } from './src/exchange.js';"
                       "const chunks = []; for await (const c of process.stdin) chunks.push(c);"
                       "try { console.log(await handle(new Uint8Array(Buffer.concat(chunks)), provide,"
                       " { args: process.argv.slice(1), env: process.env })); }"
                       "catch (e) { console.error(`error: ${e.message}`); process.exit(1); }",
                       "--", *guest_args],
        "Python": [str(venv_python), "-c",
                   "import sys; sys.path[:0] = ['.', '../../guest-sdk/python'];"
                   "import credential_provider_sdk as s; from token_exchange import provide;"
                   "sys.exit(s.main(provide))", *guest_args],
    }
    native_cwd = {"Rust": ROOT, "JavaScript": ROOT / "example-plugins/token-exchange-js",
                  "Python": ROOT / "example-plugins/token-exchange-py"}
    compile_runs = max(3, runs // 10)
    lines = []
    work = Path(tempfile.mkdtemp(prefix="wcp-bench-lang-"))
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    try:
        native_rows = {}
        for name, argv in natives.items():
            cwd = os.getcwd()
            os.chdir(native_cwd[name])
            try:
                native_rows[name] = measure(argv, env, runs)
            finally:
                os.chdir(cwd)
        for kind, binary in hosts:
            lines += ["", f"token-exchange through the host ({kind}), {runs} warm execs and "
                      f"{compile_runs} cold compiles per row:", "",
                      "| language | module | cold compile (median) | compile peak RSS | warm exec "
                      "(median / p95) | warm peak RSS | native (median / p95) | native peak RSS |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- |"]
            for name, module in LANG_PLUGINS:
                out = Path(tempfile.mkdtemp(prefix="wcp-bench-", dir=shm)) / "out.cwasm"
                compile_median, _, compile_rss = measure(
                    [str(binary), "compile", str(module), "-o", str(out)], env, compile_runs,
                    expect_json=False)
                shutil.rmtree(out.parent, ignore_errors=True)
                cache = work / f"cache-{module.stem}-{binary.parent.name}"
                warm = [str(binary), "--module", str(module), "--env", "EXCHANGE_TOKEN",
                        *[f"--arg={a}" for a in guest_args], f"--allow-http={endpoint}",
                        "--memory=32Mi", "--timeout=10s", "--cache-dir", str(cache)]
                exec_once(warm, env)  # fill the cache
                median, p95, rss = measure(warm, env, runs)
                n_median, n_p95, n_rss = native_rows[name]
                lines.append(
                    f"| {name} | {module.stat().st_size / 1024 / 1024:.1f} MiB | "
                    f"{compile_median:.2f} s | {compile_rss / 1024:.0f} MiB | "
                    f"{median * 1000:.1f} / {p95 * 1000:.1f} ms | {rss / 1024:.1f} MiB | "
                    f"{n_median * 1000:.1f} / {n_p95 * 1000:.1f} ms | {n_rss / 1024:.1f} MiB |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.shutdown()
    return [LANG_BEGIN,
            f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores "
            "(`python3 benches/cold_start.py`). Native: the Rust plugin built for the host, the JS "
            "plugin under Node.js, the Python plugin under CPython, same logic and endpoint.",
            *lines, LANG_END]


COMPILE_BEGIN = "<!-- BEGIN cold_start.py compile path -->"
COMPILE_END = "<!-- END cold_start.py compile path -->"


def concurrent_cold(host, module, env, n):
    """n execs at once on one empty cache: (wall seconds, CPU seconds of all of them)."""
    work = Path(tempfile.mkdtemp(prefix="wcp-bench-"))
    try:
        argv = [str(host), "--module", str(module), "--cache-dir", str(work / "cache"),
                "--env", "REGISTRY_USERNAME", "--env", "REGISTRY_PASSWORD"]
        before = os.times()
        start = time.perf_counter()
        procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=env) for _ in range(n)]
        for proc in procs:
            proc.stdin.write(REQUEST)
            proc.stdin.close()
        codes = [proc.wait() for proc in procs]
        wall = time.perf_counter() - start
        after = os.times()
        if any(codes):
            sys.exit(f"concurrent cold exec failed: {codes}")
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        return wall, cpu
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compile_path_table(hosts, runs):
    """The compile-path rows, as Markdown lines."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "REGISTRY_USERNAME": "robot", "REGISTRY_PASSWORD": "bench-password"}
    module = TARGET / "wasm32-wasip2" / "release" / "static-credentials.wasm"
    native = [str(TARGET / "release" / "static-credentials")]
    grants = ["--env", "REGISTRY_USERNAME", "--env", "REGISTRY_PASSWORD"]
    lines = [COMPILE_BEGIN,
             f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores: "
             f"static-credentials, {runs} execs per row, the rows interleaved exec by exec "
             "(`python3 benches/cold_start.py --only-compile-path`).", "",
             "| host | how it runs | median | p95 | peak RSS |", "| --- | --- | --- | --- | --- |"]
    concurrency = ["", "16 execs at once on one empty cache (a node starting many pods), beside "
                   "one cold exec (median of 5 rounds):", "",
                   "| host | what | wall | CPU |", "| --- | --- | --- | --- |"]
    work = Path(tempfile.mkdtemp(prefix="wcp-bench-"))
    try:
        for kind, binary in hosts:
            warm_cache = work / f"warm-{kind}"
            warm = [str(binary), "--module", str(module), *grants, "--cache-dir", str(warm_cache)]
            exec_once(warm, env)
            cwasm = work / f"static-{kind}.cwasm"
            subprocess.run([str(binary), "compile", str(module), "-o", str(cwasm)], check=True,
                           capture_output=True)
            precompiled = [str(binary), "--module", str(cwasm), "--allow-precompiled", *grants]
            rows = {"native plugin": [], "warm exec (cache hit)": [],
                    "first exec after install": [], ".cwasm (--allow-precompiled)": []}
            for i in range(runs):
                rows["native plugin"].append(exec_once(native, env))
                rows["warm exec (cache hit)"].append(exec_once(warm, env))
                fresh = work / f"fresh-{kind}-{i}"
                subprocess.run([str(binary), "compile", str(module), "--cache-dir", str(fresh)],
                               check=True, capture_output=True)
                rows["first exec after install"].append(exec_once(
                    [str(binary), "--module", str(module), *grants, "--cache-dir", str(fresh)], env))
                rows[".cwasm (--allow-precompiled)"].append(exec_once(precompiled, env))
                shutil.rmtree(fresh, ignore_errors=True)
            for label, samples in rows.items():
                times = sorted(t for t, _ in samples)
                p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
                lines.append(f"| {kind} | {label} | {statistics.median(times) * 1000:.2f} ms | "
                             f"{p95 * 1000:.2f} ms | {max(r for _, r in samples) / 1024:.1f} MiB |")
            one, many = [], []
            for _ in range(5):
                one.append(concurrent_cold(binary, module, env, 1))
                many.append(concurrent_cold(binary, module, env, 16))
            for label, samples in [("1 cold exec", one), ("16 cold execs at once", many)]:
                wall = statistics.median(w for w, _ in samples)
                cpu = statistics.median(c for _, c in samples)
                concurrency.append(f"| {kind} | {label} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines + concurrency + [COMPILE_END]


def write_section(begin, end, table):
    """Replaces the text between `begin` and `end` in docs/benchmarks.md (appends if absent)."""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + table + tail
    else:
        text += "\n" + table + "\n"
    DOC.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--dist", action="store_true",
                        help="also build and measure the dist binary (scripts/build-dist.sh)")
    parser.add_argument("--only-languages", action="store_true",
                        help="measure only the token-exchange table (Rust, JavaScript, Python)")
    parser.add_argument("--only-compile-path", action="store_true",
                        help="measure only the compile-path table (install, .cwasm, concurrency)")
    args = parser.parse_args()
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit("this benchmark needs GNU time (Debian package `time`) for peak RSS")
    if args.runs < 50:
        print("note: fewer than 50 runs; p95 is rough", file=sys.stderr)
    if not args.no_build:
        if args.only_compile_path:
            run = lambda *a: subprocess.run(a, cwd=ROOT, check=True)
            run("cargo", "build", "--release", "-p", "wasm-credential-provider", "-p", "static-credentials")
            run("cargo", "build", "--release", "--target", "wasm32-wasip2", "-p", "static-credentials")
        elif args.only_languages:
            build_languages()
        else:
            build()
            build_languages()
        if args.dist:
            subprocess.run(["bash", "scripts/build-dist.sh"], cwd=ROOT, check=True)
    hosts = [("release", HOST)]
    dist = next((h for h in DIST_HOSTS if h.exists()), None)
    if args.dist and dist:
        kind = "dist, static musl" if "musl" in str(dist) else "dist"
        hosts.append((kind, dist))
    if args.only_languages:
        table = "\n".join(languages_table(hosts, args.runs))
        print(table)
        write_section(LANG_BEGIN, LANG_END, table)
        return
    if args.only_compile_path:
        table = "\n".join(compile_path_table(hosts, args.runs))
        print(table)
        write_section(COMPILE_BEGIN, COMPILE_END, table)
        return

    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "REGISTRY_USERNAME": "robot", "REGISTRY_PASSWORD": "bench-password"}
    rows = []
    work = Path(tempfile.mkdtemp(prefix="wcp-bench-"))
    try:
        cases = [(
            "static-credentials",
            [str(TARGET / "release" / "static-credentials")],
            TARGET / "wasm32-wasip2" / "release" / "static-credentials.wasm",
            ["--env", "REGISTRY_USERNAME", "--env", "REGISTRY_PASSWORD"],
            base_env,
        )]
        server = None
        http_wasm = TARGET / "wasm32-wasip2" / "release" / "http_fetch.wasm"
        if http_wasm.exists():
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_address[1]}/token"
            cases.append((
                "one HTTP request (loopback)",
                [str(TARGET / "release" / "http_fetch"), url],
                http_wasm,
                ["--allow-http", f"http://127.0.0.1:{server.server_address[1]}", "--arg", url],
                base_env,
            ))
        for name, native, module, host_args, env in cases:
            results = [("native plugin", measure(native, env, args.runs))]
            for kind, binary in hosts:
                cache = work / f"cache-{module.stem}-{binary.parent.name}"
                host = [str(binary), "--module", str(module), *host_args]
                warm = [*host, "--cache-dir", str(cache)]
                exec_once(warm, env)  # populate the cache
                suffix = "" if kind == "release" else f" ({kind})"
                results += [
                    (f"host{suffix}, warm cache", measure(warm, env, args.runs)),
                    (f"host{suffix}, compiling", measure(host, env, args.runs)),
                ]
            for label, (median, p95, rss) in results:
                rows.append((name, label, median, p95, rss))
        if server:
            server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # Cold compile of every example plugin (the "largest example plugin" is among
    # them): `compile` is the same compilation a cache miss does, without needing the plugin's
    # cloud to answer.
    compiles = []
    plugins = [p for p in (TARGET / "wasm32-wasip2" / "release" / f"{name}.wasm" for name in PLUGINS)
               if p.exists()]
    compile_runs = max(10, args.runs // 5)
    for kind, binary in hosts:
        for plugin in plugins:
            # On tmpfs when there is one, so the row is compiling, not the disk's fsync.
            shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
            out = Path(tempfile.mkdtemp(prefix="wcp-bench-", dir=shm)) / "out.cwasm"
            median, p95, rss = measure([str(binary), "compile", str(plugin), "-o", str(out)],
                                       base_env, compile_runs, expect_json=False)
            shutil.rmtree(out.parent, ignore_errors=True)
            compiles.append((plugin.name, plugin.stat().st_size, kind, median, p95, rss))

    sizes = []
    for name, path in [("host binary (release)", HOST),
                       *[(f"host binary ({kind})", binary) for kind, binary in hosts[1:]],
                       ("static-credentials.wasm", TARGET / "wasm32-wasip2/release/static-credentials.wasm"),
                       ("http_fetch.wasm", TARGET / "wasm32-wasip2/release/http_fetch.wasm")]:
        if path.exists():
            sizes.append(f"| {name} | {path.stat().st_size / 1024 / 1024:.2f} MiB |")

    lines = [
        BEGIN,
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"{args.runs} execs per row (`python3 benches/cold_start.py`).",
        "",
        "| plugin | how it runs | median | p95 | peak RSS |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, label, median, p95, rss in rows:
        lines.append(f"| {name} | {label} | {median * 1000:.2f} ms | {p95 * 1000:.2f} ms | "
                     f"{rss / 1024:.1f} MiB |")
    if compiles:
        lines += ["", f"Cold compile of each example plugin (`compile MODULE -o OUT`: the exec, "
                  f"compiling, serializing and writing the result, {compile_runs} runs each):", "",
                  "| plugin | size | host | median | p95 | peak RSS |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name, size, kind, median, p95, rss in compiles:
            lines.append(f"| {name} | {size / 1024:.0f} KiB | {kind} | {median * 1000:.1f} ms | "
                         f"{p95 * 1000:.1f} ms | {rss / 1024:.1f} MiB |")
    lines += ["", "| file | size |", "| --- | --- |", *sizes, END]
    table = "\n".join(lines)
    print(table)

    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + table + tail
    else:
        text += "\n" + table + "\n"
    DOC.write_text(text)

    table = "\n".join(languages_table(hosts, args.runs))
    print(table)
    write_section(LANG_BEGIN, LANG_END, table)

    table = "\n".join(compile_path_table(hosts, args.runs))
    print(table)
    write_section(COMPILE_BEGIN, COMPILE_END, table)


if __name__ == "__main__":
    main()
