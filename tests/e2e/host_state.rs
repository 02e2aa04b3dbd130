//! Guests that make the host hold state for them outside their own linear memory (unsent
//! request bodies, header fields, bare handles), with no `--allow-http`: each is stopped at the
//! host-state budget or the handle cap with its own message, and the host's peak resident
//! memory stays within the documented bound (docs/security.md).

use crate::support::*;

/// The guest's `--memory` in these runs.
const MEMORY: &str = "8Mi";
/// Documented bound on the host's peak RSS: `--memory` plus the host-state budget (here
/// 16 MiB + one 4 MiB response) plus a fixed overhead, which in this unoptimised test build
/// includes compiling the guest. Without the budget these runs reached 2.4-4.1 GB.
const PEAK_RSS_BOUND: u64 = (8 + 20 + 160) << 20;

/// Runs the hoarding guest in `mode` and returns what happened and the host's peak RSS.
fn hoard(mode: &str, count: &str, bytes: &str) -> (Outcome, u64) {
    let module = test_artifacts::guest("hoard_host_state", Target::P2);
    let out = exec_with_stats(
        &[
            "--module",
            module.to_str().unwrap(),
            "--memory",
            MEMORY,
            "--arg",
            mode,
            "--arg",
            count,
            "--arg",
            bytes,
        ],
        &v1_request(),
    );
    let rss = stats_field(&out, "host-peak-rss-bytes")
        .parse()
        .expect("a number of bytes");
    (out, rss)
}

fn assert_stopped(out: &Outcome, rss: u64, needle: &str) {
    assert!(
        !out.status.success(),
        "the hoarder got through:\n{}",
        out.stdout
    );
    assert_eq!(out.stdout, "");
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("wasm-credential-provider: hoard_host_state: ") && last.contains(needle),
        "expected {needle:?} in the last line of:\n{}",
        out.stderr
    );
    assert!(
        rss < PEAK_RSS_BOUND,
        "peak RSS {} MiB is past the bound of {} MiB",
        rss >> 20,
        PEAK_RSS_BOUND >> 20
    );
}

#[test]
fn unsent_request_bodies_are_bounded_by_the_host_state_budget() {
    // 4000 bodies of 1 MiB each: 4.1 GB of host memory before the budget.
    let (out, rss) = hoard("bodies", "4000", "1048576");
    assert_stopped(
        &out,
        rss,
        "guest made the host hold more than 20 MiB for it",
    );
}

#[test]
fn header_fields_are_bounded_by_the_host_state_budget() {
    // 40000 field sets of 60 KB each: 2.4 GB before.
    let (out, rss) = hoard("fields", "40000", "60000");
    assert_stopped(
        &out,
        rss,
        "guest made the host hold more than 20 MiB for it",
    );
}

#[test]
fn bare_handles_are_capped_by_count() {
    let (out, rss) = hoard("handles", "100000", "0");
    assert_stopped(
        &out,
        rss,
        "guest held more than 4096 resource handles at once",
    );
}

/// What a real plugin does (a few requests' worth of fields and bodies) stays well inside the
/// budget: the bound does not get in the way.
#[test]
fn a_modest_guest_is_not_stopped() {
    for (mode, count, bytes) in [
        ("fields", "200", "2000"),
        ("bodies", "4", "65536"),
        ("handles", "1000", "0"),
    ] {
        let (out, _) = hoard(mode, count, bytes);
        let response = out.json();
        let (_, user, _) = only_credential(&response);
        assert_eq!(user, "hoarder", "{mode}");
    }
}
