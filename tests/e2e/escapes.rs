//! Guests that try to get out of the sandbox: every attempt must fail inside the guest, and the
//! host must report the failure.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::*;

#[test]
fn guest_cannot_read_host_files() {
    for target in Target::ALL {
        let out = exec_guest("read_files", target, &[], &v1_request());
        out.assert_refused("read_files", "guest exited with status");
        assert!(!out.stdout.contains("ESCAPED"), "{target}");
        assert!(
            out.stderr.contains("[read_files] denied: read /etc/passwd"),
            "{target}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("/proc/self/environ"), "{target}");
        assert!(
            !out.stderr.contains("root:"),
            "{target}: /etc/passwd content leaked"
        );
    }
}

#[test]
fn guest_cannot_connect_to_a_loopback_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    for target in Target::ALL {
        let out = exec_guest("tcp_connect", target, &["--arg", &address], &v1_request());
        out.assert_refused("tcp_connect", "guest exited with status");
        assert!(!out.stdout.contains("ESCAPED"), "{target}");
        assert!(
            out.stderr.contains("[tcp_connect] denied: tcp connect"),
            "{target}: {}",
            out.stderr
        );
    }
    // Nothing ever reached the listener.
    std::thread::sleep(Duration::from_millis(50));
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the listener saw a connection: {other:?}"),
    }
}

#[test]
fn guest_never_sees_the_kubelet_environment() {
    for target in Target::ALL {
        let out = exec_guest("report_env", target, &[], &v1_request());
        let response = out.json();
        let (_, _, report) = only_credential(&response);
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(
            report["env"],
            serde_json::json!([]),
            "{target}: no env without --env"
        );
        assert!(
            !report.to_string().contains(KUBELET_SECRET_NAME),
            "{target}"
        );
        assert!(
            !report.to_string().contains(KUBELET_SECRET_VALUE),
            "{target}"
        );
    }
}

#[test]
fn guest_gets_no_working_directory_to_explore() {
    // wasi-libc reports "/" as the cwd with no preopens; nothing is listable (read_files above).
    let out = exec_guest("report_env", Target::P2, &[], &v1_request());
    let (_, _, report) = only_credential(&out.json());
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert!(report["cwd"].is_null() || report["cwd"] == "/", "{report}");
}
