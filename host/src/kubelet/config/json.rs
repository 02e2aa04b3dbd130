//! JSON as the kubelet's codec reads it: Go's `encoding/json` syntax check, with its exact
//! messages (`invalid character ']' looking for beginning of value`, `... after top-level
//! value`, `unexpected end of JSON input`), then a tree that keeps object members in document
//! order, duplicates included, for the strict decode that reports them.
//!
//! Hand-written because the kubelet's verdict and error text depend on Go's scanner state
//! machine (`encoding/json/scanner.go`) byte for byte; `serde_json` refuses the same inputs
//! with other words and accepts a few Go refuses (nesting past 10000).

use std::fmt::Write as _;

use credential_provider_protocol::matching::go_quote;

/// Go's `maxNestingDepth`: deeper input is a syntax error.
const MAX_NESTING_DEPTH: usize = 10_000;

/// Members deeper than this are kept as their kind only: the strict decode never looks further
/// into a config (root, providers, provider, env, variable, value), and a shallow tree is
/// dropped without deep recursion.
const TREE_DEPTH: usize = 16;

/// A JSON value as the strict decode needs it.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped the way Go does (bad surrogates become U+FFFD).
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: members in document order, duplicate keys kept.
    Object(Vec<(String, Json)>),
    /// A value below [`TREE_DEPTH`]: only its kind is kept.
    Deep(Kind),
}

/// The kind of a JSON value, named as Go's `UnmarshalTypeError` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    /// Go's word for the kind (`number`, `bool`, `object`, ...).
    pub fn go_name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

impl Json {
    /// The value's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Json::Null => Kind::Null,
            Json::Bool(_) => Kind::Bool,
            Json::Number(_) => Kind::Number,
            Json::String(_) => Kind::String,
            Json::Array(_) => Kind::Array,
            Json::Object(_) => Kind::Object,
            Json::Deep(kind) => *kind,
        }
    }
}

/// Checks `data` with Go's scanner and returns its value, or Go's `SyntaxError` text.
pub fn parse(data: &[u8]) -> Result<Json, String> {
    check_valid(data)?;
    Ok(Builder::new(data).value(0))
}

// ---------------------------------------------------------------------------------------------
// The scanner: Go's `encoding/json` state machine
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    BeginValueOrEmpty,
    BeginValue,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    EndTop,
    InString,
    InStringEsc,
    InStringEscU(u8),
    Neg,
    One,
    Zero,
    Dot,
    Dot0,
    E,
    ESign,
    E0,
    Literal(&'static [u8], u8, &'static str),
    Error,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParseState {
    ObjectKey,
    ObjectValue,
    ArrayValue,
}

