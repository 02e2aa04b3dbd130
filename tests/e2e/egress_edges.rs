//! The edges of the egress policy, tried from the guest side with `raw_requests` (request
//! targets below the SDK, exactly as a hostile guest writes them) and `http_fetch`: path
//! prefixes compare decoded segments, every request counts against `--max-http-requests`
//! whether allowed or not, an IPv4-compatible literal is checked and connected as the IPv4
//! address it is, and the node's proxy settings follow curl's `NO_PROXY` rules and fail only
//! what would use them.

use std::path::Path;

use crate::http_servers::Origin;
use crate::support::*;

/// Runs `raw_requests` against `authority`, sending each target `count` times, with host `args`
/// and no proxy in the environment unless `env` sets one.
fn raw(
    authority: &str,
    count: u32,
    targets: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let module = test_artifacts::guest("raw_requests", Target::P2);
    let count = count.to_string();
    let mut all = vec!["--module", module.to_str().unwrap()];
    for arg in ["http", authority, count.as_str()].iter().chain(targets) {
        all.extend(["--arg", arg]);
    }
    all.extend_from_slice(args);
    let mut environment = vec![("HTTPS_PROXY", ""), ("HTTP_PROXY", ""), ("NO_PROXY", "")];
    environment.extend_from_slice(env);
    exec_program(Path::new(HOST), &all, &v1_request(), &environment)
}

/// The guest's `TARGET=OUTCOME` list.
fn outcomes(out: &Outcome) -> Vec<(String, String)> {
    assert!(out.status.success(), "{}", out.stderr);
    only_credential(&out.json())
        .2
        .split(' ')
        .map(|pair| {
            let (target, outcome) = pair.rsplit_once('=').unwrap();
            (target.to_owned(), outcome.to_owned())
        })
        .collect()
}

fn audit_lines(out: &Outcome) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.contains(": egress denied: "))
        .collect()
}

#[test]
fn encoded_and_ambiguous_paths_never_match_a_prefix() {
    let origin = Origin::http();
    let authority = format!("127.0.0.1:{}", origin.port);
    let escapes = [
        "/ok/..%2fsecret.txt",
        "/ok/..%2Fsecret.txt",
        "/ok/%2e%2e%2fsecret.txt",
        "/ok/%2E%2E/secret.txt",
        "/ok/..%5csecret.txt",
        "/ok/..%5Csecret.txt",
        "/ok/..;/secret.txt",
        "/ok;x=1/../secret.txt",
        "/ok/%252e%252e/secret.txt",
        "/ok/%2e/../secret.txt",
    ];
    let mut targets = vec!["/ok/fine"];
    targets.extend(escapes);
    let out = raw(
        &authority,
        1,
        &targets,
        &[
            &format!("--allow-http=http://{authority}/ok"),
            "--max-http-requests=32",
        ],
        &[],
    );
    let outcomes = outcomes(&out);
    assert_eq!(
        outcomes[0],
        ("/ok/fine".into(), "200".into()),
        "{}",
        out.stderr
    );
    for (target, outcome) in &outcomes[1..] {
        assert!(
            outcome == "error:HttpRequestDenied" || outcome == "error:invalid-target",
            "{target} got {outcome}\n{}",
            out.stderr
        );
    }
    // The server saw the one allowed request and nothing else.
    assert_eq!(origin.received(), ["GET /ok/fine"]);
    assert_eq!(
        audit_lines(&out).len(),
        outcomes
            .iter()
            .filter(|(_, o)| o == "error:HttpRequestDenied")
            .count(),
        "one audit line per refused request:\n{}",
        out.stderr
    );
    out.assert_no_kubelet_secret();
}

#[test]
fn a_backslash_in_the_path_never_matches_a_prefix() {
    // A backslash is not a URI character; whether the guest's wasi:http accepts it as a
    // target or not, it must never reach the server.
    let origin = Origin::http();
    let authority = format!("127.0.0.1:{}", origin.port);
    let out = raw(
        &authority,
        1,
        &["/ok/..\\secret.txt"],
        &[&format!("--allow-http=http://{authority}/ok")],
        &[],
    );
    let outcomes = outcomes(&out);
    assert_ne!(outcomes[0].1, "200", "{}", out.stderr);
    assert!(origin.received().is_empty());
}

#[test]
fn denied_requests_count_and_their_audit_is_bounded() {
    let origin = Origin::http();
    let authority = format!("127.0.0.1:{}", origin.port);
    // 20000 requests the allow-list denies (no --allow-http at all), under the default cap of
    // 16 requests: 16 audit lines, one line for the cap, then silence.
    let out = raw(&authority, 20_000, &["/denied"], &[], &[]);
    let outcomes = outcomes(&out);
    assert_eq!(outcomes[0].1, "error:HttpRequestDenied");
    let audit = audit_lines(&out);
    assert_eq!(audit.len(), 17, "{}", out.stderr);
    assert!(
        audit[16].contains("more than 16 requests in one run"),
        "{}",
        audit[16]
    );
    assert!(
        out.stderr.len() < 8 * 1024,
        "{} bytes of stderr",
        out.stderr.len()
    );
    assert!(origin.received().is_empty());
}

#[test]
fn audit_lines_beyond_the_cap_are_counted_not_written() {
    let origin = Origin::http();
    let authority = format!("127.0.0.1:{}", origin.port);
    let out = raw(
        &authority,
        100,
        &["/denied"],
        &["--max-http-requests=1000"],
        &[],
    );
    let audit = audit_lines(&out);
    assert_eq!(audit.len(), 33, "{}", out.stderr);
    assert!(
        audit[32].ends_with("egress denied: 68 more requests not shown (the first 32 are)"),
        "{}",
        audit[32]
    );
}

