//! What a (possibly hostile) module prints: validated with the kubelet's rules before the kubelet
//! sees it. The first byte picks the expected apiVersion and whether a service-account token must
//! not be echoed; the rest is the module's stdout.
//! Property: never panics; an accepted response re-encodes to one that is accepted again, equal.
#![no_main]

use credential_provider_protocol::response::Expectation;
use credential_provider_protocol::{ApiVersion, Response, Secret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stdout)) = data.split_first() else {
        return;
    };
    let api_version = ApiVersion::ALL[usize::from(selector % 3)];
    let token = Secret::new("fuzz-token");
    let expect = |api_version| Expectation {
        api_version,
        forbidden_token: (selector & 4 != 0).then_some(&token),
    };
    if let Ok(response) = Response::decode(stdout, expect(api_version)) {
        let again = Response::decode(response.to_json().as_bytes(), expect(api_version))
            .expect("an accepted response re-encodes to an accepted one");
        assert_eq!(again, response);
    }
});
