//! The strict decode of a `CredentialProviderConfig` from JSON, as `sigs.k8s.io/json`'s
//! `UnmarshalStrict` does it into the kubelet's Go types: case-sensitive field names; every
//! unknown field (`unknown field "providers[0].x"`) and field set twice (`duplicate field
//! "providers[0].name"`) collected in document order; the first type error
//! (`json: cannot unmarshal bool into Go struct field ExecEnvVar.providers.env.value of type
//! string`) wins over those; a `defaultCacheDuration` that `metav1.Duration` refuses stops the
//! decode at once. `null` leaves a field at its zero value.
//!
//! No error shows a value from the file (`env` values may be credentials), except a duration's
//! text in Go's `time: invalid duration "..."`.

use credential_provider_protocol::GoDuration;

use super::json::{Json, Kind};
use super::{ConfigVersion, CredentialProvider, CredentialProviderConfig, EnvVar, TokenAttributes};

/// Strict JSON errors `sigs.k8s.io/json` keeps at most.
const MAX_STRICT_ERRORS: usize = 100;

/// Why a strict decode failed.
#[derive(Debug, PartialEq, Eq)]
pub enum StrictDecodeError {
    /// A fatal error (type mismatch, bad duration): the kubelet's whole text.
    Fatal(String),
    /// Strictness violations (`unknown field "x"`, `duplicate field "y"`), in order.
    Strict(Vec<String>),
}

/// Decodes the object `root` into `version`'s `CredentialProviderConfig`.
pub fn decode_strict(
    root: &Json,
    version: ConfigVersion,
) -> Result<CredentialProviderConfig, StrictDecodeError> {
    let mut decoder = Decoder {
        version,
        type_error: None,
        strict: Vec::new(),
        fields: Vec::new(),
        path: Vec::new(),
    };
    let config = decoder.config(root)?;
    if let Some(error) = decoder.type_error {
        return Err(StrictDecodeError::Fatal(error));
    }
    if !decoder.strict.is_empty() {
        return Err(StrictDecodeError::Strict(decoder.strict));
    }
    Ok(config)
}

struct Decoder {
    version: ConfigVersion,
    /// The first saved type error (Go's `savedError`).
    type_error: Option<String>,
    /// Strict errors, de-duplicated.
    strict: Vec<String>,
    /// Go's `errorContext.FieldStack`: JSON names of the fields entered, no indices.
    fields: Vec<&'static str>,
    /// `strictFieldStack`: the indexed path (`providers[0].env[1]`).
    path: Vec<String>,
}

/// A fatal error, which ends the decode at once.
type Fatal = StrictDecodeError;

/// The Go struct a field belongs to, for type errors.
#[derive(Clone, Copy)]
enum GoStruct {
    Config,
    Provider,
    EnvVar,
    TokenAttributes,
}

impl GoStruct {
    fn name(self) -> &'static str {
        match self {
            GoStruct::Config => "CredentialProviderConfig",
            GoStruct::Provider => "CredentialProvider",
            GoStruct::EnvVar => "ExecEnvVar",
            GoStruct::TokenAttributes => "ServiceAccountTokenAttributes",
        }
    }
}