struct Scanner {
    step: Step,
    parse_state: Vec<ParseState>,
    end_top: bool,
    err: Option<String>,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `quoteChar`: the byte as a (Latin-1) character in single quotes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        _ => {
            let mut utf8 = [0; 4];
            let quoted = go_quote(char::from(c).encode_utf8(&mut utf8).as_bytes());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

impl Scanner {
    fn new() -> Self {
        Scanner {
            step: Step::BeginValue,
            parse_state: Vec::new(),
            end_top: false,
            err: None,
        }
    }

    fn error(&mut self, c: u8, context: &str) -> bool {
        self.step = Step::Error;
        self.err = Some(format!("invalid character {} {context}", quote_char(c)));
        false
    }

    fn push(&mut self, c: u8, state: ParseState) -> bool {
        self.parse_state.push(state);
        if self.parse_state.len() <= MAX_NESTING_DEPTH {
            true
        } else {
            self.error(c, "exceeded max depth")
        }
    }

    /// One byte; false on a syntax error.
    fn feed(&mut self, c: u8) -> bool {
        match self.step {
            Step::BeginValueOrEmpty => {
                if is_space(c) {
                    return true;
                }
                if c == b']' {
                    return self.end_value(c);
                }
                self.begin_value(c)
            }
            Step::BeginValue => self.begin_value(c),
            Step::BeginStringOrEmpty => {
                if is_space(c) {
                    return true;
                }
                if c == b'}' {
                    if let Some(last) = self.parse_state.last_mut() {
                        *last = ParseState::ObjectValue;
                    }
                    return self.end_value(c);
                }
                self.begin_string(c)
            }
            Step::BeginString => self.begin_string(c),
            Step::EndValue => self.end_value(c),
            Step::EndTop => {
                if !is_space(c) {
                    return self.error(c, "after top-level value");
                }
                true
            }
            Step::InString => {
                match c {
                    b'"' => self.step = Step::EndValue,
                    b'\\' => self.step = Step::InStringEsc,
                    c if c < 0x20 => return self.error(c, "in string literal"),
                    _ => {}
                }
                true
            }
            Step::InStringEsc => match c {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {
                    self.step = Step::InString;
                    true
                }
                b'u' => {
                    self.step = Step::InStringEscU(0);
                    true
                }
                _ => self.error(c, "in string escape code"),
            },
            Step::InStringEscU(n) => {
                if !c.is_ascii_hexdigit() {
                    return self.error(c, "in \\u hexadecimal character escape");
                }
                self.step = if n == 3 {
                    Step::InString
                } else {
                    Step::InStringEscU(n + 1)
                };
                true
            }
            Step::Neg => match c {
                b'0' => {
                    self.step = Step::Zero;
                    true
                }
                b'1'..=b'9' => {
                    self.step = Step::One;
                    true
                }
                _ => self.error(c, "in numeric literal"),
            },
            Step::One => {
                if c.is_ascii_digit() {
                    return true;
                }
                self.zero(c)
            }
            Step::Zero => self.zero(c),
            Step::Dot => {
                if c.is_ascii_digit() {
                    self.step = Step::Dot0;
                    return true;
                }
                self.error(c, "after decimal point in numeric literal")
            }
            Step::Dot0 => {
                if c.is_ascii_digit() {
                    return true;
                }
                if c == b'e' || c == b'E' {
                    self.step = Step::E;
                    return true;
                }
                self.end_value(c)
            }
            Step::E => {
                if c == b'+' || c == b'-' {
                    self.step = Step::ESign;
                    return true;
                }
                self.e_sign(c)
            }
            Step::ESign => self.e_sign(c),
            Step::E0 => {
                if c.is_ascii_digit() {
                    return true;
                }
                self.end_value(c)
            }
            Step::Literal([], _, _) => self.end_value(c),
            Step::Literal(rest, _, name) => {
                if c == rest[0] {
                    self.step = Step::Literal(&rest[1..], rest[0], name);
                    if rest.len() == 1 {
                        self.step = Step::EndValue;
                    }
                    return true;
                }
                self.error(
                    c,
                    &format!("in literal {name} (expecting '{}')", char::from(rest[0])),
                )
            }
            Step::Error => false,
        }
    }

    fn begin_value(&mut self, c: u8) -> bool {
        if is_space(c) {
            return true;
        }
        match c {
            b'{' => {
                self.step = Step::BeginStringOrEmpty;
                self.push(c, ParseState::ObjectKey)
            }
            b'[' => {
                self.step = Step::BeginValueOrEmpty;
                self.push(c, ParseState::ArrayValue)
            }
            b'"' => {
                self.step = Step::InString;
                true
            }
            b'-' => {
                self.step = Step::Neg;
                true
            }
            b'0' => {
                self.step = Step::Zero;
                true
            }
            b'1'..=b'9' => {
                self.step = Step::One;
                true
            }
            b't' => {
                self.step = Step::Literal(b"rue", b't', "true");
                true
            }
            b'f' => {
                self.step = Step::Literal(b"alse", b'f', "false");
                true
            }
            b'n' => {
                self.step = Step::Literal(b"ull", b'n', "null");
                true
            }
            _ => self.error(c, "looking for beginning of value"),
        }
    }

    fn begin_string(&mut self, c: u8) -> bool {
        if is_space(c) {
            return true;
        }
        if c == b'"' {
            self.step = Step::InString;
            return true;
        }
        self.error(c, "looking for beginning of object key string")
    }

    fn zero(&mut self, c: u8) -> bool {
        match c {
            b'.' => {
                self.step = Step::Dot;
                true
            }
            b'e' | b'E' => {
                self.step = Step::E;
                true
            }
            _ => self.end_value(c),
        }
    }

    fn e_sign(&mut self, c: u8) -> bool {
        if c.is_ascii_digit() {
            self.step = Step::E0;
            return true;
        }
        self.error(c, "in exponent of numeric literal")
    }

    fn end_value(&mut self, c: u8) -> bool {
        let Some(&state) = self.parse_state.last() else {
            self.step = Step::EndTop;
            self.end_top = true;
            return self.feed(c);
        };
        if is_space(c) {
            self.step = Step::EndValue;
            return true;
        }
        match state {
            ParseState::ObjectKey => {
                if c == b':' {
                    if let Some(last) = self.parse_state.last_mut() {
                        *last = ParseState::ObjectValue;
                    }
                    self.step = Step::BeginValue;
                    return true;
                }
                self.error(c, "after object key")
            }
            ParseState::ObjectValue => match c {
                b',' => {
                    if let Some(last) = self.parse_state.last_mut() {
                        *last = ParseState::ObjectKey;
                    }
                    self.step = Step::BeginString;
                    true
                }
                b'}' => self.pop(),
                _ => self.error(c, "after object key:value pair"),
            },
            ParseState::ArrayValue => match c {
                b',' => {
                    self.step = Step::BeginValue;
                    true
                }
                b']' => self.pop(),
                _ => self.error(c, "after array element"),
            },
        }
    }

    fn pop(&mut self) -> bool {
        self.parse_state.pop();
        if self.parse_state.is_empty() {
            self.step = Step::EndTop;
            self.end_top = true;
        } else {
            self.step = Step::EndValue;
        }
        true
    }

    /// Go's `scanner.eof`.
    fn eof(&mut self) -> Result<(), String> {
        if let Some(err) = &self.err {
            return Err(err.clone());
        }
        if self.end_top {
            return Ok(());
        }
        self.feed(b' ');
        if self.end_top {
            return Ok(());
        }
        Err(self
            .err
            .clone()
            .unwrap_or_else(|| "unexpected end of JSON input".to_owned()))
    }
}

/// Go's `checkValid`: the whole input is one JSON value and whitespace.
pub fn check_valid(data: &[u8]) -> Result<(), String> {
    let mut scanner = Scanner::new();
    for &c in data {
        if !scanner.feed(c) {
            return Err(scanner.err.unwrap_or_else(|| "invalid JSON".to_owned()));
        }
    }
    scanner.eof()
}

// ---------------------------------------------------------------------------------------------
// The tree, built from input already known to be valid
// ---------------------------------------------------------------------------------------------

struct Builder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Builder<'a> {
    fn new(data: &'a [u8]) -> Self {
        Builder { data, pos: 0 }
    }

    fn peek(&self) -> u8 {
        self.data.get(self.pos).copied().unwrap_or(b' ')
    }

    fn skip_space(&mut self) {
        while self.pos < self.data.len() && is_space(self.data[self.pos]) {
            self.pos += 1;
        }
    }

    /// The value at `pos` (valid JSON), kept whole down to [`TREE_DEPTH`].
    fn value(&mut self, depth: usize) -> Json {
        self.skip_space();
        if depth >= TREE_DEPTH {
            return Json::Deep(self.skip_value());
        }
        match self.peek() {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                loop {
                    self.skip_space();
                    if self.peek() == b'}' {
                        self.pos += 1;
                        break;
                    }
                    if self.peek() == b',' {
                        self.pos += 1;
                        continue;
                    }
                    let key = self.string();
                    self.skip_space();
                    self.pos += 1; // ':'
                    let value = self.value(depth + 1);
                    members.push((key, value));
                }
                Json::Object(members)
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        b']' => {
                            self.pos += 1;
                            break;
                        }
                        b',' => self.pos += 1,
                        _ => items.push(self.value(depth + 1)),
                    }
                }
                Json::Array(items)
            }
            b'"' => Json::String(self.string()),
            b't' => {
                self.pos += 4;
                Json::Bool(true)
            }
            b'f' => {
                self.pos += 5;
                Json::Bool(false)
            }
            b'n' => {
                self.pos += 4;
                Json::Null
            }
            _ => {
                let start = self.pos;
                while self.pos < self.data.len()
                    && matches!(
                        self.data[self.pos],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.pos += 1;
                }
                Json::Number(String::from_utf8_lossy(&self.data[start..self.pos]).into_owned())
            }
        }
    }

    /// Skips a value without building it (iteratively: depth is bounded only by Go's limit).
    fn skip_value(&mut self) -> Kind {
        self.skip_space();
        let kind = match self.peek() {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => {
                self.string();
                return Kind::String;
            }
            b't' | b'f' => Kind::Bool,
            b'n' => Kind::Null,
            _ => Kind::Number,
        };
        match kind {
            Kind::Object | Kind::Array => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                break;
                            }
                        }
                        b'"' => {
                            self.string();
                            continue;
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while self.pos < self.data.len()
                    && !matches!(self.data[self.pos], b',' | b']' | b'}')
                    && !is_space(self.data[self.pos])
                {
                    self.pos += 1;
                }
            }
        }
        kind
    }

    /// A string literal at `pos`, unquoted as Go's `unquote` does.
    fn string(&mut self) -> String {
        self.pos += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        while self.pos < self.data.len() {
            let c = self.data[self.pos];
            match c {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let e = self.data.get(self.pos + 1).copied().unwrap_or(b'"');
                    self.pos += 2;
                    let simple = match e {
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        other => Some(other),
                    };
                    if let Some(byte) = simple {
                        out.push(byte);
                        continue;
                    }
                    let first = self.hex4();
                    let ch = if (0xD800..0xDC00).contains(&first)
                        && self.data.get(self.pos) == Some(&b'\\')
                        && self.data.get(self.pos + 1) == Some(&b'u')
                    {
                        let save = self.pos;
                        self.pos += 2;
                        let second = self.hex4();
                        if (0xDC00..0xE000).contains(&second) {
                            char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
                        } else {
                            // Go: a bad pair decodes the first half as U+FFFD and goes on
                            // from the second escape.
                            self.pos = save;
                            None
                        }
                    } else {
                        char::from_u32(first)
                    };
                    let ch = ch.unwrap_or('\u{fffd}');
                    let mut utf8 = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        go_string_from_bytes(&out)
    }

    fn hex4(&mut self) -> u32 {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = self
                .data
                .get(self.pos)
                .and_then(|b| char::from(*b).to_digit(16))
                .unwrap_or(0);
            value = value * 16 + digit;
            self.pos += 1;
        }
        value
    }
}

