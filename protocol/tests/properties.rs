//! Property tests: the decoders never panic on any input, and what we encode decodes back to
//! the same value under the kubelet's rules.

use std::collections::BTreeMap;

use credential_provider_protocol::image::normalize_image;
use credential_provider_protocol::matching::{Keyring, normalize_auth_key, urls_match};
use credential_provider_protocol::{
    ApiVersion, AuthConfig, CacheKeyType, Expectation, GoDuration, Request, Response, Secret,
};
use proptest::prelude::*;

fn api_version() -> impl Strategy<Value = ApiVersion> {
    prop::sample::select(ApiVersion::ALL.to_vec())
}

fn cache_key_type() -> impl Strategy<Value = CacheKeyType> {
    prop::sample::select(vec![
        CacheKeyType::Image,
        CacheKeyType::Registry,
        CacheKeyType::Global,
    ])
}

fn response() -> impl Strategy<Value = Response> {
    (
        api_version(),
        cache_key_type(),
        prop::option::of(any::<i64>()),
        prop::collection::btree_map("\\PC{0,20}", ("\\PC{0,12}", "\\PC{0,24}"), 0..4),
    )
        .prop_map(|(api_version, cache_key_type, duration, auth)| Response {
            api_version,
            cache_key_type,
            cache_duration: duration.map(GoDuration::from_nanos),
            auth: auth
                .into_iter()
                .map(|(k, (u, p))| (k, AuthConfig::new(u, Secret::new(p))))
                .collect::<BTreeMap<_, _>>(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn response_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Response::decode(&bytes, Expectation::new(ApiVersion::V1));
    }

    #[test]
    fn response_decode_never_panics_on_json_like_text(text in "[{}\\[\\]\":,a-zA-Z0-9 .\\\\/-]{0,200}") {
        let _ = Response::decode(text.as_bytes(), Expectation::new(ApiVersion::V1Beta1));
    }

    #[test]
    fn encoded_responses_decode_to_themselves(response in response()) {
        let json = response.to_json();
        let decoded = Response::decode(json.as_bytes(), Expectation::new(response.api_version));
        prop_assert_eq!(decoded, Ok(response));
    }

    #[test]
    fn request_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Request::decode(&bytes);
    }

    #[test]
    fn encoded_requests_decode_to_themselves(
        image in "[a-z0-9.:/_-]{1,60}",
        token in prop::option::of("\\PC{1,40}"),
        annotations in prop::collection::btree_map("[a-z./-]{1,20}", "\\PC{0,20}", 0..3),
    ) {
        let mut request = Request::new(ApiVersion::V1, image);
        request.service_account_token = token.map(Secret::new);
        request.service_account_annotations = annotations;
        prop_assert_eq!(Request::decode(&request.to_stdin_bytes()), Ok(request));
    }

    #[test]
    fn go_durations_round_trip(nanos in any::<i64>()) {
        let d = GoDuration::from_nanos(nanos);
        prop_assert_eq!(GoDuration::parse(&d.to_string()), Ok(d));
    }

    #[test]
    fn duration_parse_never_panics(text in "\\PC{0,40}") {
        let _ = GoDuration::parse(&text);
    }

    #[test]
    fn image_normalisation_is_idempotent(reference in "[a-zA-Z0-9.:/@_-]{0,80}") {
        if let Ok(name) = normalize_image(&reference) {
            prop_assert_eq!(normalize_image(&name), Ok(name.clone()));
        }
    }

    #[test]
    fn matching_never_panics(pattern in "\\PC{0,40}", image in "\\PC{0,40}") {
        let _ = urls_match(&pattern, &image);
        let _ = normalize_auth_key(&pattern);
        let mut keyring = Keyring::new();
        keyring.add(&pattern, ());
        let _ = keyring.lookup(&image);
    }

    #[test]
    fn a_plain_host_matches_itself(host in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}", path in "(/[a-z0-9]{1,8}){0,3}") {
        let image = format!("{host}{path}");
        prop_assert!(urls_match(&host, &image));
        prop_assert!(urls_match(&image, &image));
    }
}
