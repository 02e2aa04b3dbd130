//! The host's first contact with its stdin: the kubelet's `CredentialProviderRequest`.
//! Property: never panics; whatever decodes re-encodes to bytes that decode to the same request.
#![no_main]

use credential_provider_protocol::Request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::decode(data) {
        let again = Request::decode(&request.to_stdin_bytes())
            .expect("a decoded request re-encodes to a decodable one");
        assert_eq!(again, request);
    }
});