/// Bytes as a Go string turned into a Rust one: each byte of an invalid sequence becomes
/// U+FFFD, as Go's decoders and `json.Marshal` replace them.
pub fn go_string_from_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{fffd}');
        }
    }
    out
}

/// Go's `json.Marshal` of a string (HTML-safe escaping included), for values the kubelet
/// renders through it (`field.Invalid` of a `[]string` or a duration).
pub fn go_marshal_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> String {
        parse(input.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_errors_read_like_go() {
        for (input, message) in [
            (
                r#"{"a":[1,]}"#,
                "invalid character ']' looking for beginning of value",
            ),
            (
                r#"{"a":1} {"b":2}"#,
                "invalid character '{' after top-level value",
            ),
            (
                "{'a':1}",
                r"invalid character '\'' looking for beginning of object key string",
            ),
            (
                r#"{"a":1,}"#,
                "invalid character '}' looking for beginning of object key string",
            ),
            (r#"{"a" 1}"#, "invalid character '1' after object key"),
            (
                r#"{"a":1 "b":2}"#,
                "invalid character '\"' after object key:value pair",
            ),
            (
                r#"{"a":[1 2]}"#,
                "invalid character '2' after array element",
            ),
            (
                "{\"a\":\"x\ty\"}",
                r"invalid character '\t' in string literal",
            ),
            (
                r#"{"a":"\x"}"#,
                "invalid character 'x' in string escape code",
            ),
            (
                r#"{"a":"\u12g4"}"#,
                r"invalid character 'g' in \u hexadecimal character escape",
            ),
            (r#"{"a":-x}"#, "invalid character 'x' in numeric literal"),
            (
                r#"{"a":1.x}"#,
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                r#"{"a":1ex}"#,
                "invalid character 'x' in exponent of numeric literal",
            ),
            (
                r#"{"a":01}"#,
                "invalid character '1' after object key:value pair",
            ),
            (
                r#"{"a":tru}"#,
                "invalid character '}' in literal true (expecting 'e')",
            ),
            (
                r#"{"a":nul}"#,
                "invalid character '}' in literal null (expecting 'l')",
            ),
            (
                r#"{"a":fals}"#,
                "invalid character '}' in literal false (expecting 'e')",
            ),
            (r#"{"a":1"#, "unexpected end of JSON input"),
            (
                "{\"a\":1}\u{c}",
                r"invalid character '\f' after top-level value",
            ),
            (
                "{\"a\":\u{e9}}",
                "invalid character 'Ã' looking for beginning of value",
            ),
            (
                r#"{"a":/*c*/1}"#,
                "invalid character '/' looking for beginning of value",
            ),
        ] {
            assert_eq!(err(input), message, "{input}");
        }
    }

    #[test]
    fn nesting_is_bounded_like_go() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(err(&deep), "invalid character '[' exceeded max depth");
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(9_998), "]".repeat(9_998));
        let Json::Object(members) = parse(fine.as_bytes()).unwrap() else {
            panic!("not an object")
        };
        assert_eq!(members[0].1.kind(), Kind::Array);
    }

    #[test]
    fn keeps_duplicates_in_order_and_unescapes() {
        let value =
            parse(br#" {"b":1,"a":"x\u00e9\ud83d\ude00\ud800y","b":[true,null]} "#).unwrap();
        assert_eq!(
            value,
            Json::Object(vec![
                ("b".into(), Json::Number("1".into())),
                ("a".into(), Json::String("x\u{e9}\u{1f600}\u{fffd}y".into())),
                ("b".into(), Json::Array(vec![Json::Bool(true), Json::Null])),
            ])
        );
    }

    #[test]
    fn marshals_strings_like_go() {
        assert_eq!(
            go_marshal_string("a<b>&\"\u{1}"),
            r#""a\u003cb\u003e\u0026\"\u0001""#
        );
    }
}
