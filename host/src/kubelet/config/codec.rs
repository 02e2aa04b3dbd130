//! One config file through the kubelet's codec (`codecs.UniversalDecoder().Decode` with
//! apimachinery's strict serializers, then the kubelet's `decode`), with its exact error text:
//!
//! 1. A file whose first non-space character is `{` is JSON (Go's `encoding/json` syntax and
//!    messages); anything else is YAML through `sigs.k8s.io/yaml` (go-yaml v2, YAML 1.1).
//! 2. `apiVersion` and `kind` are read as `json.Unmarshal` reads them (field names matched
//!    without regard to case): `couldn't get version/kind; json parse error: ...`.
//! 3. Missing kind or version, then the scheme: `no kind "X" is registered for version "Y" in
//!    scheme "k8s.io/kubernetes/pkg/credentialprovider/plugin/plugin.go:69"`.
//! 4. The strict decode: a fatal error wins; else YAML duplicate keys, then unknown and
//!    duplicate JSON fields, joined after `strict decoding error: `.

use super::decode::{StrictDecodeError, decode_strict};
use super::json::{self, Json};
use super::yaml;
use super::{CONFIG_GROUP, CONFIG_KIND, ConfigVersion, CredentialProviderConfig};

/// The scheme name the kubelet's errors quote.
const SCHEME: &str = "k8s.io/kubernetes/pkg/credentialprovider/plugin/plugin.go:69";

/// The kinds the kubelet's scheme registers besides `CredentialProviderConfig`'s versions (its
/// `install` of `credentialprovider.kubelet.k8s.io` and the kubelet config groups).
const OTHER_KINDS: &[(&str, &str, &str)] = &[
    ("kubelet.config.k8s.io", "v1beta1", "KubeletConfiguration"),
    (
        "kubelet.config.k8s.io",
        "v1beta1",
        "SerializedNodeConfigSource",
    ),
    ("kubelet.config.k8s.io", "v1beta1", "ImagePullIntent"),
    ("kubelet.config.k8s.io", "v1beta1", "ImagePulledRecord"),
    ("kubelet.config.k8s.io", "v1alpha1", "ImagePullIntent"),
    ("kubelet.config.k8s.io", "v1alpha1", "ImagePulledRecord"),
    (
        "credentialprovider.kubelet.k8s.io",
        "v1alpha1",
        "CredentialProviderRequest",
    ),
    (
        "credentialprovider.kubelet.k8s.io",
        "v1alpha1",
        "CredentialProviderResponse",
    ),
    (
        "credentialprovider.kubelet.k8s.io",
        "v1beta1",
        "CredentialProviderRequest",
    ),
    (
        "credentialprovider.kubelet.k8s.io",
        "v1beta1",
        "CredentialProviderResponse",
    ),
    (
        "credentialprovider.kubelet.k8s.io",
        "v1",
        "CredentialProviderRequest",
    ),
    (
        "credentialprovider.kubelet.k8s.io",
        "v1",
        "CredentialProviderResponse",
    ),
];

/// Decodes one file's bytes as the kubelet does; the error is the kubelet's text (what it
/// shows after `error decoding config "<file>": `).
pub fn decode_config(data: &[u8]) -> Result<CredentialProviderConfig, String> {
    // apimachinery's IsJSONBuffer: leading Unicode white space, then `{`.
    let is_json = String::from_utf8_lossy(data)
        .trim_start_matches(char::is_whitespace)
        .starts_with('{');
    let (root, yaml_strict_error) = if is_json {
        let root = json::parse(data)
            .map_err(|e| format!("couldn't get version/kind; json parse error: {e}"))?;
        (root, None)
    } else {
        let converted = yaml::to_json(data)?;
        (converted.json, converted.strict_error)
    };
    let (api_version, kind) = interpret(&root)?;
    let (group, version) = parse_group_version(&api_version)?;
    if kind.is_empty() {
        return Err(format!(
            "Object 'Kind' is missing in '{}'",
            redacted_content(data)
        ));
    }
    if version.is_empty() {
        return Err(format!(
            "Object 'apiVersion' is missing in '{}'",
            redacted_content(data)
        ));
    }
    let version = match ConfigVersion::from_version(version) {
        Some(v) if group == CONFIG_GROUP && kind == CONFIG_KIND => v,
        _ => return Err(unregistered(group, version, &kind)),
    };
    let strict_errors = match decode_strict(&root, version) {
        Ok(config) if yaml_strict_error.is_none() => return Ok(config),
        Ok(_) => Vec::new(),
        Err(StrictDecodeError::Fatal(error)) => return Err(error),
        Err(StrictDecodeError::Strict(errors)) => errors,
    };
    let all: Vec<String> = yaml_strict_error.into_iter().chain(strict_errors).collect();
    Err(format!("strict decoding error: {}", all.join(", ")))
}

