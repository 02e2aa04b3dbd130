//! Decoding one config file the way the kubelet's codec does: YAML (or JSON) converted to JSON
//! with duplicate keys refused, the group/version/kind checked, then a strict decode (unknown
//! and mis-cased fields are errors, types must match, `null` leaves a field at its zero value).
//!
//! Error texts follow the kubelet's (`strict decoding error: unknown field "providers[0].x"`,
//! `no kind "X" is registered for version "..."`, Go's `json: cannot unmarshal ...`). No error
//! shows a value from the file: `env` values may be credentials.

use serde::Deserialize as _;
use serde_json::{Map, Value};

use credential_provider_protocol::GoDuration;

use super::{
    CONFIG_GROUP, CONFIG_KIND, ConfigVersion, CredentialProvider, CredentialProviderConfig, EnvVar,
    TokenAttributes,
};

/// Decodes one file's bytes into its providers, or the kubelet's error text.
pub fn decode_config(data: &[u8]) -> Result<CredentialProviderConfig, String> {
    let value = yaml_to_json(data)?;
    let Value::Object(object) = &value else {
        return Err(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            go_json_type(&value)
        ));
    };
    let api_version = type_meta_string(object, "apiVersion")?;
    let kind = type_meta_string(object, "kind")?;
    if kind.is_empty() {
        return Err("Object 'Kind' is missing in the file".into());
    }
    if api_version.is_empty() {
        return Err("Object 'apiVersion' is missing in the file".into());
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let version = ConfigVersion::from_version(version)
        .filter(|_| group == CONFIG_GROUP && kind == CONFIG_KIND)
        .ok_or_else(|| {
            format!(
                "no kind {} is registered for version {}",
                quote(&kind),
                quote(&api_version)
            )
        })?;
    let mut decoder = Decoder::default();
    let config = decoder.config(object, version);
    if let Some(type_error) = decoder.type_error {
        return Err(type_error);
    }
    if !decoder.unknown.is_empty() {
        let fields: Vec<String> = decoder
            .unknown
            .iter()
            .map(|f| format!("unknown field {}", quote(f)))
            .collect();
        return Err(format!("strict decoding error: {}", fields.join(", ")));
    }
    Ok(config)
}

fn quote(s: &str) -> String {
    crate::kubelet::field::go_quote(s)
}

/// `apiVersion` or `kind` read leniently, as the codec's GVK sniffing does.
fn type_meta_string(object: &Map<String, Value>, key: &str) -> Result<String, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go struct field .{key} of type string",
            go_json_type(other)
        )),
    }
}

/// The first YAML document as JSON, as `sigs.k8s.io/yaml.YAMLToJSONStrict` converts it: duplicate
/// keys are errors, scalar keys become strings. JSON input is YAML too.
fn yaml_to_json(data: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(data)
        .map_err(|_| "error converting YAML to JSON: the file is not UTF-8".to_owned())?;
    let Some(document) = serde_yaml_ng::Deserializer::from_str(text).next() else {
        return Ok(Value::Null);
    };
    let yaml = serde_yaml_ng::Value::deserialize(document).map_err(|e| {
        format!(
            "error converting YAML to JSON: yaml: {}",
            yaml_error_text(&e)
        )
    })?;
    yaml_value_to_json(yaml)
}

/// serde_yaml's message, without anything that could quote the file's content beyond a key.
fn yaml_error_text(err: &serde_yaml_ng::Error) -> String {
    let text = err.to_string();
    match err.location() {
        Some(location) if !text.contains("line") => {
            format!("line {}: {text}", location.line())
        }
        _ => text,
    }
}

fn yaml_value_to_json(value: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                match n.as_f64().and_then(serde_json::Number::from_f64) {
                    Some(f) => Value::Number(f),
                    None => Value::String(n.to_string()),
                }
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_value_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    _ => {
                        return Err(
                            "error converting YAML to JSON: yaml: a mapping key is not a scalar"
                                .into(),
                        );
                    }
                };
                if object.contains_key(&key) {
                    return Err(format!(
                        "error converting YAML to JSON: yaml: key {} already set in map",
                        quote(&key)
                    ));
                }
                object.insert(key, yaml_value_to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => yaml_value_to_json(tagged.value)?,
    })
}

