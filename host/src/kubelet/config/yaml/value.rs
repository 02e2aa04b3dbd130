//! go-yaml v2's decode of a document into Go's `interface{}` (`decode.go`): scalars resolved,
//! aliases expanded (with its alias-ratio guard), merge keys `<<` applied in its order, and, as
//! `UnmarshalStrict` does, every key set twice in one map recorded as
//! `line N: key "x" already set in map` (the line of the second value). Then
//! sigs.k8s.io/yaml's conversion to JSON: keys made strings, `json.Marshal`'s refusal of NaN
//! and infinities, object keys sorted.

use std::collections::HashMap;
use std::fmt::Write as _;

use base64::Engine as _;

use super::compose::{Document, NodeKind};
use super::resolve::{self, BINARY_TAG, MERGE_TAG, TIMESTAMP_TAG};
use crate::kubelet::config::json::{Json, go_string_from_bytes};
use crate::limits::MAX_CONFIG_NESTING;
use credential_provider_protocol::matching::go_quote;

/// A value as go-yaml decodes it into `interface{}`.
#[derive(Clone, Debug, PartialEq)]
pub enum GoValue {
    /// `nil`.
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `uint64` (above `int`'s range).
    Uint(u64),
    /// `float64`.
    Float(f64),
    /// `string`.
    Str(String),
    /// `[]interface{}`.
    Seq(Vec<GoValue>),
    /// `map[interface{}]interface{}`, in insertion order (Go's has none).
    Map(GoMap),
}

/// A `map[interface{}]interface{}`: keys compared as Go compares interface values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GoMap {
    entries: Vec<(GoValue, GoValue)>,
    index: HashMap<KeyId, usize>,
}

/// A key's identity under Go's `==` on interface values (NaN is never equal, `-0 == 0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KeyId {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(u64),
    Nan(usize),
    Str(String),
}

impl GoMap {
    fn key_id(&self, key: &GoValue) -> KeyId {
        match key {
            GoValue::Nil => KeyId::Nil,
            GoValue::Bool(b) => KeyId::Bool(*b),
            GoValue::Int(i) => KeyId::Int(*i),
            GoValue::Uint(u) => KeyId::Uint(*u),
            GoValue::Float(f) if f.is_nan() => KeyId::Nan(self.entries.len()),
            GoValue::Float(f) => KeyId::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
            GoValue::Str(s) => KeyId::Str(s.clone()),
            // Unhashable keys are refused before they get here.
            GoValue::Seq(_) | GoValue::Map(_) => KeyId::Nan(self.entries.len()),
        }
    }

    /// Sets `key`; returns whether it was already set.
    fn set(&mut self, key: GoValue, value: GoValue) -> bool {
        let id = self.key_id(&key);
        match self.index.get(&id) {
            Some(&i) => {
                self.entries[i].1 = value;
                true
            }
            None => {
                self.index.insert(id, self.entries.len());
                self.entries.push((key, value));
                false
            }
        }
    }

    fn contains(&self, key: &GoValue) -> bool {
        self.index.contains_key(&self.key_id(key))
    }
}

/// What decoding the document gave: the `interface{}` value (later keys winning, as
/// `yaml.Unmarshal` does) and the strict decoder's duplicate-key messages.
pub struct Decoded {
    /// The value (`Nil` for an empty document).
    pub value: GoValue,
    /// `line N: key "x" already set in map`, in go-yaml's order.
    pub duplicates: Vec<String>,
}

/// Decodes the document as go-yaml v2 does into `interface{}`; errors are go-yaml's texts.
pub fn decode(doc: &Document) -> Result<Decoded, String> {
    let mut decoder = Decoder {
        doc,
        expanding: Vec::new(),
        duplicates: Vec::new(),
        decode_count: 0,
        alias_count: 0,
        alias_depth: 0,
        depth: 0,
    };
    let value = match doc.root {
        // The document node itself counts as one decode in go-yaml.
        Some(root) => {
            decoder.count()?;
            decoder.unmarshal(root)?
        }
        None => GoValue::Nil,
    };
    Ok(Decoded {
        value,
        duplicates: decoder.duplicates,
    })
}

struct Decoder<'d> {
    doc: &'d Document,
    /// Alias nodes being expanded (go-yaml's `d.aliases`).
    expanding: Vec<usize>,
    duplicates: Vec<String>,
    decode_count: u64,
    alias_count: u64,
    alias_depth: u64,
    depth: usize,
}

