//! Guests that exhaust a resource: time (spinning or blocked), memory, output. Each is stopped
//! at its limit and reported as such.

use std::time::Duration;

use crate::support::*;

/// Generous bound on how long past its timeout a stopped guest may take to be reported (engine
/// start-up and compilation on a busy machine included). Not a performance target: it only
/// catches a limit that does not hold at all (the guests below never end on their own).
const MARGIN: Duration = Duration::from_secs(20);

fn assert_stopped_at_timeout(guest: &str) {
    let dir = tempfile::tempdir().unwrap();
    for target in Target::ALL {
        let module = precompiled_guest(guest, target, dir.path());
        let out = exec(
            &[
                "--module",
                module.to_str().unwrap(),
                "--allow-precompiled",
                "--timeout",
                "1s",
            ],
            &v1_request(),
        );
        out.assert_refused(guest, "guest did not finish within the 1s time limit");
        assert!(
            out.elapsed < Duration::from_secs(1) + MARGIN,
            "{guest} on {target} ran {:?}",
            out.elapsed
        );
        assert!(
            out.elapsed >= Duration::from_secs(1),
            "stopped before its time"
        );
    }
}

#[test]
fn spinning_guest_is_stopped_at_the_timeout() {
    assert_stopped_at_timeout("loop_forever");
}

#[test]
fn sleeping_guest_is_stopped_at_the_timeout() {
    assert_stopped_at_timeout("sleep_forever");
}

#[test]
fn guest_reading_stdin_forever_is_stopped_at_the_timeout() {
    assert_stopped_at_timeout("read_stdin_forever");
}

#[test]
fn memory_growth_past_the_limit_is_stopped() {
    for target in Target::ALL {
        let out = exec_guest("grow_memory", target, &["--memory", "16Mi"], &v1_request());
        out.assert_refused("grow_memory", "guest exceeded the 16 MiB memory limit");
        assert!(!out.stdout.contains("ESCAPED"));
    }
}

#[test]
fn stdout_flood_is_stopped_at_the_cap() {
    for target in Target::ALL {
        let out = exec_guest(
            "flood_stdout",
            target,
            &["--max-output", "64Ki"],
            &v1_request(),
        );
        out.assert_refused("flood_stdout", "guest wrote more than 64 KiB to stdout");
    }
}

#[test]
fn stderr_flood_is_stopped_at_the_cap() {
    for target in Target::ALL {
        let out = exec_guest("flood_stderr", target, &[], &v1_request());
        out.assert_refused("flood_stderr", "guest wrote more than 64 KiB to stderr");
        // What was forwarded stays within the cap (plus the per-line prefix).
        assert!(
            out.stderr.len() < 80 * 1024,
            "{} bytes forwarded",
            out.stderr.len()
        );
    }
}

/// 64 KiB of empty lines under a long provider name became 13 MB of host log; the host's own
/// output is capped too, with one line saying what was left out. Lines that try to break,
/// reorder or disguise the log arrive as one line each, those characters replaced.
#[test]
fn guest_stderr_cannot_flood_or_forge_the_host_log() {
    let dir = tempfile::tempdir().unwrap();
    for target in Target::ALL {
        let name = "p".repeat(200);
        let module = dir.path().join(format!("{name}.wasm"));
        std::fs::copy(test_artifacts::guest("flood_stderr", target), &module).unwrap();
        let module = module.to_str().unwrap();
        let out = exec(&["--module", module, "--arg", "newlines"], &v1_request());
        assert!(!out.status.success());
        assert!(
            out.stderr.len() < 130 * 1024,
            "{} bytes of host log",
            out.stderr.len()
        );
        assert!(
            out.stderr.contains(
                "more lines of guest stderr not shown (at most 128 KiB of guest log per run)"
            ),
            "{}",
            &out.stderr[out.stderr.len().saturating_sub(600)..]
        );
        let out = exec_guest("flood_stderr", target, &["--arg", "forge"], &v1_request());
        out.assert_refused("flood_stderr", "guest exited with status 1");
        let forwarded: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("[flood_stderr] "))
            .collect();
        assert_eq!(
            forwarded,
            [
                "[flood_stderr] one\u{fffd}wasm-credential-provider: p: forged\u{fffd}two\u{fffd}three\u{fffd}four\u{fffd}"
            ],
            "{}",
            out.stderr
        );
    }
}