#[test]
fn an_ipv4_compatible_literal_is_checked_and_connected_as_ipv4() {
    let origin = Origin::http();
    let port = origin.port;
    // `[::127.0.0.1]` is 127.0.0.1 for the check; the connection goes to 127.0.0.1 too (not to
    // `::7f00:1`, an address nothing listens on).
    let out = raw(
        &format!("[::127.0.0.1]:{port}"),
        1,
        &["/compat"],
        &[&format!("--allow-http=http://127.0.0.1:{port}")],
        &[],
    );
    assert_eq!(outcomes(&out)[0].1, "200", "{}", out.stderr);
    assert_eq!(origin.received(), ["GET /compat"]);
}

#[test]
fn no_proxy_follows_curls_rules() {
    let origin = Origin::http();
    let port = origin.port;
    // The proxy is a closed port: a request that went through it would fail.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_proxy = format!("http://127.0.0.1:{}", dead.local_addr().unwrap().port());
    drop(dead);
    for no_proxy in [
        "127.0.0.0/8",
        "127.0.0.1",
        "*",
        "example.test, 127.0.0.0/24",
    ] {
        let out = raw(
            &format!("127.0.0.1:{port}"),
            1,
            &["/direct"],
            &[&format!("--allow-http=http://127.0.0.1:{port}")],
            &[("HTTP_PROXY", &dead_proxy), ("NO_PROXY", no_proxy)],
        );
        assert_eq!(
            outcomes(&out)[0].1,
            "200",
            "NO_PROXY={no_proxy}\n{}",
            out.stderr
        );
    }
    // Not exempt: through the dead proxy, so it fails.
    let out = raw(
        &format!("127.0.0.1:{port}"),
        1,
        &["/proxied"],
        &[&format!("--allow-http=http://127.0.0.1:{port}")],
        &[("HTTP_PROXY", &dead_proxy), ("NO_PROXY", "10.0.0.0/8, ::1")],
    );
    assert!(outcomes(&out)[0].1.starts_with("error:"), "{}", out.stderr);
    assert_eq!(origin.received().len(), 4);
}

#[test]
fn an_unusable_proxy_fails_only_the_runs_that_send_http() {
    let env = [
        ("HTTPS_PROXY", "socks5://proxy.internal:1080"),
        ("HTTP_PROXY", "socks5://p:1"),
    ];
    // A provider that never sends HTTP runs as if no proxy were set.
    let module = test_artifacts::guest("echo_request", Target::P2);
    let out = exec_program(
        Path::new(HOST),
        &["--module", module.to_str().unwrap()],
        &v1_request(),
        &env,
    );
    assert!(out.status.success(), "{}", out.stderr);
    // One that does is refused that request, with one audit line naming the proxy problem.
    let origin = Origin::http();
    let authority = format!("127.0.0.1:{}", origin.port);
    let out = raw(
        &authority,
        1,
        &["/x"],
        &[&format!("--allow-http=http://{authority}")],
        &env,
    );
    assert!(outcomes(&out)[0].1.starts_with("error:"), "{}", out.stderr);
    let audit = audit_lines(&out);
    assert_eq!(audit.len(), 1, "{}", out.stderr);
    assert!(
        audit[0].contains("the proxy is unusable: HTTP_PROXY: only http:// proxies are supported"),
        "{}",
        audit[0]
    );
    assert!(origin.received().is_empty());
}

/// A name whose DNS answer never comes: the run still ends at `--timeout`, because the lookup
/// is abandoned, not waited for (it took 10 s with `--timeout 2s`). The host runs in its own
/// mount namespace whose `/etc/resolv.conf` names a loopback server that never answers; that
/// needs root and `unshare`, so elsewhere the test says it did not run.
#[test]
fn a_name_lookup_that_never_answers_ends_at_the_deadline() {
    let Ok(silent) = std::net::UdpSocket::bind("127.0.0.153:53") else {
        eprintln!("cannot bind a DNS port (not root?): skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.153\noptions timeout:30 attempts:3\n",
    )
    .unwrap();
    let probe = std::process::Command::new("unshare")
        .args(["--mount", "--", "sh", "-c"])
        .arg(format!(
            "mount --bind {} /etc/resolv.conf",
            resolv.display()
        ))
        .status();
    if !probe.is_ok_and(|status| status.success()) {
        eprintln!("cannot make a mount namespace (unshare --mount): skipped");
        return;
    }
    let module = precompiled_guest("raw_requests", Target::P2, dir.path());
    let script = format!(
        "mount --bind {} /etc/resolv.conf && exec \"$@\"",
        resolv.display()
    );
    let name = "never-answers.example";
    let out = exec_program(
        Path::new("unshare"),
        &[
            "--mount",
            "--",
            "sh",
            "-c",
            &script,
            "sh",
            HOST,
            "--module",
            module.to_str().unwrap(),
            "--allow-precompiled",
            "--timeout",
            "2s",
            "--allow-http",
            &format!("http://{name}/"),
            "--arg",
            "http",
            "--arg",
            name,
            "--arg",
            "1",
            "--arg",
            "/",
        ],
        &v1_request(),
        &[("HTTPS_PROXY", ""), ("HTTP_PROXY", ""), ("NO_PROXY", "")],
    );
    // The query did reach the silent server, so the lookup really was pending.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    assert!(silent.recv_from(&mut buf).is_ok(), "no DNS query arrived");
    out.assert_refused(
        "raw_requests",
        "guest did not finish within the 2s time limit",
    );
    assert!(
        out.elapsed < std::time::Duration::from_secs(5),
        "ran {:?}",
        out.elapsed
    );
}
