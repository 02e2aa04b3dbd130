//! Our own cases for the rules the shared vectors only sample. Every expected text below was
//! checked against go-yaml v2.4, sigs.k8s.io/yaml v1.6 and sigs.k8s.io/json run together as
//! the kubelet's codec runs them.

use super::{FeatureGates, decode_config, load};

const HEAD: &str = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: p\n  matchImages: [r.io]\n  defaultCacheDuration: 10m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n";

fn error(body: &str) -> Option<String> {
    decode_config(format!("{HEAD}{body}").as_bytes()).err()
}

#[test]
fn merge_keys() {
    let q = "- name: q\n  matchImages: [r.io]\n  defaultCacheDuration: 10m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n";
    let anchor = "  tokenAttributes: &t {serviceAccountTokenAudience: a, cacheType: Token, requireServiceAccount: true}\n";
    for (body, expected) in [
        (format!("{anchor}{q}  tokenAttributes:\n    <<: *t\n"), None),
        (format!("{anchor}{q}  tokenAttributes:\n    <<: *t\n    cacheType: ServiceAccount\n"), Some("strict decoding error: yaml: unmarshal errors:\n  line 15: key \"cacheType\" already set in map")),
        // Merged after the key: the line is the anchored map's.
        (format!("{anchor}{q}  tokenAttributes:\n    cacheType: ServiceAccount\n    <<: *t\n"), Some("strict decoding error: yaml: unmarshal errors:\n  line 8: key \"cacheType\" already set in map")),
        ("  tokenAttributes:\n    <<: [{serviceAccountTokenAudience: a}, {serviceAccountTokenAudience: b, cacheType: Token}]\n    requireServiceAccount: true\n".into(), Some("strict decoding error: yaml: unmarshal errors:\n  line 9: key \"serviceAccountTokenAudience\" already set in map")),
        ("  tokenAttributes:\n    <<: {serviceAccountTokenAudience: a, cacheType: Token, requireServiceAccount: true}\n    <<: {cacheType: ServiceAccount}\n".into(), Some("strict decoding error: yaml: unmarshal errors:\n  line 10: key \"cacheType\" already set in map")),
        ("  tokenAttributes:\n    <<: 5\n".into(), Some("yaml: map merge requires map or sequence of maps as the value")),
        ("  tokenAttributes:\n    <<: [5]\n".into(), Some("yaml: map merge requires map or sequence of maps as the value")),
        ("  tokenAttributes:\n    <<: ~\n".into(), Some("yaml: map merge requires map or sequence of maps as the value")),
        ("  args: &x [a]\n  tokenAttributes:\n    <<: *x\n".into(), Some("yaml: map merge requires map or sequence of maps as the value")),
        ("  tokenAttributes:\n    <<: *nope\n".into(), Some("yaml: unknown anchor 'nope' referenced")),
        // A quoted "<<" is an ordinary key; a tagged one is a merge.
        ("  tokenAttributes:\n    \"<<\": {a: b}\n".into(), Some("strict decoding error: unknown field \"providers[0].tokenAttributes.<<\"")),
        ("  tokenAttributes:\n    !!merge <<: {serviceAccountTokenAudience: a, cacheType: Token, requireServiceAccount: true}\n".into(), None),
        ("  tokenAttributes: &self\n    a: *self\n".into(), Some("yaml: anchor 'self' value contains itself")),
        ("  env: &e\n  - name: A\n    value: b\n  args: *e\n".into(), Some("json: cannot unmarshal object into Go struct field CredentialProvider.providers.args of type string")),
    ] {
        assert_eq!(error(&body).as_deref(), expected, "{body}");
    }
}

#[test]
fn yaml11_scalars_in_string_fields() {
    let value = |v: &str| error(&format!("  env:\n  - name: A\n    value: {v}\n"));
    let number = "json: cannot unmarshal number into Go struct field ExecEnvVar.providers.env.value of type string";
    let boolean = "json: cannot unmarshal bool into Go struct field ExecEnvVar.providers.env.value of type string";
    for v in ["y", "Yes", "ON", "off", "N", "FALSE"] {
        assert_eq!(value(v).as_deref(), Some(boolean), "{v}");
    }
    for v in [
        "0755", "08", "0x1F", "0o17", "0b101", "1_000", "+1", ".5", "1e3", "-.5",
    ] {
        assert_eq!(value(v).as_deref(), Some(number), "{v}");
    }
    assert_eq!(
        value(".inf").as_deref(),
        Some("json: unsupported value: +Inf")
    );
    assert_eq!(
        value("-.Inf").as_deref(),
        Some("json: unsupported value: -Inf")
    );
    assert_eq!(
        value(".NAN").as_deref(),
        Some("json: unsupported value: NaN")
    );
    for v in [
        "~",
        "null",
        "Null",
        "NULL",
        "",
        "1:20",
        "2001-12-14",
        "yEs",
        "'n'",
        "\"0755\"",
        "!!str yes",
        "1e999",
        "0x",
    ] {
        assert_eq!(value(v), None, "{v}");
    }
    assert_eq!(
        value("!!int abc").as_deref(),
        Some("yaml: cannot decode !!str `abc` as a !!int")
    );
    assert_eq!(
        value("!!binary \"@@\"").as_deref(),
        Some("yaml: !!binary value contains invalid base64 data")
    );
}