#[test]
fn panicking_guest_is_reported_with_its_message() {
    for target in Target::ALL {
        let out = exec_guest("panic", target, &[], &v1_request());
        out.assert_refused("panic", "guest trapped");
        assert!(
            out.stderr
                .contains("[panic] deliberate panic from test guest"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn trapping_guest_is_reported() {
    for target in Target::ALL {
        let out = exec_guest("trap", target, &[], &v1_request());
        out.assert_refused(
            "trap",
            "guest trapped: wasm `unreachable` instruction executed",
        );
    }
}

#[test]
fn oversized_request_is_refused() {
    let mut huge = vec![b' '; 100 * 1024 * 1024];
    huge.extend_from_slice(&v1_request());
    let out = exec_guest("echo_request", Target::P1, &[], &huge);
    out.assert_refused("echo_request", "request is larger than 1 MiB");
}

#[test]
fn limit_options_are_checked_at_start_up() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--timeout", "60s"],
            "must be below the kubelet's 1m0s plugin timeout",
        ),
        (&["--timeout", "0s"], "--timeout"),
        (&["--timeout", "10"], "missing unit"),
        (&["--memory", "lots"], "--memory"),
        (&["--memory", "100Ki"], "--memory must be between"),
        (&["--max-output", "0"], "--max-output must be positive"),
        (&["--sha256", "abc"], "--sha256"),
        (&["--env", "=x"], "--env"),
        (&["--bogus"], "unexpected argument '--bogus'"),
    ];
    for (args, needle) in cases {
        let out = exec_guest("echo_request", Target::P1, args, &v1_request());
        out.assert_refused("echo_request", needle);
        assert_eq!(out.status.code(), Some(2), "usage errors exit 2: {args:?}");
    }
}

/// Peak RSS any single exec may reach in the concurrency test below: the host (a debug build in
/// tests; a release build stays near 11 MiB) plus what a small guest touches. The guest's own
/// linear memory is capped separately by `--memory`.
const PER_EXEC_RSS_BUDGET_KIB: u64 = 96 * 1024;

#[test]
fn sixty_four_concurrent_execs_answer_correctly_within_the_memory_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = test_artifacts::guest("echo_request", Target::P2);
    let module = module.to_str().unwrap();
    let cache_arg = cache.to_str().unwrap();
    // Warm the cache once, so the 64 execs measure the steady state.
    exec(
        &["--module", module, "--cache-dir", cache_arg],
        &v1_request(),
    )
    .json();
    let time = std::path::Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "GNU time (Debian package `time`) measures each exec's peak RSS"
    );
    let results: Vec<(Outcome, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let tmp = tmp.path();
                scope.spawn(move || {
                    let rss_file = tmp.join(format!("rss-{i}"));
                    let image = format!("r.io/team/app{i}");
                    let out = exec_program(
                        time,
                        &[
                            "-f",
                            "%M",
                            "-o",
                            rss_file.to_str().unwrap(),
                            HOST,
                            "--module",
                            module,
                            "--cache-dir",
                            cache_arg,
                        ],
                        &request(V1, &image),
                        &[],
                    );
                    let rss: u64 = std::fs::read_to_string(&rss_file)
                        .unwrap()
                        .lines()
                        .last()
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    (out, rss)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (out, rss)) in results.iter().enumerate() {
        let (key, _, seen) = only_credential(&out.json());
        assert_eq!(
            key,
            format!("r.io/team/app{i}"),
            "each exec answered its own request"
        );
        assert_eq!(seen.as_bytes(), request(V1, &key).as_slice());
        assert!(
            *rss <= PER_EXEC_RSS_BUDGET_KIB,
            "exec {i} peaked at {rss} KiB, over the {PER_EXEC_RSS_BUDGET_KIB} KiB budget"
        );
    }
}
