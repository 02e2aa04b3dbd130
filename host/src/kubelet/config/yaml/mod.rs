//! YAML as the kubelet reads it: `sigs.k8s.io/yaml.YAMLToJSON` over go-yaml v2, which is YAML
//! 1.1 (`yes`/`on`/`n` booleans, `0755` octal), merge keys, only the first document, and
//! go-yaml's error texts; plus what `YAMLToJSONStrict` adds, the duplicate-key errors.
//!
//! Events come from `libyaml-safer`, a maintained safe port of libyaml (the C library go-yaml
//! v2 is itself a Go port of), so scanner and parser problems, their marks and scalar styles
//! are libyaml's; the node tree, YAML 1.1 resolution, merges and the JSON conversion are ours,
//! written to go-yaml v2.4's and sigs.k8s.io/yaml v1.6's rules.

mod compose;
mod reader;
mod resolve;
mod value;

use super::json::Json;

/// The document as JSON, and what the strict pass would add.
#[derive(Debug)]
pub struct Converted {
    /// `YAMLToJSON`'s result (later duplicate keys win; object keys sorted).
    pub json: Json,
    /// `YAMLToJSONStrict`'s error (`yaml: unmarshal errors:\n  line 7: key "x" already set in
    /// map`), when a map sets a key twice.
    pub strict_error: Option<String>,
}

/// Converts one file's bytes as the kubelet's YAML serializer does; the error is the text
/// the kubelet shows after `error decoding config "<file>": `.
pub fn to_json(data: &[u8]) -> Result<Converted, String> {
    let text = reader::decode(data).map_err(|problem| format!("yaml: {problem}"))?;
    let document = compose::first_document(&text)?;
    let decoded = value::decode(&document)?;
    let json = value::to_json(&decoded.value)?;
    let strict_error = (!decoded.duplicates.is_empty()).then(|| {
        format!(
            "yaml: unmarshal errors:\n  {}",
            decoded.duplicates.join("\n  ")
        )
    });
    Ok(Converted { json, strict_error })
}

#[cfg(test)]
mod tests;