#[test]
fn keys_become_strings_as_sigs_yaml_makes_them() {
    for (key, field) in [
        ("1", "1"),
        ("0x10", "16"),
        ("1.5", "1.5"),
        ("yes", "true"),
        ("1e300", ".inf"),
    ] {
        assert_eq!(
            error(&format!("  {key}: b\n")),
            Some(format!(
                "strict decoding error: unknown field \"providers[0].{field}\""
            )),
            "{key}"
        );
    }
    assert_eq!(
        error("  ~: b\n").as_deref(),
        Some("unsupported map key of type: %!s(<nil>), key: <nil>, value: \"b\"")
    );
    assert_eq!(
        error("  [a]: b\n").as_deref(),
        Some("yaml: invalid map key: []interface {}{\"a\"}")
    );
}

#[test]
fn documents_boms_and_line_ends() {
    let crlf = HEAD.replace('\n', "\r\n");
    assert!(decode_config(crlf.as_bytes()).is_ok());
    assert!(decode_config(format!("\u{feff}{HEAD}").as_bytes()).is_ok());
    assert!(decode_config(format!("{HEAD}---\nnot: [valid\n").as_bytes()).is_ok());
    assert_eq!(
        decode_config(format!("{HEAD}  x: \u{1}\n").as_bytes()).unwrap_err(),
        "yaml: control characters are not allowed"
    );
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validation_errors_aggregate_into_one_kubelet_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "c.yaml",
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: a b\n  matchImages: []\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n- name: c\n  matchImages: []\n  defaultCacheDuration: -1m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n",
    );
    let loaded = load(&path, FeatureGates::default());
    // The two `matchImages` messages are identical: the kubelet shows it once.
    assert_eq!(
        loaded.kubelet_error(),
        Some(
            "failed to validate credential provider config: [providers.name: Invalid value: \"a b\": provider name cannot contain spaces, providers.matchImages: Required value: at least 1 item in matchImages is required, providers.defaultCacheDuration: Required value, providers.defaultCacheDuration: Invalid value: \"-1m0s\": must be greater than or equal to 0]"
        )
    );
    assert_eq!(loaded.problems.len(), 5);
}

#[test]
fn a_decode_error_stops_validation() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "c.yaml", &format!("{HEAD}  x: 1\n"));
    let loaded = load(&path, FeatureGates::default());
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    assert_eq!(
        loaded.kubelet_error(),
        Some(
            format!(
                "error decoding config {}: strict decoding error: unknown field \"providers[0].x\"",
                crate::kubelet::field::go_quote(path.display().to_string())
            )
            .as_str()
        )
    );
}

#[test]
fn directories_stop_where_the_kubelet_stops() {
    let dir = tempfile::tempdir().unwrap();
    let good = HEAD.to_owned();
    write(dir.path(), "a.yaml", &good);
    write(dir.path(), "b.json", "{\"kind\": ]");
    write(dir.path(), "c.yaml", "kind: [\n");
    let loaded = load(dir.path(), FeatureGates::default());
    // Both bad files are listed; the kubelet stops at the first in name order.
    assert_eq!(loaded.problems.len(), 2);
    let b = crate::kubelet::field::go_quote(dir.path().join("b.json").display().to_string());
    assert_eq!(
        loaded.kubelet_error(),
        Some(format!("error decoding config {b}: couldn't get version/kind; json parse error: invalid character ']' looking for beginning of value").as_str())
    );

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &good);
    write(dir.path(), "b.yml", &good);
    let loaded = load(dir.path(), FeatureGates::default());
    assert_eq!(
        loaded.kubelet_error(),
        Some("duplicate provider name \"p\" found in configuration file(s)")
    );
}