/// Go's name for a JSON value's type in `UnmarshalTypeError`.
fn go_json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A strict decode: records the first type error (as Go's `encoding/json` does) and every
/// unknown field (as the strict codec does), and decodes what it can.
#[derive(Default)]
struct Decoder {
    type_error: Option<String>,
    unknown: Vec<String>,
}

/// Where a field is, for Go's type errors: the enclosing Go struct and the dotted JSON path.
struct At<'a> {
    dotted: &'a str,
    go_struct: &'static str,
}

impl Decoder {
    fn config(
        &mut self,
        object: &Map<String, Value>,
        version: ConfigVersion,
    ) -> CredentialProviderConfig {
        let mut config = CredentialProviderConfig::default();
        for (key, value) in object {
            match key.as_str() {
                "apiVersion" | "kind" => {}
                "providers" => {
                    let at = At {
                        dotted: "providers",
                        go_struct: "CredentialProviderConfig",
                    };
                    let items = self.array(value, &at, "[]v1.CredentialProvider");
                    for (i, item) in items.iter().enumerate() {
                        let indexed = format!("providers[{i}]");
                        config
                            .providers
                            .push(self.provider(item, &indexed, version));
                    }
                }
                other => self.unknown.push(other.to_owned()),
            }
        }
        config
    }

    fn provider(
        &mut self,
        value: &Value,
        indexed: &str,
        version: ConfigVersion,
    ) -> CredentialProvider {
        let mut provider = CredentialProvider::default();
        let Some(object) = self.object(
            value,
            &At {
                dotted: "providers",
                go_struct: "CredentialProviderConfig",
            },
            "v1.CredentialProvider",
        ) else {
            return provider;
        };
        for (key, value) in object {
            let indexed_field = format!("{indexed}.{key}");
            let dotted = format!("providers.{key}");
            let at = At {
                dotted: &dotted,
                go_struct: "CredentialProvider",
            };
            match key.as_str() {
                "name" => provider.name = self.string(value, &at, "string"),
                "apiVersion" => provider.api_version = self.string(value, &at, "string"),
                "matchImages" => provider.match_images = self.strings(value, &at),
                "args" => provider.args = self.strings(value, &at),
                "defaultCacheDuration" => {
                    provider.default_cache_duration = self.duration(value, &at)
                }
                "env" => {
                    let items = self.array(value, &at, "[]v1.ExecEnvVar");
                    for (i, item) in items.iter().enumerate() {
                        let indexed = format!("{indexed_field}[{i}]");
                        provider.env.push(self.env_var(item, &indexed));
                    }
                }
                "tokenAttributes" if version.has_token_attributes() => {
                    provider.token_attributes = self.token_attributes(value, &indexed_field);
                }
                _ => self.unknown.push(indexed_field.clone()),
            }
        }
        provider
    }

    fn env_var(&mut self, value: &Value, indexed: &str) -> EnvVar {
        let mut var = EnvVar::default();
        let Some(object) = self.object(
            value,
            &At {
                dotted: "providers.env",
                go_struct: "CredentialProvider",
            },
            "v1.ExecEnvVar",
        ) else {
            return var;
        };
        for (key, value) in object {
            let indexed_field = format!("{indexed}.{key}");
            let dotted = format!("providers.env.{key}");
            let at = At {
                dotted: &dotted,
                go_struct: "ExecEnvVar",
            };
            match key.as_str() {
                "name" => var.name = self.string(value, &at, "string"),
                "value" => var.value = self.string(value, &at, "string").into(),
                _ => self.unknown.push(indexed_field.clone()),
            }
        }
        var
    }

    fn token_attributes(&mut self, value: &Value, indexed: &str) -> Option<TokenAttributes> {
        if value.is_null() {
            return None;
        }
        let object = self.object(
            value,
            &At {
                dotted: "providers.tokenAttributes",
                go_struct: "CredentialProvider",
            },
            "v1.ServiceAccountTokenAttributes",
        )?;
        let mut attributes = TokenAttributes::default();
        for (key, value) in object {
            let indexed_field = format!("{indexed}.{key}");
            let dotted = format!("providers.tokenAttributes.{key}");
            let at = At {
                dotted: &dotted,
                go_struct: "ServiceAccountTokenAttributes",
            };
            match key.as_str() {
                "serviceAccountTokenAudience" => {
                    attributes.service_account_token_audience = self.string(value, &at, "string");
                }
                "cacheType" => {
                    attributes.cache_type =
                        self.string(value, &at, "v1.ServiceAccountTokenCacheType");
                }
                "requireServiceAccount" => {
                    attributes.require_service_account = self.bool(value, &at)
                }
                "requiredServiceAccountAnnotationKeys" => {
                    attributes.required_service_account_annotation_keys = self.strings(value, &at);
                }
                "optionalServiceAccountAnnotationKeys" => {
                    attributes.optional_service_account_annotation_keys = self.strings(value, &at);
                }
                _ => self.unknown.push(indexed_field.clone()),
            }
        }
        Some(attributes)
    }

