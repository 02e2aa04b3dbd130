//! YAML 1.1 scalar resolution as go-yaml v2's `resolve.go` does it: what a plain scalar is
//! (`y`, `Yes`, `on`, `OFF` booleans; `0755` octal, `0x1F`, `0b101`, `1_000`, `+1` integers;
//! `.5`, `1e3`, `.inf`, `.NaN` floats; `~`, `null`, `Null`, empty nulls), and the check that a
//! tagged scalar (`!!int x`) can be what its tag says.
//!
//! Hand-written: no maintained Rust crate resolves YAML 1.1 the way go-yaml v2 does, and the
//! kubelet's verdict on `name: n` or `value: 0755` depends on it exactly.

use super::value::GoValue;

/// The YAML core tags go-yaml resolves.
pub const STR_TAG: &str = "tag:yaml.org,2002:str";
/// `!!bool`.
pub const BOOL_TAG: &str = "tag:yaml.org,2002:bool";
/// `!!int`.
pub const INT_TAG: &str = "tag:yaml.org,2002:int";
/// `!!float`.
pub const FLOAT_TAG: &str = "tag:yaml.org,2002:float";
/// `!!null`.
pub const NULL_TAG: &str = "tag:yaml.org,2002:null";
/// `!!timestamp`.
pub const TIMESTAMP_TAG: &str = "tag:yaml.org,2002:timestamp";
/// `!!binary`.
pub const BINARY_TAG: &str = "tag:yaml.org,2002:binary";
/// `!!merge`.
pub const MERGE_TAG: &str = "tag:yaml.org,2002:merge";

const LONG_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// go-yaml's `shortTag`: `tag:yaml.org,2002:int` as `!!int`.
pub fn short_tag(tag: &str) -> String {
    match tag.strip_prefix(LONG_TAG_PREFIX) {
        Some(rest) => format!("!!{rest}"),
        None => tag.to_owned(),
    }
}

/// A resolved scalar: its tag and value.
pub struct Resolved {
    /// The tag it resolved to.
    pub tag: &'static str,
    /// The value (`Nil` for null).
    pub value: GoValue,
}

fn resolved(tag: &'static str, value: GoValue) -> Resolved {
    Resolved { tag, value }
}

/// The fixed words of YAML 1.1 (go-yaml's `resolveMap`).
fn resolve_word(s: &str) -> Option<Resolved> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            resolved(BOOL_TAG, GoValue::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            resolved(BOOL_TAG, GoValue::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => resolved(NULL_TAG, GoValue::Nil),
        ".nan" | ".NaN" | ".NAN" => resolved(FLOAT_TAG, GoValue::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            resolved(FLOAT_TAG, GoValue::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => resolved(FLOAT_TAG, GoValue::Float(f64::NEG_INFINITY)),
        "<<" => resolved(MERGE_TAG, GoValue::Str("<<".into())),
        _ => return None,
    })
}

/// go-yaml's `resolveTable` hint for the first byte.
fn hint(s: &str) -> u8 {
    match s.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    }
}

/// go-yaml's `resolvableTag`.
fn resolvable(tag: &str) -> bool {
    matches!(
        tag,
        "" | STR_TAG | BOOL_TAG | INT_TAG | FLOAT_TAG | NULL_TAG | TIMESTAMP_TAG
    )
}

/// The result of resolving a scalar: its tag (owned, as a custom tag stays as written) and
/// value, or go-yaml's `cannot decode` message (without its `yaml: ` prefix).
pub fn resolve(tag: &str, input: &str) -> Result<(String, GoValue), String> {
    if !resolvable(tag) {
        return Ok((tag.to_owned(), GoValue::Str(input.to_owned())));
    }
    let found = resolve_plain(tag, input);
    // go-yaml's deferred check: the tag asked for must be the one found (an int may be a float).
    if tag.is_empty() || tag == found.tag || tag == STR_TAG || tag == BINARY_TAG {
        return Ok((found.tag.to_owned(), found.value));
    }
    if tag == FLOAT_TAG
        && found.tag == INT_TAG
        && let GoValue::Int(i) = found.value
    {
        return Ok((FLOAT_TAG.to_owned(), GoValue::Float(i as f64)));
    }
    Err(format!(
        "cannot decode {} `{input}` as a {}",
        short_tag(found.tag),
        short_tag(tag)
    ))
}