impl Decoder {
    /// The Go package of the config types (`v1.CredentialProvider`).
    fn package(&self) -> &'static str {
        match self.version {
            ConfigVersion::V1Alpha1 => "v1alpha1",
            ConfigVersion::V1Beta1 => "v1beta1",
            ConfigVersion::V1 => "v1",
        }
    }

    fn strict_error(&mut self, kind: &str, key: &str) {
        let path = match self.path.is_empty() {
            true => key.to_owned(),
            false => format!("{}.{key}", self.path.concat()),
        };
        let error = format!(
            "{kind} {}",
            credential_provider_protocol::matching::go_quote(&path)
        );
        if self.strict.len() < MAX_STRICT_ERRORS && !self.strict.contains(&error) {
            self.strict.push(error);
        }
    }

    fn type_text(&self, found: Kind, within: GoStruct, go_type: &str) -> String {
        format!(
            "json: cannot unmarshal {} into Go struct field {}.{} of type {go_type}",
            found.go_name(),
            within.name(),
            self.fields.join(".")
        )
    }

    /// Saves a type error unless one is saved already (decoding goes on).
    fn mismatch(&mut self, found: Kind, within: GoStruct, go_type: &str) {
        if self.type_error.is_none() {
            self.type_error = Some(self.type_text(found, within, go_type));
        }
    }

    /// Walks an object's members: known fields through `field`, the rest reported unknown,
    /// a known field seen twice reported duplicate.
    fn object<F>(
        &mut self,
        members: &[(String, Json)],
        known: &[&'static str],
        mut field: F,
    ) -> Result<(), Fatal>
    where
        F: FnMut(&mut Self, &'static str, &Json) -> Result<(), Fatal>,
    {
        let mut seen = vec![false; known.len()];
        for (key, value) in members {
            let Some(i) = known.iter().position(|k| k == key) else {
                self.strict_error("unknown field", key);
                continue;
            };
            let name = known[i];
            if seen[i] {
                self.strict_error("duplicate field", name);
            }
            seen[i] = true;
            self.fields.push(name);
            self.path.push(match self.path.is_empty() {
                true => name.to_owned(),
                false => format!(".{name}"),
            });
            field(self, name, value)?;
            self.fields.pop();
            self.path.pop();
        }
        Ok(())
    }

    fn config(&mut self, root: &Json) -> Result<CredentialProviderConfig, Fatal> {
        let mut config = CredentialProviderConfig::default();
        let Json::Object(members) = root else {
            return Ok(config);
        };
        self.object(
            members,
            &["kind", "apiVersion", "providers"],
            |d, name, value| {
                match name {
                    "providers" => {
                        let go_type = format!("{}.CredentialProvider", d.package());
                        config.providers =
                            d.array(value, GoStruct::Config, &go_type, |d, item| {
                                d.provider(item, &go_type)
                            })?;
                    }
                    _ => {
                        d.string(value, GoStruct::Config, "string");
                    }
                }
                Ok(())
            },
        )?;
        Ok(config)
    }

    /// A slice: each element decoded by `element` with `[i]` on the strict path.
    fn array<T, F>(
        &mut self,
        value: &Json,
        within: GoStruct,
        element_type: &str,
        mut element: F,
    ) -> Result<Vec<T>, Fatal>
    where
        F: FnMut(&mut Self, &Json) -> Result<T, Fatal>,
    {
        match value {
            Json::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    self.path.push(format!("[{i}]"));
                    let decoded = element(self, item);
                    self.path.pop();
                    out.push(decoded?);
                }
                Ok(out)
            }
            Json::Null => Ok(Vec::new()),
            other => {
                self.mismatch(other.kind(), within, &format!("[]{element_type}"));
                Ok(Vec::new())
            }
        }
    }

    fn provider(&mut self, value: &Json, go_type: &str) -> Result<CredentialProvider, Fatal> {
        let mut provider = CredentialProvider::default();
        let members = match value {
            Json::Object(members) => members,
            Json::Null => return Ok(provider),
            other => {
                self.mismatch(other.kind(), GoStruct::Config, go_type);
                return Ok(provider);
            }
        };
        let mut known = vec![
            "name",
            "matchImages",
            "defaultCacheDuration",
            "apiVersion",
            "args",
            "env",
        ];
        if self.version.has_token_attributes() {
            known.push("tokenAttributes");
        }
        let within = GoStruct::Provider;
        self.object(members, &known, |d, name, value| {
            match name {
                "name" => provider.name = d.string(value, within, "string"),
                "apiVersion" => provider.api_version = d.string(value, within, "string"),
                "matchImages" => provider.match_images = d.strings(value, within)?,
                "args" => provider.args = d.strings(value, within)?,
                "defaultCacheDuration" => provider.default_cache_duration = d.duration(value)?,
                "env" => {
                    let go_type = format!("{}.ExecEnvVar", d.package());
                    provider.env =
                        d.array(value, within, &go_type, |d, item| d.env_var(item, &go_type))?;
                }
                _ => provider.token_attributes = d.token_attributes(value)?,
            }
            Ok(())
        })?;
        Ok(provider)
    }

    fn env_var(&mut self, value: &Json, go_type: &str) -> Result<EnvVar, Fatal> {
        let mut var = EnvVar::default();
        let members = match value {
            Json::Object(members) => members,
            Json::Null => return Ok(var),
            other => {
                self.mismatch(other.kind(), GoStruct::Provider, go_type);
                return Ok(var);
            }
        };
        self.object(members, &["name", "value"], |d, name, value| {
            let text = d.string(value, GoStruct::EnvVar, "string");
            match name {
                "name" => var.name = text,
                _ => var.value = text.into(),
            }
            Ok(())
        })?;
        Ok(var)
    }

    fn token_attributes(&mut self, value: &Json) -> Result<Option<TokenAttributes>, Fatal> {
        let members = match value {
            Json::Object(members) => members,
            Json::Null => return Ok(None),
            other => {
                let go_type = format!("{}.ServiceAccountTokenAttributes", self.package());
                self.mismatch(other.kind(), GoStruct::Provider, &go_type);
                return Ok(None);
            }
        };
        let mut attributes = TokenAttributes::default();
        let within = GoStruct::TokenAttributes;
        let cache_type = format!("{}.ServiceAccountTokenCacheType", self.package());
        self.object(
            members,
            &[
                "serviceAccountTokenAudience",
                "cacheType",
                "requireServiceAccount",
                "requiredServiceAccountAnnotationKeys",
                "optionalServiceAccountAnnotationKeys",
            ],
            |d, name, value| {
                match name {
                    "serviceAccountTokenAudience" => {
                        attributes.service_account_token_audience =
                            d.string(value, within, "string");
                    }
                    "cacheType" => attributes.cache_type = d.string(value, within, &cache_type),
                    "requireServiceAccount" => {
                        attributes.require_service_account = match value {
                            Json::Bool(b) => Some(*b),
                            Json::Null => None,
                            other => {
                                d.mismatch(other.kind(), within, "bool");
                                attributes.require_service_account
                            }
                        };
                    }
                    "requiredServiceAccountAnnotationKeys" => {
                        attributes.required_service_account_annotation_keys =
                            d.strings(value, within)?;
                    }
                    _ => {
                        attributes.optional_service_account_annotation_keys =
                            d.strings(value, within)?;
                    }
                }
                Ok(())
            },
        )?;
        Ok(Some(attributes))
    }

    fn string(&mut self, value: &Json, within: GoStruct, go_type: &str) -> String {
        match value {
            Json::String(s) => s.clone(),
            Json::Null => String::new(),
            other => {
                self.mismatch(other.kind(), within, go_type);
                String::new()
            }
        }
    }

    fn strings(&mut self, value: &Json, within: GoStruct) -> Result<Vec<String>, Fatal> {
        self.array(value, within, "string", |d, item| {
            Ok(d.string(item, within, "string"))
        })
    }

    /// `*metav1.Duration`: `null` leaves it unset; anything else goes to its `UnmarshalJSON`
    /// (Go's `json.Unmarshal` into a string, then `time.ParseDuration`), whose error ends the
    /// decode, with the field's context added to a type error.
    fn duration(&mut self, value: &Json) -> Result<Option<GoDuration>, Fatal> {
        match value {
            Json::Null => Ok(None),
            Json::String(s) => GoDuration::parse(s)
                .map(Some)
                .map_err(|e| StrictDecodeError::Fatal(e.to_string())),
            other => Err(StrictDecodeError::Fatal(self.type_text(
                other.kind(),
                GoStruct::Provider,
                "string",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::config::json;

    fn decode(text: &str) -> Result<CredentialProviderConfig, StrictDecodeError> {
        decode_strict(&json::parse(text.as_bytes()).unwrap(), ConfigVersion::V1)
    }

    fn fatal(text: &str) -> String {
        match decode(text) {
            Err(StrictDecodeError::Fatal(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    fn strict(text: &str) -> Vec<String> {
        match decode(text) {
            Err(StrictDecodeError::Strict(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_every_field() {
        let config = decode(r#"{"providers":[{"name":"p","matchImages":["a.io"],"defaultCacheDuration":"90s","apiVersion":"credentialprovider.kubelet.k8s.io/v1","args":["--x"],"env":[{"name":"N","value":"V"}],"tokenAttributes":{"serviceAccountTokenAudience":"aud","cacheType":"Token","requireServiceAccount":true,"requiredServiceAccountAnnotationKeys":["a/b"],"optionalServiceAccountAnnotationKeys":["c/d"]}}]}"#).unwrap();
        let p = &config.providers[0];
        assert_eq!(p.name, "p");
        assert_eq!(p.default_cache_duration, Some(GoDuration::from_secs(90)));
        assert_eq!(p.env[0].value.expose(), "V");
        let t = p.token_attributes.as_ref().unwrap();
        assert_eq!(t.require_service_account, Some(true));
        assert_eq!(t.optional_service_account_annotation_keys, ["c/d"]);
    }

    #[test]
    fn unknown_and_duplicate_fields_in_document_order() {
        assert_eq!(
            strict(
                r#"{"x":1,"providers":[{"name":"a","Name":"b","name":"c"},{"y":2}],"x":3,"providers":null}"#
            ),
            [
                "unknown field \"x\"",
                "unknown field \"providers[0].Name\"",
                "duplicate field \"providers[0].name\"",
                "unknown field \"providers[1].y\"",
                "duplicate field \"providers\"",
            ]
        );
    }

    #[test]
    fn the_first_type_error_wins_over_strict_errors() {
        assert_eq!(
            fatal(r#"{"x":1,"providers":[{"name":true,"args":[1]}]}"#),
            "json: cannot unmarshal bool into Go struct field CredentialProvider.providers.name of type string"
        );
        assert_eq!(
            fatal(r#"{"providers":[{"env":[5]}]}"#),
            "json: cannot unmarshal number into Go struct field CredentialProvider.providers.env of type v1.ExecEnvVar"
        );
        assert_eq!(
            fatal(r#"{"providers":5}"#),
            "json: cannot unmarshal number into Go struct field CredentialProviderConfig.providers of type []v1.CredentialProvider"
        );
        assert_eq!(
            fatal(r#"{"providers":[{"tokenAttributes":{"cacheType":1}}]}"#),
            "json: cannot unmarshal number into Go struct field ServiceAccountTokenAttributes.providers.tokenAttributes.cacheType of type v1.ServiceAccountTokenCacheType"
        );
    }

    #[test]
    fn a_duration_error_stops_the_decode_even_after_a_type_error() {
        assert_eq!(
            fatal(r#"{"providers":[{"name":1,"defaultCacheDuration":"12H"}]}"#),
            "time: unknown unit \"H\" in duration \"12H\""
        );
        assert_eq!(
            fatal(r#"{"providers":[{"defaultCacheDuration":[]}]}"#),
            "json: cannot unmarshal array into Go struct field CredentialProvider.providers.defaultCacheDuration of type string"
        );
    }

    #[test]
    fn beta_types_name_their_package_and_lack_token_attributes() {
        let root = json::parse(br#"{"providers":[{"tokenAttributes":{},"env":true}]}"#).unwrap();
        assert_eq!(
            decode_strict(&root, ConfigVersion::V1Beta1).unwrap_err(),
            StrictDecodeError::Fatal("json: cannot unmarshal bool into Go struct field CredentialProvider.providers.env of type []v1beta1.ExecEnvVar".into())
        );
        let root = json::parse(br#"{"providers":[{"tokenAttributes":{}}]}"#).unwrap();
        assert_eq!(
            decode_strict(&root, ConfigVersion::V1Alpha1).unwrap_err(),
            StrictDecodeError::Strict(vec![
                "unknown field \"providers[0].tokenAttributes\"".into()
            ])
        );
    }

    #[test]
    fn nulls_leave_zero_values() {
        let config = decode(r#"{"providers":[null,{"name":"p","defaultCacheDuration":null,"args":null,"env":[null],"tokenAttributes":null}]}"#).unwrap();
        assert_eq!(config.providers.len(), 2);
        assert_eq!(config.providers[1].default_cache_duration, None);
        assert_eq!(config.providers[1].env.len(), 1);
        assert!(config.providers[1].token_attributes.is_none());
    }

    #[test]
    fn errors_never_show_env_values() {
        let err = fatal(r#"{"providers":[{"env":[{"name":"A","value":7}]}]}"#);
        assert!(!err.contains('7'), "{err}");
    }
}
