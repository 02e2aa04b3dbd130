//! go-yaml v2's reader (`readerc.go`): the encoding from the byte-order mark (UTF-8, UTF-16LE,
//! UTF-16BE), every character decoded and checked against YAML's printable set, with go-yaml's
//! messages (`control characters are not allowed`, `invalid leading UTF-8 octet`, ...).
//!
//! The result is the text as UTF-8 without its byte-order mark, which the event parser then
//! reads. go-yaml reports a reader error as soon as its 512-byte read-ahead reaches the bad
//! byte; here it is reported before any syntax error, which differs only for a file with a
//! syntax error more than a read-ahead before an undecodable byte.

/// The decoded text, or go-yaml's reader problem (shown as `yaml: <problem>`).
pub fn decode(data: &[u8]) -> Result<String, &'static str> {
    if let Some(rest) = data.strip_prefix(&[0xff, 0xfe]) {
        return utf16(rest, false);
    }
    if let Some(rest) = data.strip_prefix(&[0xfe, 0xff]) {
        return utf16(rest, true);
    }
    let data = data.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(data);
    utf8(data)
}

/// YAML's printable set, as go-yaml checks every decoded character.
fn check_printable(value: u32) -> Result<(), &'static str> {
    match value {
        0x09 | 0x0a | 0x0d | 0x20..=0x7e | 0x85 | 0xa0..=0xd7ff | 0xe000..=0xfffd => Ok(()),
        0x10000..=0x10ffff => Ok(()),
        _ => Err("control characters are not allowed"),
    }
}

fn push(out: &mut String, value: u32) -> Result<(), &'static str> {
    check_printable(value)?;
    out.push(char::from_u32(value).ok_or("invalid Unicode character")?);
    Ok(())
}

fn utf8(data: &[u8]) -> Result<String, &'static str> {
    let mut out = String::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let octet = data[i];
        let (width, mut value) = match octet {
            o if o & 0x80 == 0 => (1, u32::from(o & 0x7f)),
            o if o & 0xe0 == 0xc0 => (2, u32::from(o & 0x1f)),
            o if o & 0xf0 == 0xe0 => (3, u32::from(o & 0x0f)),
            o if o & 0xf8 == 0xf0 => (4, u32::from(o & 0x07)),
            _ => return Err("invalid leading UTF-8 octet"),
        };
        if i + width > data.len() {
            return Err("incomplete UTF-8 octet sequence");
        }
        for &trailing in &data[i + 1..i + width] {
            if trailing & 0xc0 != 0x80 {
                return Err("invalid trailing UTF-8 octet");
            }
            value = (value << 6) + u32::from(trailing & 0x3f);
        }
        let shortest = match width {
            1 => true,
            2 => value >= 0x80,
            3 => value >= 0x800,
            _ => value >= 0x10000,
        };
        if !shortest {
            return Err("invalid length of a UTF-8 sequence");
        }
        if (0xd800..=0xdfff).contains(&value) || value > 0x10ffff {
            return Err("invalid Unicode character");
        }
        push(&mut out, value)?;
        i += width;
    }
    Ok(out)
}

fn utf16(data: &[u8], big_endian: bool) -> Result<String, &'static str> {
    let unit = |pair: &[u8]| -> u32 {
        if big_endian {
            u32::from(pair[0]) << 8 | u32::from(pair[1])
        } else {
            u32::from(pair[1]) << 8 | u32::from(pair[0])
        }
    };
    let mut out = String::with_capacity(data.len() / 2);
    let mut i = 0;
    while i < data.len() {
        if i + 2 > data.len() {
            return Err("incomplete UTF-16 character");
        }
        let mut value = unit(&data[i..i + 2]);
        if value & 0xfc00 == 0xdc00 {
            return Err("unexpected low surrogate area");
        }
        let mut width = 2;
        if value & 0xfc00 == 0xd800 {
            if i + 4 > data.len() {
                return Err("incomplete UTF-16 surrogate pair");
            }
            let low = unit(&data[i + 2..i + 4]);
            if low & 0xfc00 != 0xdc00 {
                return Err("expected low surrogate area");
            }
            value = 0x10000 + ((value & 0x3ff) << 10) + (low & 0x3ff);
            width = 4;
        }
        push(&mut out, value)?;
        i += width;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_are_read_and_dropped() {
        assert_eq!(decode(b"\xef\xbb\xbfa: b\n").unwrap(), "a: b\n");
        assert_eq!(decode(b"\xff\xfea\x00:\x00").unwrap(), "a:");
        assert_eq!(decode(b"\xfe\xff\x00a\x00:").unwrap(), "a:");
    }

    #[test]
    fn problems_read_like_go_yaml() {
        for (input, problem) in [
            (&b"a: \x01"[..], "control characters are not allowed"),
            (b"a: \x7f", "control characters are not allowed"),
            (b"a: \xef\xbf\xbe", "control characters are not allowed"),
            (b"a: \xff", "invalid leading UTF-8 octet"),
            (b"a: \xc3", "incomplete UTF-8 octet sequence"),
            (b"a: \xc3(", "invalid trailing UTF-8 octet"),
            (b"a: \xc0\x80", "invalid length of a UTF-8 sequence"),
            (b"a: \xed\xa0\x80", "invalid Unicode character"),
            (b"\xff\xfea", "incomplete UTF-16 character"),
            (b"\xff\xfe\x00\xdc", "unexpected low surrogate area"),
        ] {
            assert_eq!(decode(input).unwrap_err(), problem, "{input:?}");
        }
        assert_eq!(decode("tab\there é €".as_bytes()).unwrap(), "tab\there é €");
    }
}