/// The file's content in `Object 'Kind' is missing in '...'`: the kubelet quotes the whole
/// file, which may hold credentials (`env` values), so only its size is shown.
fn redacted_content(data: &[u8]) -> String {
    format!("<{} bytes of the file, not shown>", data.len())
}

/// The error for a kind the kubelet's codec does not decode into a `CredentialProviderConfig`.
fn unregistered(group: &str, version: &str, kind: &str) -> String {
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    if OTHER_KINDS.contains(&(group, version, kind)) {
        // Decoded as that kind (strictly: fields it lacks would be refused first), then
        // refused by the kubelet's `decode`.
        return format!("failed to decode {} (wrong Kind)", quote(kind));
    }
    if version == "__internal" {
        return format!(
            "no kind {} is registered for the internal version of group {} in scheme {}",
            quote(kind),
            quote(group),
            quote(SCHEME)
        );
    }
    format!(
        "no kind {} is registered for version {} in scheme {}",
        quote(kind),
        quote(&group_version),
        quote(SCHEME)
    )
}

fn quote(s: &str) -> String {
    crate::kubelet::field::go_quote(s)
}

/// apimachinery's `SimpleMetaFactory.Interpret`: `json.Unmarshal` into
/// `struct { APIVersion string; Kind string }`, whose field names match any case.
fn interpret(root: &Json) -> Result<(String, String), String> {
    const GO_TYPE: &str = "struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }";
    let fail = |e: String| format!("couldn't get version/kind; json parse error: {e}");
    let members = match root {
        Json::Object(members) => members,
        Json::Null => return Ok((String::new(), String::new())),
        other => {
            return Err(fail(format!(
                "json: cannot unmarshal {} into Go value of type {GO_TYPE}",
                other.kind().go_name()
            )));
        }
    };
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut type_error = None;
    for (key, value) in members {
        let (field, slot) = if go_fold_eq(key, "apiVersion") {
            ("apiVersion", &mut api_version)
        } else if go_fold_eq(key, "kind") {
            ("kind", &mut kind)
        } else {
            continue;
        };
        match value {
            Json::String(s) => *slot = s.clone(),
            Json::Null => {}
            other => {
                type_error.get_or_insert_with(|| {
                    format!(
                        "json: cannot unmarshal {} into Go struct field .{field} of type string",
                        other.kind().go_name()
                    )
                });
            }
        }
    }
    match type_error {
        Some(e) => Err(fail(e)),
        None => Ok((api_version, kind)),
    }
}

/// Go's `bytes.EqualFold` against an ASCII field name: simple case folding, where `K` also
/// matches KELVIN SIGN (U+212A) and `s` LATIN SMALL LETTER LONG S (U+017F).
fn go_fold_eq(key: &str, name: &str) -> bool {
    let mut key_chars = key.chars();
    for n in name.chars() {
        let Some(k) = key_chars.next() else {
            return false;
        };
        let same = k.eq_ignore_ascii_case(&n)
            || (n.eq_ignore_ascii_case(&'k') && k == '\u{212a}')
            || (n.eq_ignore_ascii_case(&'s') && k == '\u{17f}');
        if !same {
            return false;
        }
    }
    key_chars.next().is_none()
}