    fn type_mismatch(&mut self, found: &Value, at: &At<'_>, go_type: &str) {
        if self.type_error.is_none() {
            self.type_error = Some(format!(
                "json: cannot unmarshal {} into Go struct field {}.{} of type {go_type}",
                go_json_type(found),
                at.go_struct,
                at.dotted
            ));
        }
    }

    fn object<'v>(
        &mut self,
        value: &'v Value,
        at: &At<'_>,
        go_type: &str,
    ) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(object) => Some(object),
            Value::Null => None,
            other => {
                self.type_mismatch(other, at, go_type);
                None
            }
        }
    }

    fn array<'v>(&mut self, value: &'v Value, at: &At<'_>, go_type: &str) -> &'v [Value] {
        match value {
            Value::Array(items) => items,
            Value::Null => &[],
            other => {
                self.type_mismatch(other, at, go_type);
                &[]
            }
        }
    }

    fn string(&mut self, value: &Value, at: &At<'_>, go_type: &str) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => {
                self.type_mismatch(other, at, go_type);
                String::new()
            }
        }
    }

    fn strings(&mut self, value: &Value, at: &At<'_>) -> Vec<String> {
        let items = self.array(value, at, "[]string");
        items
            .iter()
            .map(|item| self.string(item, at, "string"))
            .collect()
    }

    fn bool(&mut self, value: &Value, at: &At<'_>) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            other => {
                self.type_mismatch(other, at, "bool");
                None
            }
        }
    }

    /// `metav1.Duration`: a JSON string parsed by Go's `time.ParseDuration`.
    fn duration(&mut self, value: &Value, at: &At<'_>) -> Option<GoDuration> {
        match value {
            Value::Null => None,
            Value::String(s) => match GoDuration::parse(s) {
                Ok(d) => Some(d),
                Err(err) => {
                    if self.type_error.is_none() {
                        self.type_error = Some(err.to_string());
                    }
                    None
                }
            },
            other => {
                if self.type_error.is_none() {
                    self.type_error = Some(format!(
                        "json: cannot unmarshal {} into Go value of type string",
                        go_json_type(other)
                    ));
                }
                let _ = at;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n";

    fn decode(body: &str) -> Result<CredentialProviderConfig, String> {
        decode_config(format!("{V1}{body}").as_bytes())
    }

    #[test]
    fn decodes_every_field() {
        let config = decode(
            "providers:\n- name: p\n  matchImages: [a.io]\n  defaultCacheDuration: 90s\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n  args: [--x]\n  env: [{name: N, value: V}]\n  tokenAttributes:\n    serviceAccountTokenAudience: aud\n    cacheType: Token\n    requireServiceAccount: true\n    requiredServiceAccountAnnotationKeys: [a/b]\n    optionalServiceAccountAnnotationKeys: [c/d]\n",
        )
        .unwrap();
        let p = &config.providers[0];
        assert_eq!(p.name, "p");
        assert_eq!(p.default_cache_duration, Some(GoDuration::from_secs(90)));
        assert_eq!(p.env[0].value.expose(), "V");
        let t = p.token_attributes.as_ref().unwrap();
        assert_eq!(t.require_service_account, Some(true));
        assert_eq!(t.optional_service_account_annotation_keys, ["c/d"]);
    }

    #[test]
    fn json_decodes_like_yaml() {
        let json = r#"{"kind":"CredentialProviderConfig","apiVersion":"kubelet.config.k8s.io/v1beta1","providers":[{"name":"p","matchImages":["a.io"],"defaultCacheDuration":"1m","apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1"}]}"#;
        let config = decode_config(json.as_bytes()).unwrap();
        assert_eq!(config.providers[0].match_images, ["a.io"]);
    }

    #[test]
    fn unknown_and_miscased_fields_are_listed() {
        // Object keys are visited sorted (the kubelet lists them in document order).
        let err = decode("providers:\n- name: p\n  matchimages: [a]\n  extra: 1\nother: 2\n")
            .unwrap_err();
        assert_eq!(
            err,
            "strict decoding error: unknown field \"other\", unknown field \"providers[0].extra\", unknown field \"providers[0].matchimages\""
        );
        let err = decode("providers:\n- name: p\n  env: [{name: a, Value: b}]\n").unwrap_err();
        assert!(
            err.contains("unknown field \"providers[0].env[0].Value\""),
            "{err}"
        );
    }

    #[test]
    fn token_attributes_only_in_v1() {
        let body = "providers:\n- name: p\n  tokenAttributes: {serviceAccountTokenAudience: a}\n";
        let beta = format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: CredentialProviderConfig\n{body}"
        );
        assert_eq!(
            decode_config(beta.as_bytes()).unwrap_err(),
            "strict decoding error: unknown field \"providers[0].tokenAttributes\""
        );
        assert!(decode(body).is_ok());
        let err = decode("providers:\n- tokenAttributes: {audience: a}\n").unwrap_err();
        assert!(
            err.contains("providers[0].tokenAttributes.audience"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = decode("providers:\n- name: p\n  name: q\n").unwrap_err();
        assert!(err.contains("name"), "{err}");
        let err = decode_config(br#"{"kind":"CredentialProviderConfig","apiVersion":"kubelet.config.k8s.io/v1","providers":[],"providers":[]}"#).unwrap_err();
        assert!(err.contains("providers"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_go_field() {
        assert_eq!(
            decode("providers:\n- matchImages: a.io\n").unwrap_err(),
            "json: cannot unmarshal string into Go struct field CredentialProvider.providers.matchImages of type []string"
        );
        assert_eq!(
            decode("providers:\n- defaultCacheDuration: 10\n").unwrap_err(),
            "json: cannot unmarshal number into Go value of type string"
        );
        assert_eq!(
            decode("providers:\n- defaultCacheDuration: 10d\n").unwrap_err(),
            "time: unknown unit \"d\" in duration \"10d\""
        );
        assert_eq!(
            decode("providers:\n- tokenAttributes: {requireServiceAccount: \"true\"}\n")
                .unwrap_err(),
            "json: cannot unmarshal string into Go struct field ServiceAccountTokenAttributes.providers.tokenAttributes.requireServiceAccount of type bool"
        );
    }

    #[test]
    fn group_version_kind_are_checked() {
        for (head, kind, version) in [
            (
                "apiVersion: foobar/v1alpha1\nkind: CredentialProviderConfig\n",
                "CredentialProviderConfig",
                "foobar/v1alpha1",
            ),
            (
                "apiVersion: kubelet.config.k8s.io/v1\nkind: WrongKind\n",
                "WrongKind",
                "kubelet.config.k8s.io/v1",
            ),
            (
                "apiVersion: kubelet.config.k8s.io/v2\nkind: CredentialProviderConfig\n",
                "CredentialProviderConfig",
                "kubelet.config.k8s.io/v2",
            ),
        ] {
            assert_eq!(
                decode_config(format!("{head}providers: []\n").as_bytes()).unwrap_err(),
                format!("no kind \"{kind}\" is registered for version \"{version}\"")
            );
        }
        assert!(
            decode_config(b"providers: []\n")
                .unwrap_err()
                .contains("'Kind' is missing")
        );
        assert!(
            decode_config(b"kind: CredentialProviderConfig\n")
                .unwrap_err()
                .contains("'apiVersion' is missing")
        );
    }

    #[test]
    fn nulls_leave_zero_values() {
        let config = decode("providers:\n- name: p\n  defaultCacheDuration: null\n  args: ~\n  tokenAttributes: null\n").unwrap();
        assert_eq!(config.providers[0].default_cache_duration, None);
        assert!(config.providers[0].token_attributes.is_none());
    }

    #[test]
    fn errors_never_show_env_values() {
        let err = decode("providers:\n- env: [{name: A, value: 7}]\n").unwrap_err();
        assert!(!err.contains('7'), "{err}");
    }
}