/// go-yaml's `allowedAliasRatio`.
fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

impl Decoder<'_> {
    /// The counting at the top of go-yaml's `unmarshal`.
    fn count(&mut self) -> Result<(), String> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err("yaml: document contains excessive aliasing".into());
        }
        Ok(())
    }

    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_CONFIG_NESTING {
            return Err(format!(
                "the YAML nests deeper than {MAX_CONFIG_NESTING} levels (this tool's limit)"
            ));
        }
        Ok(())
    }

    /// go-yaml's `unmarshal(n, out)` for an `interface{}` out (after its counting).
    fn unmarshal(&mut self, index: usize) -> Result<GoValue, String> {
        self.descend()?;
        let node = &self.doc.nodes[index];
        let value = match node.kind {
            NodeKind::Alias => {
                let target = self.alias_start(index)?;
                let value = self.counted(target);
                self.alias_end();
                value?
            }
            NodeKind::Scalar => self.scalar(index)?,
            NodeKind::Sequence => {
                let mut items = Vec::with_capacity(node.children.len());
                for &child in &node.children {
                    items.push(self.counted(child)?);
                }
                GoValue::Seq(items)
            }
            NodeKind::Mapping => {
                let mut map = GoMap::default();
                self.mapping(index, &mut map)?;
                GoValue::Map(map)
            }
        };
        self.depth -= 1;
        Ok(value)
    }

    fn counted(&mut self, index: usize) -> Result<GoValue, String> {
        self.count()?;
        self.unmarshal(index)
    }

    fn alias_start(&mut self, index: usize) -> Result<usize, String> {
        let node = &self.doc.nodes[index];
        if self.expanding.contains(&index) {
            return Err(format!(
                "yaml: anchor '{}' value contains itself",
                node.value
            ));
        }
        self.expanding.push(index);
        self.alias_depth += 1;
        // An alias node always has a target (the composer refuses unknown anchors).
        Ok(node.alias.unwrap_or(index))
    }

    fn alias_end(&mut self) {
        self.alias_depth -= 1;
        self.expanding.pop();
    }

    fn scalar(&mut self, index: usize) -> Result<GoValue, String> {
        let node = &self.doc.nodes[index];
        if node.tag.is_empty() && !node.implicit {
            return Ok(GoValue::Str(node.value.clone()));
        }
        let (tag, value) =
            resolve::resolve(&node.tag, &node.value).map_err(|m| format!("yaml: {m}"))?;
        if tag == BINARY_TAG {
            // Go's base64.StdEncoding.DecodeString skips line breaks.
            let text: String = node
                .value
                .chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .collect();
            let data = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| "yaml: !!binary value contains invalid base64 data".to_owned())?;
            return Ok(GoValue::Str(go_string_from_bytes(&data)));
        }
        if tag == TIMESTAMP_TAG {
            return Ok(GoValue::Str(node.value.clone()));
        }
        Ok(value)
    }

    fn is_merge(&self, index: usize) -> bool {
        let node = &self.doc.nodes[index];
        node.kind == NodeKind::Scalar
            && node.value == "<<"
            && (node.implicit || node.tag == MERGE_TAG)
    }

    /// go-yaml's `mapping` into `out` (a fresh map, or the map a merge writes into).
    fn mapping(&mut self, index: usize, out: &mut GoMap) -> Result<(), String> {
        let children = &self.doc.nodes[index].children;
        for pair in children.chunks(2) {
            let [key_index, value_index] = *pair else {
                continue;
            };
            if self.is_merge(key_index) {
                self.merge(value_index, out)?;
                continue;
            }
            let key = self.counted(key_index)?;
            if matches!(key, GoValue::Seq(_) | GoValue::Map(_)) {
                return Err(format!("yaml: invalid map key: {}", go_sharp_v(&key)));
            }
            let value = self.counted(value_index)?;
            if out.contains(&key) {
                let line = self.doc.nodes[value_index].line + 1;
                self.duplicates.push(format!(
                    "line {line}: key {} already set in map",
                    go_sharp_v(&key)
                ));
            }
            // Without strictness the later value wins; the strict pass only records the error.
            out.set(key, value);
        }
        Ok(())
    }

    /// go-yaml's `merge`: a map, an alias of a map, or a sequence of those (the last first, so
    /// earlier maps win).
    fn merge(&mut self, index: usize, out: &mut GoMap) -> Result<(), String> {
        const WANT_MAP: &str = "yaml: map merge requires map or sequence of maps as the value";
        let node = &self.doc.nodes[index];
        match node.kind {
            NodeKind::Mapping => self.merge_one(index, out),
            NodeKind::Alias => {
                if node
                    .alias
                    .is_some_and(|t| self.doc.nodes[t].kind != NodeKind::Mapping)
                {
                    return Err(WANT_MAP.into());
                }
                self.merge_one(index, out)
            }
            NodeKind::Sequence => {
                for &child in node.children.iter().rev() {
                    let child_node = &self.doc.nodes[child];
                    let is_map = match child_node.kind {
                        NodeKind::Alias => child_node
                            .alias
                            .is_none_or(|t| self.doc.nodes[t].kind == NodeKind::Mapping),
                        NodeKind::Mapping => true,
                        _ => false,
                    };
                    if !is_map {
                        return Err(WANT_MAP.into());
                    }
                    self.merge_one(child, out)?;
                }
                Ok(())
            }
            NodeKind::Scalar => Err(WANT_MAP.into()),
        }
    }

    /// `d.unmarshal(n, out)` with `out` an existing map: counted, aliases followed.
    fn merge_one(&mut self, index: usize, out: &mut GoMap) -> Result<(), String> {
        self.count()?;
        self.descend()?;
        let result = if self.doc.nodes[index].kind == NodeKind::Alias {
            let target = self.alias_start(index)?;
            let result = self.count().and_then(|()| self.mapping(target, out));
            self.alias_end();
            result
        } else {
            self.mapping(index, out)
        };
        self.depth -= 1;
        result
    }
}