fn resolve_plain(tag: &str, input: &str) -> Resolved {
    let hint = hint(input);
    if hint == 0 || tag == STR_TAG || tag == BINARY_TAG {
        return resolved(STR_TAG, GoValue::Str(input.to_owned()));
    }
    if let Some(word) = resolve_word(input) {
        return word;
    }
    match hint {
        b'.' => {
            if let Some(f) = go_parse_float_dot(input) {
                return resolved(FLOAT_TAG, GoValue::Float(f));
            }
        }
        b'D' | b'S' => {
            if (tag.is_empty() || tag == TIMESTAMP_TAG) && is_timestamp(input) {
                return resolved(TIMESTAMP_TAG, GoValue::Str(input.to_owned()));
            }
            let plain = input.replace('_', "");
            if let Some(i) = go_parse_int(&plain) {
                return resolved(INT_TAG, GoValue::Int(i));
            }
            if let Some(u) = go_parse_uint(&plain) {
                return resolved(INT_TAG, GoValue::Uint(u));
            }
            if is_yaml_style_float(&plain)
                && let Ok(f) = plain.parse::<f64>()
                && f.is_finite()
            {
                return resolved(FLOAT_TAG, GoValue::Float(f));
            }
        }
        _ => {}
    }
    resolved(STR_TAG, GoValue::Str(input.to_owned()))
}

