//! Table test over the "matching" list of the shared conformance vectors, plus our own cases for
//! rules the sample does not cover. Every vector is checked by its `kind`; an unknown kind fails.

use credential_provider_protocol::image::{ImageError, normalize_image, registry_of};
use credential_provider_protocol::matching::{
    Keyring, is_default_registry_match, normalize_auth_key, urls_match, validate_match_image,
};
use serde_json::{Value, json};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/conformance-vectors.json"
);

/// Check one case; `Err` names what went wrong (the caller adds the id).
fn check(case: &Value) -> Result<(), String> {
    let kind = case["kind"].as_str().ok_or("case has no string \"kind\"")?;
    let image = case["image"]
        .as_str()
        .ok_or("case has no string \"image\"")?;
    let expected = &case["expected"];
    let got = match kind {
        // matchImages entry used as-is (no scheme stripping).
        "matchImages" => {
            let pattern = case["pattern"].as_str().ok_or("pattern is not a string")?;
            Value::Bool(urls_match(pattern, image))
        }
        // One auth key in a keyring: does a lookup of the image find its credential?
        "authKey" => {
            let pattern = case["pattern"].as_str().ok_or("pattern is not a string")?;
            let mut keyring = Keyring::new();
            keyring.add(pattern, ());
            Value::Bool(!keyring.lookup(image).is_empty())
        }
        "defaultRegistryHeuristic" => Value::Bool(is_default_registry_match(image)),
        // Several keys -> credential values; the values found, in order.
        "authKeyOrdered" => {
            let keys = case["pattern"]
                .as_object()
                .ok_or("pattern is not an object")?;
            let mut keyring = Keyring::new();
            for (key, value) in keys {
                keyring.add(key, value.clone());
            }
            Value::Array(keyring.lookup(image).into_iter().cloned().collect())
        }
        // Our own kinds (extra cases below).
        "validateMatchImage" => {
            let pattern = case["pattern"].as_str().ok_or("pattern is not a string")?;
            match validate_match_image(pattern) {
                Ok(()) => Value::Bool(true),
                Err(err) => Value::String(err.to_string()),
            }
        }
        "normalizeAuthKey" => {
            let pattern = case["pattern"].as_str().ok_or("pattern is not a string")?;
            normalize_auth_key(pattern).map_or(Value::Null, Value::String)
        }
        "normalizeImage" => match normalize_image(image) {
            Ok(name) => Value::String(name),
            Err(err) => Value::String(format!("error: {}", error_kind(&err))),
        },
        "registryOf" => Value::String(registry_of(image).to_owned()),
        other => return Err(format!("unknown kind {other:?}: teach this test about it")),
    };
    if &got == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {got}"))
    }
}

/// A stable name for an image error variant.
fn error_kind(err: &ImageError) -> &'static str {
    match err {
        ImageError::Empty => "Empty",
        ImageError::HexIdentifier(_) => "HexIdentifier",
        ImageError::Uppercase(_) => "Uppercase",
        ImageError::InvalidFormat(_) => "InvalidFormat",
        ImageError::InvalidTag(_) => "InvalidTag",
        ImageError::InvalidDigest(_) => "InvalidDigest",
        ImageError::NameTooLong(_) => "NameTooLong",
        ImageError::DigestLength => "DigestLength",
        ImageError::DigestFormat => "DigestFormat",
        ImageError::UnsupportedDigest => "UnsupportedDigest",
        _ => "other",
    }
}