// ---------------------------------------------------------------------------------------------
// sigs.k8s.io/yaml: to JSON
// ---------------------------------------------------------------------------------------------

/// `convertToJSONableObject` then `json.Marshal` (keys sorted), as `yaml.YAMLToJSON` does.
pub fn to_json(value: &GoValue) -> Result<Json, String> {
    let converted = jsonable(value)?;
    marshal_check(&converted)?;
    Ok(converted)
}

fn jsonable(value: &GoValue) -> Result<Json, String> {
    Ok(match value {
        GoValue::Nil => Json::Null,
        GoValue::Bool(b) => Json::Bool(*b),
        GoValue::Int(i) => Json::Number(i.to_string()),
        GoValue::Uint(u) => Json::Number(u.to_string()),
        // Kept as a number; NaN and infinities are refused by `marshal_check`.
        GoValue::Float(f) => Json::Number(float_text(*f)),
        GoValue::Str(s) => Json::String(s.clone()),
        GoValue::Seq(items) => Json::Array(items.iter().map(jsonable).collect::<Result<_, _>>()?),
        GoValue::Map(map) => {
            let mut members: Vec<(String, Json)> = Vec::with_capacity(map.entries.len());
            for (key, value) in &map.entries {
                let key = match key {
                    GoValue::Str(s) => s.clone(),
                    GoValue::Int(i) => i.to_string(),
                    GoValue::Float(f) => match go_format_g(*f, true).as_str() {
                        "+Inf" => ".inf".to_owned(),
                        "-Inf" => "-.inf".to_owned(),
                        "NaN" => ".nan".to_owned(),
                        s => s.to_owned(),
                    },
                    GoValue::Bool(b) => b.to_string(),
                    other => {
                        let type_name = match other {
                            GoValue::Uint(_) => "uint64",
                            _ => "%!s(<nil>)",
                        };
                        return Err(format!(
                            "unsupported map key of type: {type_name}, key: {}, value: {}",
                            go_sharp_v(other),
                            go_sharp_v(value)
                        ));
                    }
                };
                let value = jsonable(value)?;
                // Two keys that print alike (1 and "1"): Go keeps one of them, in map order.
                match members.iter_mut().find(|(k, _)| *k == key) {
                    Some(member) => member.1 = value,
                    None => members.push((key, value)),
                }
            }
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(members)
        }
    })
}

/// Text for a float that `marshal_check` later accepts or refuses; only its kind matters.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        go_format_g(f, false)
    }
}

