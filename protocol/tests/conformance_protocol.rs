//! Table tests over the "responses" and "extras.requestEncoding" lists of the shared conformance
//! vectors: each response is run through the kubelet's acceptance pipeline, each request is
//! encoded byte for byte. A case field this test does not understand fails it, so new vectors
//! cannot be skipped silently.

use credential_provider_protocol::{
    ApiVersion, CacheKeyType, Expectation, GoDuration, Request, Response, Secret,
};
use serde_json::Value;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/conformance-vectors.json"
);

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS).expect("read the shared conformance vectors");
    serde_json::from_str(&text).expect("vectors are JSON")
}

/// The kubelet's verdict on one response case: `Ok(Some(response))` accepted, `Ok(None)`
/// discarded before decoding (non-zero exit), `Err` discarded by decoding.
fn kubelet_outcome(case: &Value) -> Result<Option<Response>, String> {
    let api_version: ApiVersion = case["requestApiVersion"]
        .as_str()
        .ok_or("no requestApiVersion")?
        .parse()
        .map_err(|e| format!("{e}"))?;
    let raw = case["raw"].as_str().ok_or("no raw")?;
    let mut token = None;
    let mut token_cache_type = "ServiceAccount";
    if let Some(mode) = case.get("mode") {
        let mode = mode.as_object().ok_or("mode is not an object")?;
        for (key, value) in mode {
            match key.as_str() {
                "exitCode" => {
                    if value.as_i64() != Some(0) {
                        return Ok(None);
                    }
                }
                "serviceAccountToken" => token = value.as_str().map(Secret::new),
                "cacheType" => token_cache_type = value.as_str().ok_or("cacheType")?,
                other => return Err(format!("unknown mode field {other:?}")),
            }
        }
    }
    let forbidden = token.as_ref().filter(|_| token_cache_type != "Token");
    Response::decode(
        raw.as_bytes(),
        Expectation {
            api_version,
            forbidden_token: forbidden,
        },
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

fn check_effect(case: &Value, response: &Response) -> Result<(), String> {
    let Some(effect) = case.get("effect") else {
        return Ok(());
    };
    for (key, value) in effect.as_object().ok_or("effect is not an object")? {
        match key.as_str() {
            "cacheKeyType" => {
                let expected = CacheKeyType::from_wire(value.as_str().unwrap_or_default());
                if Some(response.cache_key_type) != expected {
                    return Err(format!("cacheKeyType {:?}", response.cache_key_type));
                }
            }
            "cacheDuration" | "ttl" => {
                let expected = GoDuration::parse(value.as_str().unwrap_or_default())
                    .map_err(|e| e.to_string())?;
                if response.cache_duration != Some(expected) {
                    return Err(format!("cacheDuration {:?}", response.cache_duration));
                }
            }
            "auth" => {
                let expected = value.as_object().ok_or("auth")?;
                if expected.len() != response.auth.len() {
                    return Err("auth entry count".into());
                }
                for (k, creds) in expected {
                    let got = response.auth.get(k).ok_or(format!("missing auth {k}"))?;
                    if creds["username"] != got.username.as_str()
                        || creds["password"] != got.password.expose()
                    {
                        return Err(format!("auth {k} differs"));
                    }
                }
            }
            "cached" => {
                // true: a positive duration; false: an explicit zero; "defaultCacheDuration":
                // the field was omitted.
                let ok = match value {
                    Value::Bool(true) => response.cache_duration.is_some_and(|d| d.as_nanos() > 0),
                    Value::Bool(false) => response.cache_duration == Some(GoDuration::ZERO),
                    Value::String(s) if s == "defaultCacheDuration" => {
                        response.cache_duration.is_none()
                    }
                    _ => return Err(format!("unknown cached value {value}")),
                };
                if !ok {
                    return Err(format!("cached {value} vs {:?}", response.cache_duration));
                }
            }
            // Kubelet-side cache key: what the cache is keyed by, not part of the response.
            "cacheBaseKey" => {}
            other => return Err(format!("unknown effect field {other:?}")),
        }
    }
    Ok(())
}

#[test]
fn shared_response_vectors() {
    let vectors = vectors();
    let cases = vectors["responses"].as_array().expect("responses list");
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let id = case["id"].as_str().unwrap_or("?");
        let verdict = match case["expected"].as_str() {
            Some("accept") => match kubelet_outcome(case) {
                Ok(Some(response)) => check_effect(case, &response),
                Ok(None) => Err("discarded, expected accept".into()),
                Err(e) => Err(format!("rejected ({e}), expected accept")),
            },
            Some("reject") => match kubelet_outcome(case) {
                Ok(Some(_)) => Err("accepted, expected reject".into()),
                Ok(None) | Err(_) => Ok(()),
            },
            other => Err(format!("unknown expected {other:?}")),
        };
        if let Err(e) = verdict {
            failures.push(format!("{id}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn shared_request_encoding_vectors() {
    let vectors = vectors();
    let cases = vectors["extras"]["requestEncoding"]
        .as_array()
        .expect("requestEncoding list");
    assert!(!cases.is_empty());
    for case in cases {
        let id = case["id"].as_str().unwrap_or("?");
        let api_version: ApiVersion = case["providerApiVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let input = case["input"].as_object().expect("input");
        let mut request = Request::new(api_version, input["image"].as_str().unwrap());
        for (key, value) in input {
            match key.as_str() {
                "image" => {}
                "serviceAccountToken" => {
                    request.service_account_token = value.as_str().map(Secret::new)
                }
                "serviceAccountAnnotations" => {
                    for (k, v) in value.as_object().unwrap() {
                        request
                            .service_account_annotations
                            .insert(k.clone(), v.as_str().unwrap().to_owned());
                    }
                }
                other => panic!("{id}: unknown input field {other:?}"),
            }
        }
        let expected = case["stdinBytes"].as_str().unwrap();
        assert_eq!(
            String::from_utf8(request.to_stdin_bytes()).unwrap(),
            expected,
            "{id}"
        );
        // And the host decodes what the kubelet writes, for the fields of that version.
        let decoded = Request::decode(expected.as_bytes()).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(decoded.to_stdin_bytes(), expected.as_bytes(), "{id}");
    }
}