/// Run every case; fail listing each failing case by id.
fn run(cases: &[Value]) {
    assert!(!cases.is_empty(), "no cases");
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let id = case["id"]
            .as_str()
            .map_or_else(|| format!("#{i}"), str::to_owned);
        if let Err(why) = check(case) {
            failures.push(format!("{id}: {why} (case {case})"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn shared_matching_vectors() {
    let text =
        std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("reading {VECTORS}: {e}"));
    let vectors: Value = serde_json::from_str(&text).expect("conformance-vectors.json is JSON");
    let cases = vectors["matching"]
        .as_array()
        .expect("conformance-vectors.json has a \"matching\" list");
    run(cases);
}

#[test]
fn unknown_kind_fails() {
    let case =
        json!({"id": "X", "kind": "somethingNew", "pattern": "a", "image": "a", "expected": true});
    assert!(check(&case).unwrap_err().contains("unknown kind"));
}

const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn case(id: &str, kind: &str, pattern: Value, image: &str, expected: Value) -> Value {
    json!({"id": id, "kind": kind, "pattern": pattern, "image": image, "expected": expected})
}

#[test]
fn extra_matching_cases() {
    let m = |id, p: &str, i, e: bool| case(id, "matchImages", json!(p), i, json!(e));
    let a = |id, p: &str, i, e: bool| case(id, "authKey", json!(p), i, json!(e));
    let cases = [
        // IPv6 hosts: bracketed literal with a port on both sides.
        m("X001", "[::1]:5000", "[::1]:5000/img", true),
        m(
            "X002",
            "[2001:db8::1]:443/team",
            "[2001:db8::1]:443/team/app",
            true,
        ),
        m("X003", "[::1]:5000", "[::1]:5001/img", false),
        // Without a port the label keeps its brackets and "[::1]" is read as a glob class.
        m("X004", "[::1]", "[::1]/img", false),
        m("X005", "[1.2.3.4]:80", "[1.2.3.4]:80/img", false),
        // Ports on both sides must be equal strings.
        m("X010", "registry.io:5000", "registry.io:5000/img", true),
        m("X011", "registry.io:5000", "registry.io:5001/img", false),
        m("X012", "registry.io:5000", "registry.io/img", false),
        m("X013", "*.registry.io:443", "a.registry.io:0443/img", false),
        m("X014", "registry.io:", "registry.io/img", true),
        // '?' cannot glob in a host: it starts the URL query ("registr" is then the host).
        m("X020", "registr?.io", "registry.io", false),
        m("X021", "registr?.io", "registr/x", true),
        // '[a-c]' cannot glob in a host: current Go rejects '[' not starting an IP literal.
        m("X022", "reg[a-c].io", "regb.io", false),
        m("X023", "[a-c]eg.io", "beg.io", false),
        // '*' is per label.
        m("X024", "*", "localhost/x", true),
        m("X025", "*", "a.b/x", false),
        m("X026", "a*b.io", "ab.io", true),
        m("X027", "a*b.io", "axxb.io", true),
        m("X028", "a*b.io", "axxc.io", false),
        // Path prefix is not segment-aware, and globs are literal there.
        m("X030", "registry.io/foo", "registry.io/foobar", true),
        m("X031", "registry.io/foo/", "registry.io/foo", false),
        m("X032", "registry.io/*", "registry.io/*/x", true),
        // Paths compare decoded.
        m("X033", "registry.io/a%2Fb", "registry.io/a/b", true),
        // Scheme is not stripped for matchImages.
        m("X040", "https://registry.io", "registry.io/x", false),
        m("X041", "http://registry.io", "registry.io", false),
        // Case-sensitive.
        m("X042", "Registry.io", "registry.io/x", false),
        // Unparsable pattern or image.
        m("X043", "%invalid%", "registry.io", false),
        m("X044", "registry.io", "bad host/x", false),
        // Multiple colons: rejected by the URL parser (strict colons).
        m("X045", "a:1:2", "a:1:2", false),
        // Auth keys: scheme stripped, /v1/ and /v2/ dropped, ports exact.
        a("X050", "http://r.io", "r.io/x", true),
        a("X051", "https://r.io:5000/v2/", "r.io:5000/x", true),
        a("X052", "https://r.io/v2/team", "r.io/team/app", true),
        a("X053", "https://r.io/v2/team", "r.io/other", false),
        a("X054", "https://r.io", "r.io:5000/x", false),
        a("X055", "[::1]:5000", "[::1]:5000/x", true),
        a("X056", "%zz", "%zz", false),
        // The Docker Hub fallback needs the exact key index.docker.io.
        a("X057", "index.docker.io", "docker.io/library/nginx", true),
        a("X058", "https://index.docker.io/v2/", "me/app", true),
        a(
            "X059",
            "index.docker.io:443",
            "docker.io/library/nginx",
            false,
        ),
        a("X060", "index.docker.io", "quay.io/x", false),
        case(
            "X061",
            "defaultRegistryHeuristic",
            Value::Null,
            "docker.io/x",
            json!(true),
        ),
        case(
            "X062",
            "defaultRegistryHeuristic",
            Value::Null,
            "quay.io/x",
            json!(false),
        ),
        case(
            "X063",
            "defaultRegistryHeuristic",
            Value::Null,
            "localhost/x",
            json!(true),
        ),
        case(
            "X064",
            "defaultRegistryHeuristic",
            Value::Null,
            "/x",
            json!(false),
        ),
        // Ordering: concrete label before '*', longer before prefix, insertion order per key.
        case(
            "X070",
            "authKeyOrdered",
            json!({"*.example.com": "star", "a.example.com": "a", "a.example.com/p": "ap"}),
            "a.example.com/p/q",
            json!(["ap", "a", "star"]),
        ),
        case(
            "X071",
            "authKeyOrdered",
            json!({"https://r.io/v1/": "one", "other.io": "x"}),
            "r.io/app",
            json!(["one"]),
        ),
    ];
    run(&cases);
}

#[test]
fn extra_validation_and_normalisation_cases() {
    let v = |id, p: &str, e: Value| case(id, "validateMatchImage", json!(p), "", e);
    let k = |id, p: &str, e: Value| case(id, "normalizeAuthKey", json!(p), "", e);
    let n = |id, i: &str, e: &str| case(id, "normalizeImage", Value::Null, i, json!(e));
    let cases = [
        v("V001", "registry.io/*", json!(true)),
        v("V002", "https://registry.io", json!(true)),
        v(
            "V003",
            "%invalid%",
            json!(r#"match image is invalid: parse "https://%invalid%": invalid URL escape "%in""#),
        ),
        v(
            "V004",
            "bad host.io",
            json!(
                r#"match image is invalid: parse "https://bad host.io": invalid character " " in host name"#
            ),
        ),
        v(
            "V005",
            "reg[a-c].io",
            json!(r#"match image is invalid: parse "https://reg[a-c].io": invalid IP-literal"#),
        ),
        v(
            "V006",
            "r.io:abc/x",
            json!(
                r#"match image is invalid: parse "https://r.io:abc/x": invalid port ":abc" after host"#
            ),
        ),
        v("V007", "[::1]:5000/x", json!(true)),
        v(
            "V008",
            "[::1",
            json!(r#"match image is invalid: parse "https://[::1": missing ']' in host"#),
        ),
        k("K001", "https://quay.io/v1/", json!("quay.io")),
        k("K002", "r.io/v2/team", json!("r.io/team")),
        k("K003", "http://r.io/", json!("r.io")),
        k("K004", "u:p@r.io:5000/x?y#z", json!("r.io:5000/x")),
        k("K005", "%invalid%", Value::Null),
        n("N001", "nginx:1.25", "docker.io/library/nginx"),
        n("N002", "me/app", "docker.io/me/app"),
        n(
            "N003",
            &format!("registry.io:5000/a/b@sha256:{HEX64}"),
            "registry.io:5000/a/b",
        ),
        n("N004", "index.docker.io/x", "docker.io/library/x"),
        n("N005", "docker.io/x:latest", "docker.io/library/x"),
        n("N006", "localhost/x", "localhost/x"),
        n("N007", "[::1]:5000/x:t", "[::1]:5000/x"),
        n("N008", "gcr.io/proj/img:v1", "gcr.io/proj/img"),
        n("N009", "", "error: Empty"),
        n("N010", "Nginx", "error: Uppercase"),
        n("N011", HEX64, "error: HexIdentifier"),
        n("N012", "nginx:", "error: InvalidTag"),
        n("N013", "nginx@sha256:abc", "error: InvalidDigest"),
        n(
            "N014",
            &format!("nginx@sha256:{}", &HEX64[..62]),
            "error: DigestLength",
        ),
        n(
            "N015",
            &format!("r.io/{}", "a".repeat(256)),
            "error: NameTooLong",
        ),
        n("N016", "r.io/a b", "error: InvalidFormat"),
        n(
            "N017",
            &format!("nginx@md5:{HEX64}"),
            "error: UnsupportedDigest",
        ),
        case(
            "R001",
            "registryOf",
            Value::Null,
            "registry.io:5000/a/b",
            json!("registry.io:5000"),
        ),
        case("R002", "registryOf", Value::Null, "nginx", json!("nginx")),
    ];
    run(&cases);
}

/// What the kubelet does end to end: normalise the pod's image, then gate and look up with it.
#[test]
fn normalised_image_feeds_the_matcher() {
    let image = normalize_image("nginx:1.25").unwrap();
    assert!(urls_match("docker.io", &image));
    assert!(!urls_match("*.docker.io", &image));
    let mut keyring = Keyring::new();
    keyring.add("https://index.docker.io/v1/", "hub");
    assert_eq!(
        keyring.lookup_with_keys(&image),
        vec![("index.docker.io", &"hub")]
    );
    assert_eq!(registry_of(&image), "docker.io");
}