/// `json.Marshal`'s refusal of NaN and infinities, in its (sorted, depth-first) order.
fn marshal_check(value: &Json) -> Result<(), String> {
    match value {
        Json::Number(text) if matches!(text.as_str(), "NaN" | "+Inf" | "-Inf") => {
            Err(format!("json: unsupported value: {text}"))
        }
        Json::Array(items) => items.iter().try_for_each(marshal_check),
        Json::Object(members) => members.iter().try_for_each(|(_, v)| marshal_check(v)),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Go's formatting of values in these messages
// ---------------------------------------------------------------------------------------------

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` (or `32`: rounded to a float32 first).
pub fn go_format_g(f: f64, as_f32: bool) -> String {
    let (f, digits_exp) = if as_f32 {
        let g = f as f32;
        (f64::from(g), format!("{g:e}"))
    } else {
        (f, format!("{f:e}"))
    };
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.5e-7`.
    let (mantissa, exp) = digits_exp.split_once('e').unwrap_or((&digits_exp, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            out.push_str(&"0".repeat(point - digits.len()));
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// Go's `%#v` of a decoded value (map keys ordered by kind, then value).
pub fn go_sharp_v(value: &GoValue) -> String {
    let mut out = String::new();
    sharp_v(value, true, &mut out);
    out
}

fn sharp_v(value: &GoValue, top: bool, out: &mut String) {
    match value {
        GoValue::Nil if top => out.push_str("<nil>"),
        GoValue::Nil => out.push_str("interface {}(nil)"),
        GoValue::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        GoValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        GoValue::Uint(u) => {
            let _ = write!(out, "0x{u:x}");
        }
        GoValue::Float(f) => out.push_str(&go_format_g(*f, false)),
        GoValue::Str(s) => out.push_str(&go_quote(s)),
        GoValue::Seq(items) => {
            out.push_str("[]interface {}{");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                sharp_v(item, false, out);
            }
            out.push('}');
        }
        GoValue::Map(map) => {
            let mut entries: Vec<&(GoValue, GoValue)> = map.entries.iter().collect();
            entries.sort_by(|a, b| key_order(&a.0, &b.0));
            out.push_str("map[interface {}]interface {}{");
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                sharp_v(k, false, out);
                out.push(':');
                sharp_v(v, false, out);
            }
            out.push('}');
        }
    }
}

fn key_order(a: &GoValue, b: &GoValue) -> std::cmp::Ordering {
    let rank = |v: &GoValue| match v {
        GoValue::Nil => 0,
        GoValue::Bool(_) => 1,
        GoValue::Int(_) => 2,
        GoValue::Uint(_) => 3,
        GoValue::Float(_) => 4,
        GoValue::Str(_) => 5,
        GoValue::Seq(_) => 6,
        GoValue::Map(_) => 7,
    };
    match (a, b) {
        (GoValue::Bool(x), GoValue::Bool(y)) => x.cmp(y),
        (GoValue::Int(x), GoValue::Int(y)) => x.cmp(y),
        (GoValue::Uint(x), GoValue::Uint(y)) => x.cmp(y),
        (GoValue::Float(x), GoValue::Float(y)) => x.total_cmp(y),
        (GoValue::Str(x), GoValue::Str(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_floats_like_go() {
        for (f, text) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1e21, "1e+21"),
        ] {
            assert_eq!(go_format_g(f, false), text, "{f}");
        }
        assert_eq!(go_format_g(0.1, true), "0.1");
        assert_eq!(go_format_g(std::f64::consts::PI, true), "3.1415927");
        assert_eq!(go_format_g(1e300, true), "+Inf");
    }

    #[test]
    fn sharp_v_reads_like_go() {
        assert_eq!(go_sharp_v(&GoValue::Str("name".into())), "\"name\"");
        assert_eq!(go_sharp_v(&GoValue::Nil), "<nil>");
        assert_eq!(go_sharp_v(&GoValue::Uint(u64::MAX)), "0xffffffffffffffff");
        assert_eq!(
            go_sharp_v(&GoValue::Seq(vec![
                GoValue::Str("a".into()),
                GoValue::Nil,
                GoValue::Int(1)
            ])),
            "[]interface {}{\"a\", interface {}(nil), 1}"
        );
    }
}
