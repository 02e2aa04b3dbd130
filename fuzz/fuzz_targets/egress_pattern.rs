//! The operator's `--allow-http` and `--resolve` values, and the destinations a guest asks for.
//! Input: `allow \n resolve \n scheme-byte host \n port \n path`.
//! Property: never panics; a destination is allowed only if the pattern parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_credential_provider::policy::egress::{Destination, EgressPolicy, Scheme};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(5, '\n');
    let allow = parts.next().unwrap_or_default().to_owned();
    let resolve = parts.next().unwrap_or_default().to_owned();
    let host = parts.next().unwrap_or_default();
    let port = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let resolve = if resolve.is_empty() { vec![] } else { vec![resolve] };
    let Ok(policy) = EgressPolicy::parse(&[allow], &resolve) else {
        return;
    };
    let scheme = if host.len() % 2 == 0 { Scheme::Https } else { Scheme::Http };
    let dest = Destination {
        scheme,
        host: host.to_ascii_lowercase(),
        port: port.parse().unwrap_or(scheme.default_port()),
        path: path.to_owned(),
    };
    let allowed = policy.allows(&dest);
    assert_eq!(allowed, !policy.matching_rules(&dest).is_empty());
    if let Ok(addr) = host.parse() {
        let _ = policy.address_allowed(&dest, addr);
    }
    let _ = policy.override_for(&dest.host, dest.port);
});
