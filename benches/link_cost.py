#!/usr/bin/env python3
"""Link-cost benchmark: does linking more code into the host (the OCI registry client and the
Sigstore verifier, used only by push/pull/verify-bundle) slow the run mode the kubelet execs?

Runs two host binaries, BEFORE and AFTER, interleaved (ABAB...) so drift in machine load hits
both alike: the run mode answering a request from a warm compile cache (the kubelet's common
case), and `--version` (binary start alone: exec, dynamic loading, relocations, clap). Prints
median, p95 and mean per binary and the AFTER/BEFORE ratio of medians, plus file sizes.

Usage: python3 benches/link_cost.py BEFORE AFTER MODULE [--runs 300]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REQUEST = (
    b'{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1",'
    b'"image":"registry.example.com/team/app"}\n'
)
ENV = {"PATH": "/usr/bin:/bin", "REGISTRY_USERNAME": "robot", "REGISTRY_PASSWORD": "pw"}


def timed(argv, stdin):
    start = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=ENV)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {argv}\n{proc.stderr.decode(errors='replace')}")
    return elapsed


def summary(samples):
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return statistics.median(ordered) * 1e3, p95 * 1e3, statistics.mean(ordered) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("module")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        for label, binary in (("before", args.before), ("after", args.after)):
            cache = os.path.join(tmp, label)
            run = [binary, "--module", args.module, "--cache-dir", cache,
                   "--env=REGISTRY_USERNAME", "--env=REGISTRY_PASSWORD"]
            timed(run, REQUEST)  # fills the cache
            cases[label] = {"run (warm cache)": (run, REQUEST), "--version": ([binary, "--version"], b"")}
        samples = {(label, name): [] for label in cases for name in cases[label]}
        for _ in range(args.runs):
            for name in cases["before"]:
                for label in ("before", "after"):
                    argv, stdin = cases[label][name]
                    samples[(label, name)].append(timed(argv, stdin))
    print(f"{'binary':8} {'case':18} {'median ms':>10} {'p95 ms':>8} {'mean ms':>8}")
    for (label, name), values in samples.items():
        median, p95, mean = summary(values)
        print(f"{label:8} {name:18} {median:10.2f} {p95:8.2f} {mean:8.2f}")
    for name in cases["before"]:
        ratio = summary(samples[("after", name)])[0] / summary(samples[("before", name)])[0]
        print(f"after/before median, {name}: {ratio:.3f}")
    for label, binary in (("before", args.before), ("after", args.after)):
        print(f"{label}: {os.path.getsize(binary) / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