/// Go's `strconv.ParseUint(s, 0, 64)` digits after the sign: base prefixes `0x`, `0o`, `0b`
/// and a leading `0` for octal.
fn parse_unsigned_base0(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    let (digits, radix) = if bytes.len() >= 2 && bytes[0] == b'0' {
        match bytes[1] {
            b'x' | b'X' => (&s[2..], 16),
            b'o' | b'O' => (&s[2..], 8),
            b'b' | b'B' => (&s[2..], 2),
            _ => (&s[1..], 8),
        }
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)` (underscores already removed).
fn go_parse_int(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_unsigned_base0(rest)?;
    if negative {
        if magnitude <= 1u64 << 63 {
            Some((magnitude as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`: no sign.
fn go_parse_uint(s: &str) -> Option<u64> {
    parse_unsigned_base0(s)
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for text starting with `.`: `.5`, `.5e3`, `.5_5`
/// (underscores between digits, as Go literals allow). Out of range is an error in Go.
fn go_parse_float_dot(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 1;
    let digits = |i: &mut usize| -> bool {
        let start = *i;
        while *i < b.len() {
            match b[*i] {
                b'0'..=b'9' => *i += 1,
                b'_' if *i > start
                    && b[*i - 1].is_ascii_digit()
                    && b.get(*i + 1).is_some_and(u8::is_ascii_digit) =>
                {
                    *i += 1
                }
                _ => break,
            }
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let f: f64 = format!("0{}", s.replace('_', "")).parse().ok()?;
    f.is_finite().then_some(f)
}

/// go-yaml's `parseTimestamp`: four digits and `-`, then one of the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (or `t`), `2006-1-2 15:4:5.999999999`, `2006-1-2`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut rest = &s[5..];
    let number = |rest: &mut &str, max_len: usize, range: std::ops::RangeInclusive<u32>| {
        let len = rest
            .bytes()
            .take(max_len)
            .take_while(u8::is_ascii_digit)
            .count();
        let value: Option<u32> = rest[..len].parse().ok();
        *rest = &rest[len..];
        value.filter(|v| range.contains(v))
    };
    let (Some(month), true, Some(day)) = (
        number(&mut rest, 2, 1..=12),
        {
            let ok = rest.starts_with('-');
            if ok {
                rest = &rest[1..];
            }
            ok
        },
        number(&mut rest, 2, 1..=31),
    ) else {
        return false;
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let zone_allowed = rest.starts_with('T') || rest.starts_with('t');
    if !(zone_allowed || rest.starts_with(' ')) {
        return false;
    }
    rest = &rest[1..];
    let (Some(_), true, Some(_), true, Some(_)) = (
        number(&mut rest, 2, 0..=23),
        eat(&mut rest, ':'),
        number(&mut rest, 2, 0..=59),
        eat(&mut rest, ':'),
        number(&mut rest, 2, 0..=59),
    ) else {
        return false;
    };
    if eat(&mut rest, '.') {
        let len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 9 {
            return false;
        }
        rest = &rest[len..];
    }
    if !zone_allowed {
        return rest.is_empty();
    }
    if rest == "Z" {
        return true;
    }
    let b = rest.as_bytes();
    b.len() == 6
        && matches!(b[0], b'+' | b'-')
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3] == b':'
        && b[4..6].iter().all(u8::is_ascii_digit)
}

fn eat(rest: &mut &str, c: char) -> bool {
    match rest.strip_prefix(c) {
        Some(r) => {
            *rest = r;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> (String, GoValue) {
        resolve("", s).unwrap()
    }

    #[test]
    fn yaml11_booleans() {
        for s in [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(plain(s).1, GoValue::Bool(true), "{s}");
        }
        for s in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(plain(s).1, GoValue::Bool(false), "{s}");
        }
        for s in ["yEs", "oN", "nO", "tRUE", "True ", "T", "F"] {
            assert_eq!(plain(s).0, STR_TAG, "{s}");
        }
    }

    #[test]
    fn yaml11_numbers() {
        for (s, v) in [
            ("0755", 493),
            ("012", 10),
            ("0x1F", 31),
            ("0X1f", 31),
            ("0o17", 15),
            ("0b101", 5),
            ("-0b101", -5),
            ("1_000", 1000),
            ("+1", 1),
            ("-0x10", -16),
            ("0", 0),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(plain(s).1, GoValue::Int(v), "{s}");
        }
        assert_eq!(plain("18446744073709551615").1, GoValue::Uint(u64::MAX));
        for (s, v) in [
            ("08", 8.0),
            ("09.5", 9.5),
            (".5", 0.5),
            ("+.5", 0.5),
            ("1e3", 1000.0),
            ("1E3", 1000.0),
            ("1.", 1.0),
            ("99999999999999999999", 1e20),
            (".5_5", 0.55),
        ] {
            assert_eq!(plain(s).1, GoValue::Float(v), "{s}");
        }
        for s in [".inf", ".Inf", "+.INF"] {
            assert_eq!(plain(s).1, GoValue::Float(f64::INFINITY), "{s}");
        }
        assert!(matches!(plain(".NaN").1, GoValue::Float(f) if f.is_nan()));
        for s in [
            "1:20",
            "1:30",
            "2001-12-14",
            "0x",
            "1e999",
            ".",
            "._5",
            "-",
            "1.2.3",
            "0b2",
            "_1",
            "1e",
            ".iNf",
        ] {
            assert!(plain(s).0 == STR_TAG || plain(s).0 == TIMESTAMP_TAG, "{s}");
            assert!(matches!(plain(s).1, GoValue::Str(_)), "{s}");
        }
    }

    #[test]
    fn yaml11_nulls() {
        for s in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(plain(s).1, GoValue::Nil, "{s:?}");
        }
        assert_eq!(plain("nULL").0, STR_TAG);
    }

    #[test]
    fn tags_are_checked() {
        assert_eq!(
            resolve(STR_TAG, "yes").unwrap().1,
            GoValue::Str("yes".into())
        );
        assert_eq!(resolve(FLOAT_TAG, "1").unwrap().1, GoValue::Float(1.0));
        assert_eq!(
            resolve(INT_TAG, "abc").unwrap_err(),
            "cannot decode !!str `abc` as a !!int"
        );
        assert_eq!(
            resolve(BOOL_TAG, "1").unwrap_err(),
            "cannot decode !!int `1` as a !!bool"
        );
        assert_eq!(resolve("!custom", "1").unwrap().1, GoValue::Str("1".into()));
        assert!(resolve(TIMESTAMP_TAG, "2001-12-14").is_ok());
        assert!(resolve(TIMESTAMP_TAG, "2001-12-14t21:59:43.10-05:00").is_ok());
        assert!(resolve(TIMESTAMP_TAG, "2001-02-30").is_err());
    }
}