/// apimachinery's `schema.ParseGroupVersion`.
fn parse_group_version(api_version: &str) -> Result<(&str, &str), String> {
    if api_version.is_empty() || api_version == "/" {
        return Ok(("", ""));
    }
    match api_version.matches('/').count() {
        0 => Ok(("", api_version)),
        1 => Ok(api_version.split_once('/').unwrap_or(("", api_version))),
        _ => Err(format!("unexpected GroupVersion string: {api_version}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n";

    #[test]
    fn json_is_sniffed_by_its_first_character() {
        assert_eq!(
            decode_config(b" \n{\"kind\":1,}").unwrap_err(),
            "couldn't get version/kind; json parse error: invalid character '}' looking for beginning of object key string"
        );
        // A byte-order mark is not white space: the file is YAML (and this one a flow map).
        let err =
            decode_config(b"\xef\xbb\xbf{\"kind\": \"X\", \"apiVersion\": \"v1\"}").unwrap_err();
        assert!(
            err.starts_with("no kind \"X\" is registered for version \"v1\""),
            "{err}"
        );
    }

    #[test]
    fn type_meta_is_read_without_regard_to_case() {
        let err = decode_config(b"ApiVersion: kubelet.config.k8s.io/v1\nKIND: CredentialProviderConfig\nproviders: []\n").unwrap_err();
        assert_eq!(
            err,
            "strict decoding error: unknown field \"ApiVersion\", unknown field \"KIND\""
        );
        assert_eq!(
            decode_config(b"kind: 5\n").unwrap_err(),
            "couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string"
        );
        assert_eq!(
            decode_config(b"- a\n").unwrap_err(),
            "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }"
        );
    }

    #[test]
    fn group_versions_and_kinds() {
        for (head, message) in [
            (
                "apiVersion: a/b/c\nkind: X\n",
                "unexpected GroupVersion string: a/b/c",
            ),
            (
                "apiVersion: v1\nkind: CredentialProviderConfig\n",
                "no kind \"CredentialProviderConfig\" is registered for version \"v1\" in scheme \"k8s.io/kubernetes/pkg/credentialprovider/plugin/plugin.go:69\"",
            ),
            (
                "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n",
                "failed to decode \"KubeletConfiguration\" (wrong Kind)",
            ),
            (
                "apiVersion: x.io/__internal\nkind: K\n",
                "no kind \"K\" is registered for the internal version of group \"x.io\" in scheme \"k8s.io/kubernetes/pkg/credentialprovider/plugin/plugin.go:69\"",
            ),
        ] {
            assert_eq!(
                decode_config(head.as_bytes()).unwrap_err(),
                message,
                "{head}"
            );
        }
        assert!(
            decode_config(b"providers: []\n")
                .unwrap_err()
                .starts_with("Object 'Kind' is missing in '")
        );
        assert!(
            decode_config(b"kind: CredentialProviderConfig\napiVersion: kubelet.config.k8s.io/\n")
                .unwrap_err()
                .starts_with("Object 'apiVersion' is missing in '")
        );
    }

    #[test]
    fn missing_kind_never_shows_the_file() {
        let err = decode_config(b"providers: [{env: [{name: A, value: s3cr3t}]}]\n").unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn strict_errors_are_joined_yaml_first() {
        let text = format!("{V1}providers:\n- name: a\n  name: b\n  zz: 1\n  aa: 2\n");
        assert_eq!(
            decode_config(text.as_bytes()).unwrap_err(),
            "strict decoding error: yaml: unmarshal errors:\n  line 5: key \"name\" already set in map, unknown field \"providers[0].aa\", unknown field \"providers[0].zz\""
        );
    }

    #[test]
    fn a_type_error_wins_over_duplicate_keys() {
        // The non-strict value (the later one) is what is type-checked.
        let text = format!("{V1}providers:\n- name: a\n  name: true\n");
        assert_eq!(
            decode_config(text.as_bytes()).unwrap_err(),
            "json: cannot unmarshal bool into Go struct field CredentialProvider.providers.name of type string"
        );
    }
}
