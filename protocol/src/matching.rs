//! The kubelet's image matching: `matchImages` patterns, auth-key normalisation and the keyring.
//!
//! One matcher (`URLsMatchStr` in `pkg/credentialprovider/keyring.go`) serves two consumers:
//! a provider's `matchImages` entries (used as-is) and the keys of a response's `auth` map
//! (normalised first, then indexed in a [`Keyring`]). Both sides are parsed as URLs after
//! `https://` is prefixed, the way Go's `net/url` parses them, then compared on port, number of
//! host labels, path prefix and a shell glob per label (Go's `path.Match`).
//!
//! URL parsing follows current Go (1.26 defaults, including the 2025/2026 security fixes): a `[`
//! in a host is only accepted as the first character of a bracketed IPv6 literal, a bracket may not
//! hold an IPv4 address, and a host with several colons is rejected (`urlstrictcolons=1`). So a
//! `[a-c]` class can never appear in a host, and a `?` always starts the URL's query: globbing in
//! practice means `*` only, and the other glob features matter only in the label matcher itself.
//!
//! Everything works on bytes, as Go does: percent-escapes may produce bytes that are not UTF-8.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Key whose credentials are used for Docker Hub images when no key matched (§7.3).
const DEFAULT_REGISTRY_HOST: &[u8] = b"index.docker.io";

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why Go's `url.Parse` rejects a URL. The `Display` text is Go's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// A byte below 0x20, or 0x7f, before any `#`.
    #[error("net/url: invalid control character in URL")]
    ControlCharacter,
    /// A `%` not followed by two hex digits, or an escape not allowed where it is (in a host, only
    /// bytes ≥ 0x80 and `%25` may be escaped). Holds the (up to three) offending bytes.
    #[error("invalid URL escape {}", go_quote(.0))]
    InvalidEscape(Vec<u8>),
    /// An ASCII character a host may not contain (a space, `{`, `|`, `\`, ...).
    #[error("invalid character {} in host name", go_quote(std::slice::from_ref(.0)))]
    InvalidHostCharacter(u8),
    /// A host starting with `[` has no `]`.
    #[error("missing ']' in host")]
    MissingBracket,
    /// What follows the host is not `:` and digits (holds that text, colon included).
    #[error("invalid port {} after host", go_quote(.0))]
    InvalidPort(Vec<u8>),
    /// A `[` that does not start the host, or brackets around an IPv4 address.
    #[error("invalid IP-literal")]
    InvalidIpLiteral,
    /// The text in brackets is not an IPv6 address (holds Go's `ParseAddr` message, approximately).
    #[error("invalid host: {0}")]
    InvalidHost(String),
    /// The part before `@` has characters userinfo may not contain.
    #[error("net/url: invalid userinfo")]
    InvalidUserinfo,
}

/// A `matchImages` entry the kubelet's config validation rejects: `https://` + entry does not
/// parse as a URL.
///
/// Displays like the kubelet's message, e.g.
/// `match image is invalid: parse "https://%invalid%": invalid URL escape "%in"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("match image is invalid: parse {}: {reason}", go_quote(.url.as_bytes()))]
#[non_exhaustive]
pub struct MatchImageError {
    /// The URL Go names in its error: `https://` + entry (cut at `#` unless the fragment was bad).
    pub url: String,
    /// What is wrong with it.
    pub reason: UrlError,
}

// ---------------------------------------------------------------------------------------------
// Public functions
// ---------------------------------------------------------------------------------------------

/// Whether `image` matches `pattern` under the kubelet's `URLsMatchStr` (§7.1).
///
/// Both are parsed as URLs after `https://` is prefixed (no scheme stripping: `https://x` as a
/// pattern has host `https:`). Then the ports must be equal strings (both absent is equal), the
/// hosts must have as many `.`-separated labels, the image's path must start with the pattern's
/// path (plain string prefix; no globbing in paths), and every pattern label must glob-match the
/// image label (`*`, `?`, `[...]`, `\`, like Go's `path.Match`; a malformed glob never matches).
/// Case-sensitive. Either side failing to parse gives `false`.
pub fn urls_match(pattern: &str, image: &str) -> bool {
    match (
        parse_schemeless(pattern.as_bytes()),
        parse_schemeless(image.as_bytes()),
    ) {
        (Ok(glob), Ok(target)) => parsed_urls_match(&glob, &target),
        _ => false,
    }
}

/// The kubelet's config check on one `matchImages` entry: `https://` + entry must parse as a URL.
///
/// Only parsing is checked; `registry.io/*` or `https://registry.io` pass although they match
/// (almost) nothing.
pub fn validate_match_image(pattern: &str) -> Result<(), MatchImageError> {
    parse_schemeless(pattern.as_bytes())
        .map(|_| ())
        .map_err(|failure| MatchImageError {
            url: String::from_utf8_lossy(&failure.url).into_owned(),
            reason: failure.error,
        })
}

/// Normalise an `auth` key of a plugin response the way the kubelet indexes it (§7.3).
///
/// `https://` is prefixed unless the key starts with `https://` or `http://`; the URL's host is
/// kept and its path appended, minus a leading `/v1` or `/v2` (when followed by `/`); a path of
/// `/` is dropped; userinfo, query and fragment are dropped. `https://quay.io/v1/` → `quay.io`,
/// `r.io/v2/team` → `r.io/team`. `None` when the key does not parse (the kubelet logs and skips
/// it). Bytes that percent-decoding made invalid UTF-8 are shown as U+FFFD here; [`Keyring`]
/// keeps the exact bytes.
pub fn normalize_auth_key(key: &str) -> Option<String> {
    normalize_auth_key_bytes(key.as_bytes()).map(|k| String::from_utf8_lossy(&k).into_owned())
}

/// Whether one host label matches one pattern label under the kubelet's label rules (Go's
/// `path.Match` on that label: `*` matches within the label and never spans a dot, since labels
/// are split on dots first). A malformed glob never matches. Case-sensitive.
pub fn label_glob_match(pattern_label: &str, label: &str) -> bool {
    glob_match(pattern_label.as_bytes(), label.as_bytes())
}

/// Whether an image "looks like Docker Hub" for the `index.docker.io` fallback (§7.3).
///
/// True when the first `/`-separated part is non-empty and either there is no `/`, or it is
/// `docker.io` or `index.docker.io`, or it contains neither `.` nor `:`.
pub fn is_default_registry_match(image: &str) -> bool {
    let (first, has_rest) = match image.split_once('/') {
        Some((first, _)) => (first, true),
        None => (image, false),
    };
    if first.is_empty() {
        return false;
    }
    if !has_rest || first == "docker.io" || first == "index.docker.io" {
        return true;
    }
    !first.contains(['.', ':'])
}

// ---------------------------------------------------------------------------------------------
// Keyring
// ---------------------------------------------------------------------------------------------

/// The kubelet's credential index (`BasicDockerKeyring`), generic over the credential payload.
///
/// Keys are normalised with [`normalize_auth_key`] when added. A lookup walks the distinct keys in
/// reverse lexicographic (byte) order, so longer keys come before their prefixes and concrete
/// labels before `*`, and yields each matching key's values in insertion order. If nothing
/// matched and the image looks like Docker Hub ([`is_default_registry_match`]), the values stored
/// under `index.docker.io` are returned instead.
#[derive(Debug, Clone)]
pub struct Keyring<T> {
    index: BTreeMap<Vec<u8>, KeyEntry<T>>,
}

/// One normalised key and what was stored under it.
#[derive(Debug, Clone)]
struct KeyEntry<T> {
    /// The key for display (lossy UTF-8).
    display: String,
    /// The key parsed as a glob URL, once; `None` if it does not re-parse (then it never matches).
    pattern: Option<ParsedUrl>,
    /// Values in insertion order.
    values: Vec<T>,
}

impl<T> Default for Keyring<T> {
    fn default() -> Self {
        Keyring {
            index: BTreeMap::new(),
        }
    }
}

impl<T> Keyring<T> {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Index `value` under the normalised form of `key`. Returns `false` (and drops the value)
    /// when the key does not parse, as the kubelet ignores such entries.
    pub fn add(&mut self, key: &str, value: T) -> bool {
        let Some(normalised) = normalize_auth_key_bytes(key.as_bytes()) else {
            return false;
        };
        let entry = self
            .index
            .entry(normalised)
            .or_insert_with_key(|k| KeyEntry {
                display: String::from_utf8_lossy(k).into_owned(),
                pattern: parse_schemeless(k).ok(),
                values: Vec::new(),
            });
        entry.values.push(value);
        true
    }

    /// The values to try for `image` (a normalised image name), in the kubelet's order.
    pub fn lookup(&self, image: &str) -> Vec<&T> {
        self.lookup_with_keys(image)
            .into_iter()
            .map(|(_, value)| value)
            .collect()
    }

    /// Like [`Keyring::lookup`], with the normalised key each value was found under
    /// (`index.docker.io` for the Docker Hub fallback).
    pub fn lookup_with_keys(&self, image: &str) -> Vec<(&str, &T)> {
        let mut found = Vec::new();
        if let Ok(target) = parse_schemeless(image.as_bytes()) {
            for entry in self.index.values().rev() {
                if entry
                    .pattern
                    .as_ref()
                    .is_some_and(|glob| parsed_urls_match(glob, &target))
                {
                    found.extend(entry.values.iter().map(|v| (entry.display.as_str(), v)));
                }
            }
        }
        if found.is_empty()
            && is_default_registry_match(image)
            && let Some(entry) = self.index.get(DEFAULT_REGISTRY_HOST)
        {
            found.extend(entry.values.iter().map(|v| (entry.display.as_str(), v)));
        }
        found
    }

    /// The distinct normalised keys, in lookup order (reverse lexicographic).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.index.values().rev().map(|e| e.display.as_str())
    }

    /// Number of distinct normalised keys.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether nothing was added (or every key was rejected).
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

/// `URLsMatch` on two parsed URLs.
fn parsed_urls_match(glob: &ParsedUrl, target: &ParsedUrl) -> bool {
    let (glob_labels, glob_port) = split_url(&glob.host);
    let (target_labels, target_port) = split_url(&target.host);
    glob_port == target_port
        && glob_labels.len() == target_labels.len()
        && target.path.starts_with(&glob.path)
        && glob_labels
            .iter()
            .zip(&target_labels)
            .all(|(g, t)| glob_match(g, t))
}

/// The kubelet's `SplitURL`: host split into `.` labels, and the port (empty when
/// `net.SplitHostPort` fails, in which case the whole host, brackets and all, is split).
fn split_url(host: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let (name, port) = split_host_port(host).unwrap_or((host, b""));
    (name.split(|&b| b == b'.').collect(), port)
}

/// Go's `net.SplitHostPort`; `None` where Go returns an error.
fn split_host_port(hostport: &[u8]) -> Option<(&[u8], &[u8])> {
    let last_colon = hostport.iter().rposition(|&b| b == b':')?;
    let (host, open_from, close_from) = if hostport.first() == Some(&b'[') {
        let end = hostport.iter().position(|&b| b == b']')?;
        if end + 1 != last_colon {
            return None; // no port after ']', or ']' not directly followed by the last ':'
        }
        (hostport.get(1..end)?, 1, end + 1)
    } else {
        let host = hostport.get(..last_colon)?;
        if host.contains(&b':') {
            return None; // too many colons
        }
        (host, 0, 0)
    };
    if hostport.get(open_from..)?.contains(&b'[') || hostport.get(close_from..)?.contains(&b']') {
        return None;
    }
    Some((host, hostport.get(last_colon + 1..)?))
}

// ---------------------------------------------------------------------------------------------
// Shell glob (Go's path.Match)
// ---------------------------------------------------------------------------------------------

/// One single-character operator of a glob chunk.
#[derive(Debug)]
enum GlobItem {
    /// This exact byte.
    Byte(u8),
    /// `?`: one character, not `/`.
    AnyChar,
    /// `[...]`: one character in (or, negated, not in) the inclusive ranges.
    Class {
        negated: bool,
        ranges: Vec<(u32, u32)>,
    },
}

/// A run of single-character operators, possibly preceded by `*`.
#[derive(Debug)]
struct GlobChunk {
    star: bool,
    items: Vec<GlobItem>,
}

/// Whether `name` matches the shell pattern, like Go's `path.Match` with errors read as `false`.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let Some(chunks) = compile_glob(pattern) else {
        return false; // Go reports ErrBadPattern for any malformed pattern
    };
    let mut name = name;
    let count = chunks.len();
    'chunks: for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == count;
        if chunk.star && chunk.items.is_empty() {
            // A trailing '*' matches the rest unless it has a '/'.
            return !name.contains(&b'/');
        }
        if let Some(rest) = match_chunk(&chunk.items, name)
            && (rest.is_empty() || !last)
        {
            name = rest;
            continue;
        }
        if chunk.star {
            // Try after skipping 1, 2, ... bytes; a star does not cross '/'.
            let mut skip = 0;
            while skip < name.len() && name.get(skip) != Some(&b'/') {
                skip += 1;
                if let Some(rest) = name.get(skip..).and_then(|n| match_chunk(&chunk.items, n))
                    && (!last || rest.is_empty())
                {
                    name = rest;
                    continue 'chunks;
                }
            }
        }
        return false;
    }
    name.is_empty()
}

/// Split a pattern into chunks (as Go's `scanChunk` does) and parse each one; `None` if malformed.
fn compile_glob(mut pattern: &[u8]) -> Option<Vec<GlobChunk>> {
    let mut chunks = Vec::new();
    while !pattern.is_empty() {
        let mut star = false;
        while let Some(rest) = pattern.strip_prefix(b"*") {
            pattern = rest;
            star = true;
        }
        let mut in_range = false;
        let mut end = pattern.len();
        let mut i = 0;
        while let Some(&c) = pattern.get(i) {
            match c {
                b'\\' if i + 1 < pattern.len() => i += 1,
                b'[' => in_range = true,
                b']' => in_range = false,
                b'*' if !in_range => {
                    end = i;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let (chunk, rest) = pattern.split_at(end);
        chunks.push(GlobChunk {
            star,
            items: parse_chunk(chunk)?,
        });
        pattern = rest;
    }
    Some(chunks)
}

/// Parse one chunk (no unbracketed `*`) into operators; `None` if malformed.
fn parse_chunk(chunk: &[u8]) -> Option<Vec<GlobItem>> {
    let mut items = Vec::new();
    let mut i = 0;
    while let Some(&c) = chunk.get(i) {
        i += 1;
        match c {
            b'[' => {
                let negated = chunk.get(i) == Some(&b'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    if chunk.get(i) == Some(&b']') && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    let lo = class_char(chunk, &mut i)?;
                    let mut hi = lo;
                    if chunk.get(i) == Some(&b'-') {
                        i += 1;
                        hi = class_char(chunk, &mut i)?;
                    }
                    ranges.push((lo, hi));
                }
                items.push(GlobItem::Class { negated, ranges });
            }
            b'?' => items.push(GlobItem::AnyChar),
            b'\\' => {
                let escaped = *chunk.get(i)?;
                i += 1;
                items.push(GlobItem::Byte(escaped));
            }
            _ => items.push(GlobItem::Byte(c)),
        }
    }
    Some(items)
}

/// Go's `getEsc`: one possibly-escaped character of a class, which must not end the chunk.
fn class_char(chunk: &[u8], i: &mut usize) -> Option<u32> {
    match chunk.get(*i)? {
        b'-' | b']' => return None,
        b'\\' => *i += 1,
        _ => {}
    }
    let (c, width) = decode_char(chunk.get(*i..)?)?;
    *i += width;
    (*i < chunk.len()).then_some(c)
}

/// Match `items` against the start of `s`; the rest of `s` on success.
fn match_chunk<'a>(items: &[GlobItem], mut s: &'a [u8]) -> Option<&'a [u8]> {
    for item in items {
        match item {
            GlobItem::Byte(b) => s = s.strip_prefix(std::slice::from_ref(b))?,
            GlobItem::AnyChar => {
                if s.first().is_none_or(|&b| b == b'/') {
                    return None;
                }
                s = s.get(rune_width(s)..)?;
            }
            GlobItem::Class { negated, ranges } => {
                if s.is_empty() {
                    return None;
                }
                let c = decode_char(s).map_or(0xFFFD, |(c, _)| c);
                s = s.get(rune_width(s)..)?;
                let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                if inside == *negated {
                    return None;
                }
            }
        }
    }
    Some(s)
}

/// The first UTF-8 character of `s` and its width; `None` if `s` is empty or starts with an
/// invalid sequence (Go decodes that as U+FFFD of width 1).
fn decode_char(s: &[u8]) -> Option<(u32, usize)> {
    let chunk = s.utf8_chunks().next()?;
    let c = chunk.valid().chars().next()?;
    Some((u32::from(c), c.len_utf8()))
}

/// Bytes Go's `utf8.DecodeRune` consumes at the start of a non-empty `s` (1 for invalid input).
fn rune_width(s: &[u8]) -> usize {
    decode_char(s).map_or(1, |(_, width)| width)
}

// ---------------------------------------------------------------------------------------------
// Auth keys
// ---------------------------------------------------------------------------------------------

/// The kubelet's key normalisation (`BasicDockerKeyring.Add`), on bytes.
fn normalize_auth_key_bytes(key: &[u8]) -> Option<Vec<u8>> {
    let raw = if key.starts_with(b"https://") || key.starts_with(b"http://") {
        key.to_vec()
    } else {
        [b"https://".as_slice(), key].concat()
    };
    let parsed = parse_url(&raw).ok()?;
    let mut path = parsed.path.as_slice();
    if path.starts_with(b"/v2/") || path.starts_with(b"/v1/") {
        path = path.get(3..).unwrap_or_default();
    }
    let mut normalised = parsed.host;
    if !path.is_empty() && path != b"/" {
        normalised.extend_from_slice(path);
    }
    Some(normalised)
}

// ---------------------------------------------------------------------------------------------
// Go net/url, as far as host and path go
// ---------------------------------------------------------------------------------------------

/// Host (unescaped, with port) and path (unescaped) of a parsed URL.
#[derive(Debug, Clone)]
struct ParsedUrl {
    host: Vec<u8>,
    path: Vec<u8>,
}

/// A parse failure: the URL text Go puts in its error, and the cause.
#[derive(Debug)]
struct UrlFailure {
    url: Vec<u8>,
    error: UrlError,
}

/// The kubelet's `ParseSchemelessURL`: `url.Parse("https://" + s)`.
fn parse_schemeless(s: &[u8]) -> Result<ParsedUrl, UrlFailure> {
    parse_url(&[b"https://".as_slice(), s].concat())
}

/// Go's `url.Parse` for a string that starts with `http://` or `https://` (the only kind the
/// kubelet builds). Returns host and path; query and fragment are validated as Go does, then
/// dropped.
fn parse_url(raw: &[u8]) -> Result<ParsedUrl, UrlFailure> {
    let (before_fragment, fragment) = split_first(raw, b'#');
    let fail = |error| UrlFailure {
        url: before_fragment.to_vec(),
        error,
    };
    if before_fragment.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(fail(UrlError::ControlCharacter));
    }
    // Scheme: letters up to the first ':'; callers always provide "http:" or "https:".
    let after_scheme = match before_fragment.iter().position(|&b| b == b':') {
        Some(colon) => before_fragment.get(colon + 1..).unwrap_or_default(),
        None => before_fragment,
    };
    let (rest, _query) = split_first(after_scheme, b'?');
    let Some(rest) = rest.strip_prefix(b"//") else {
        // An opaque URL ("https:x"): no host, no path. Not reachable from our callers.
        return Ok(ParsedUrl {
            host: Vec::new(),
            path: Vec::new(),
        });
    };
    let (authority, path) = match rest.iter().position(|&b| b == b'/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, &[][..]),
    };
    let host = parse_authority(authority).map_err(fail)?;
    let path = unescape(path, Mode::Path).map_err(fail)?;
    if let Some(fragment) = fragment
        && !fragment.is_empty()
    {
        unescape(fragment, Mode::Fragment).map_err(|error| UrlFailure {
            url: raw.to_vec(),
            error,
        })?;
    }
    Ok(ParsedUrl { host, path })
}

/// `(before, Some(after))` around the first `sep`, or `(s, None)`.
fn split_first(s: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == sep) {
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    }
}

/// Go's `parseAuthority`: userinfo is checked and dropped, the host is returned.
fn parse_authority(authority: &[u8]) -> Result<Vec<u8>, UrlError> {
    let at = authority.iter().rposition(|&b| b == b'@');
    let host_part = match at {
        Some(i) => authority.get(i + 1..).unwrap_or_default(),
        None => authority,
    };
    let host = parse_host(host_part)?;
    if let Some(i) = at {
        let userinfo = authority.get(..i).unwrap_or_default();
        let allowed = |b: &u8| b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(b);
        if !userinfo.iter().all(allowed) {
            return Err(UrlError::InvalidUserinfo);
        }
        let (user, password) = split_first(userinfo, b':');
        unescape(user, Mode::UserPassword)?;
        if let Some(password) = password {
            unescape(password, Mode::UserPassword)?;
        }
    }
    Ok(host)
}

/// Go's `parseHost` (Go 1.26 defaults: strict colons, IP literal only at the start).
fn parse_host(host: &[u8]) -> Result<Vec<u8>, UrlError> {
    if let Some(open) = host.iter().rposition(|&b| b == b'[') {
        if open > 0 {
            return Err(UrlError::InvalidIpLiteral);
        }
        let close = host
            .iter()
            .rposition(|&b| b == b']')
            .ok_or(UrlError::MissingBracket)?;
        let colon_port = host.get(close + 1..).unwrap_or_default();
        if !valid_optional_port(colon_port) {
            return Err(UrlError::InvalidPort(colon_port.to_vec()));
        }
        let port = unescape(colon_port, Mode::Host)?;
        let hostname = host.get(1..close).unwrap_or_default();
        let mut unescaped = match find(hostname, b"%25") {
            Some(zone) => {
                let (addr, zone) = hostname.split_at(zone);
                let mut out = unescape(addr, Mode::Host)?;
                out.extend(unescape(zone, Mode::Zone)?);
                out
            }
            None => unescape(hostname, Mode::Host)?,
        };
        match go_parse_addr(&unescaped) {
            Err(message) => return Err(UrlError::InvalidHost(message)),
            Ok(AddrKind::V4) => return Err(UrlError::InvalidIpLiteral),
            Ok(AddrKind::V6) => {}
        }
        unescaped.insert(0, b'[');
        unescaped.push(b']');
        unescaped.extend(port);
        return Ok(unescaped);
    }
    if let Some(colon) = host.iter().position(|&b| b == b':') {
        let colon_port = host.get(colon..).unwrap_or_default();
        if !valid_optional_port(colon_port) {
            return Err(UrlError::InvalidPort(colon_port.to_vec()));
        }
    }
    unescape(host, Mode::Host)
}

/// Empty, or `:` followed by digits only (possibly none).
fn valid_optional_port(port: &[u8]) -> bool {
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// Position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Which part of a URL is being unescaped (Go's `encoding` modes that `Parse` uses).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

/// Go's `shouldEscape` for the host and zone modes: whether the byte may not appear raw.
fn host_byte_needs_escape(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || b"!$&'()*+,;=:[]<>\"-_.~".contains(&c))
}

/// Go's `unescape`: validate `%XX` escapes (and raw host bytes) and decode them.
fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, UrlError> {
    let host_like = matches!(mode, Mode::Host | Mode::Zone);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c == b'%' {
            let (Some(&h), Some(&l)) = (s.get(i + 1), s.get(i + 2)) else {
                return Err(UrlError::InvalidEscape(
                    s.get(i..).unwrap_or_default().to_vec(),
                ));
            };
            let escape = s.get(i..i + 3).unwrap_or_default();
            let (Some(h), Some(l)) = (hex_value(h), hex_value(l)) else {
                return Err(UrlError::InvalidEscape(escape.to_vec()));
            };
            let v = (h << 4) | l;
            // In a host only non-ASCII bytes may be escaped, plus "%25" (RFC 6874 zones).
            if mode == Mode::Host && h < 8 && escape != b"%25" {
                return Err(UrlError::InvalidEscape(escape.to_vec()));
            }
            if mode == Mode::Zone && escape != b"%25" && v != b' ' && host_byte_needs_escape(v) {
                return Err(UrlError::InvalidEscape(escape.to_vec()));
            }
            out.push(v);
            i += 3;
        } else {
            if host_like && c < 0x80 && host_byte_needs_escape(c) {
                return Err(UrlError::InvalidHostCharacter(c));
            }
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

/// Value of one hex digit.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Which kind of address `netip.ParseAddr` found.
enum AddrKind {
    V4,
    V6,
}

/// Go's `netip.ParseAddr`, as far as `url.Parse` needs it: IPv4, or IPv6 with an optional zone.
/// The error texts follow Go's form; the detail after the colon is approximate.
fn go_parse_addr(s: &[u8]) -> Result<AddrKind, String> {
    let fail = |msg: &str| format!("ParseAddr({}): {msg}", go_quote(s));
    let text = std::str::from_utf8(s);
    for &b in s {
        match b {
            b'.' => {
                return match text.ok().and_then(|t| t.parse::<Ipv4Addr>().ok()) {
                    Some(_) => Ok(AddrKind::V4),
                    None => Err(fail("invalid IPv4 address")),
                };
            }
            b':' => {
                let (addr, zone) = split_first(s, b'%');
                if zone.is_some_and(<[u8]>::is_empty) {
                    return Err(fail("zone must be a non-empty string"));
                }
                let parsed = std::str::from_utf8(addr)
                    .ok()
                    .and_then(|t| t.parse::<Ipv6Addr>().ok());
                return match parsed {
                    Some(_) => Ok(AddrKind::V6),
                    None => Err(fail("invalid IPv6 address")),
                };
            }
            b'%' => return Err(fail("missing IPv6 address")),
            _ => {}
        }
    }
    Err(fail("unable to parse IP"))
}

// ---------------------------------------------------------------------------------------------
// Go's strconv.Quote, for error texts
// ---------------------------------------------------------------------------------------------

/// Quote text or bytes as Go's `strconv.Quote` (`%q`) does, for error texts that must read like
/// the kubelet's. Invalid UTF-8 bytes become `\x..`; which non-ASCII characters count as
/// printable is approximated (controls, separators, format characters and private use are
/// escaped).
pub fn go_quote(s: impl AsRef<[u8]>) -> String {
    let s = s.as_ref();
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                ' '..='~' => out.push(c),
                c if c.is_ascii() => {
                    let _ = write!(out, "\\x{:02x}", u32::from(c));
                }
                c if go_is_print(c) => out.push(c),
                c if u32::from(c) < 0x10000 => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => {
                    let _ = write!(out, "\\U{:08x}", u32::from(c));
                }
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// Approximation of Go's `strconv.IsPrint` for non-ASCII characters.
fn go_is_print(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e000}'..='\u{f8ff}'
                | '\u{f0000}'..
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- §7.1 the matcher ---------------------------------------------------------------------

    #[test]
    fn ports_must_be_equal_strings() {
        assert!(urls_match(
            "*.kubernetes.io:1111/blah",
            "prefix.kubernetes.io:1111/blah"
        ));
        assert!(!urls_match("registry.io", "registry.io:5000/img"));
        assert!(!urls_match("registry.io:5000", "registry.io/img"));
        assert!(!urls_match("registry.io:5000", "registry.io:5001/img"));
        // "05000" and "5000" are different strings.
        assert!(!urls_match("registry.io:05000", "registry.io:5000/img"));
        // An empty port (trailing ':') equals no port.
        assert!(urls_match("registry.io:", "registry.io/img"));
    }

    #[test]
    fn label_counts_must_be_equal() {
        assert!(!urls_match("*.kubernetes.io", "kubernetes.io"));
        assert!(!urls_match("*.io", "app.k8s.io/foo"));
        assert!(urls_match("*.*.io", "app.k8s.io/foo"));
    }

    #[test]
    fn path_is_a_plain_string_prefix() {
        assert!(urls_match("registry.io/foo", "registry.io/foobar"));
        assert!(urls_match("registry.io/foo", "registry.io/foo/bar"));
        assert!(!urls_match("registry.io/foo", "registry.io"));
        assert!(urls_match("registry.io", "registry.io/anything"));
        // Globs are literal in the path.
        assert!(!urls_match("registry.io/*", "registry.io/foo/bar"));
        assert!(urls_match("registry.io/*", "registry.io/*x"));
    }

    #[test]
    fn path_is_compared_unescaped() {
        assert!(urls_match("registry.io/a%2Fb", "registry.io/a/b/c"));
        assert!(!urls_match("registry.io/%zz", "registry.io/%zz"));
    }

    #[test]
    fn labels_are_globbed() {
        assert!(urls_match("*.kubernetes.io", "prefix.kubernetes.io"));
        assert!(urls_match("prefix.kubernetes.*", "prefix.kubernetes.io"));
        assert!(urls_match("app*.k8s.io", "app1.k8s.io"));
        assert!(!urls_match("k*.io", "quay.io"));
        assert!(urls_match(
            "*.dkr.ecr.*.amazonaws.com",
            "1234.dkr.ecr.us-west-2.amazonaws.com/r"
        ));
    }

    #[test]
    fn matching_is_case_sensitive() {
        assert!(!urls_match("Registry.io", "registry.io/x"));
        assert!(!urls_match("registry.io/X", "registry.io/x"));
    }

    #[test]
    fn question_mark_in_host_starts_the_query() {
        // "registr?.io" parses as host "registr" with query ".io": one label, never two.
        assert!(!urls_match("registr?.io", "registry.io"));
        assert!(urls_match("registr?.io", "registr"));
    }

    #[test]
    fn bracket_class_in_host_does_not_parse() {
        assert!(!urls_match("reg[a-c].io", "rega.io"));
        assert_eq!(
            validate_match_image("reg[a-c].io").unwrap_err().reason,
            UrlError::InvalidIpLiteral
        );
    }

    #[test]
    fn ipv6_hosts() {
        assert!(urls_match("[::1]:5000", "[::1]:5000/img"));
        assert!(urls_match(
            "[fe80::1%25eth0]:5000",
            "[fe80::1%25eth0]:5000/img"
        ));
        assert!(!urls_match("[::1]:5000", "[::2]:5000/img"));
        // Without a port SplitHostPort fails, the label keeps its brackets and "[::1]" is a
        // glob class that cannot match the '[' it is compared with.
        assert!(!urls_match("[::1]", "[::1]/img"));
        // An IPv4 address may not be bracketed.
        assert!(!urls_match("[1.2.3.4]:80", "[1.2.3.4]:80/x"));
    }

    #[test]
    fn unparsable_side_never_matches() {
        assert!(!urls_match("%invalid%", "%invalid%"));
        assert!(!urls_match("registry.io", "registry io/x"));
        assert!(!urls_match("a b", "a b"));
    }

    #[test]
    fn scheme_is_not_stripped_for_patterns() {
        // Host "https:", path "//registry.io".
        assert!(!urls_match("https://registry.io", "registry.io/x"));
    }

    #[test]
    fn userinfo_query_and_fragment_are_ignored() {
        assert!(urls_match("user:pw@registry.io", "registry.io/x"));
        assert!(urls_match("registry.io#frag", "registry.io/x"));
        assert!(urls_match("registry.io/x?q", "registry.io/x/y"));
    }

    // --- path.Match ---------------------------------------------------------------------------

    #[test]
    fn glob_star_question_and_escape() {
        assert!(glob_match(b"*", b"anything"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a*b*c", b"axxbyyc"));
        assert!(!glob_match(b"a*b*c", b"axxbyy"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"a?c", "aéc".as_bytes()));
        assert!(!glob_match(b"a?c", b"ac"));
        assert!(glob_match(b"a\\*c", b"a*c"));
        assert!(!glob_match(b"a\\*c", b"abc"));
        assert!(!glob_match(b"*", b"a/b"));
    }

    #[test]
    fn glob_classes_ranges_and_negation() {
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[a-c]x", b"dx"));
        assert!(glob_match(b"[^a-c]x", b"dx"));
        assert!(!glob_match(b"[^a-c]x", b"ax"));
        assert!(glob_match(b"[ab\\]]", b"]"));
        assert!(glob_match(b"[*]", b"*"));
        assert!(glob_match("[é]".as_bytes(), "é".as_bytes()));
    }

    #[test]
    fn malformed_glob_never_matches() {
        for bad in [
            "[", "[]", "[a", "[a-", "[-a]", "[a-]", "a\\", "[^]", "*[", "x*[z",
        ] {
            assert!(compile_glob(bad.as_bytes()).is_none(), "{bad}");
            assert!(!glob_match(bad.as_bytes(), bad.as_bytes()), "{bad}");
        }
        // Even when an earlier part already fails to match.
        assert!(!glob_match(b"b[", b"a"));
    }

    // --- §7.2 validation ----------------------------------------------------------------------

    #[test]
    fn validation_error_reads_like_go() {
        let err = validate_match_image("%invalid%").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"match image is invalid: parse "https://%invalid%": invalid URL escape "%in""#
        );
        let err = validate_match_image("a b.io").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"match image is invalid: parse "https://a b.io": invalid character " " in host name"#
        );
        let err = validate_match_image("r.io:port").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"match image is invalid: parse "https://r.io:port": invalid port ":port" after host"#
        );
        let err = validate_match_image("r.io/\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"match image is invalid: parse "https://r.io/\n": net/url: invalid control character in URL"#
        );
        let err = validate_match_image("r.io#%zz").unwrap_err();
        assert_eq!(err.url, "https://r.io#%zz");
    }

    #[test]
    fn validation_accepts_what_parses() {
        for ok in [
            "registry.io/*",
            "https://registry.io",
            "*.registry.io:8080",
            "[::1]:5000",
            "",
            "registr?.io",
            "é.io",
        ] {
            assert!(validate_match_image(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn validation_rejects_bad_hosts() {
        assert_eq!(
            validate_match_image("[::1").unwrap_err().reason,
            UrlError::MissingBracket
        );
        assert_eq!(
            validate_match_image("a:1:2").unwrap_err().reason,
            UrlError::InvalidPort(b":1:2".to_vec())
        );
        assert_eq!(
            validate_match_image("%41.io").unwrap_err().reason,
            UrlError::InvalidEscape(b"%41".to_vec())
        );
        assert_eq!(
            validate_match_image("a|b").unwrap_err().reason,
            UrlError::InvalidHostCharacter(b'|')
        );
        assert_eq!(
            validate_match_image("[1.2.3.4]").unwrap_err().reason,
            UrlError::InvalidIpLiteral
        );
        assert_eq!(
            validate_match_image("a\"b@r.io").unwrap_err().reason,
            UrlError::InvalidUserinfo
        );
        assert!(matches!(
            validate_match_image("[zz]").unwrap_err().reason,
            UrlError::InvalidHost(_)
        ));
        assert!(matches!(
            validate_match_image("[::1%25]").unwrap_err().reason,
            UrlError::InvalidHost(_)
        ));
    }

    // --- §7.3 auth keys -----------------------------------------------------------------------

    #[test]
    fn auth_key_scheme_is_stripped() {
        assert_eq!(
            normalize_auth_key("https://hello.kubernetes.io").unwrap(),
            "hello.kubernetes.io"
        );
        assert_eq!(
            normalize_auth_key("http://hello.kubernetes.io").unwrap(),
            "hello.kubernetes.io"
        );
        assert_eq!(
            normalize_auth_key("hello.kubernetes.io").unwrap(),
            "hello.kubernetes.io"
        );
        // Only lower-case schemes are recognised.
        assert_eq!(normalize_auth_key("HTTPS://x.io").unwrap(), "HTTPS://x.io");
    }

    #[test]
    fn auth_key_v1_v2_prefix_and_root_path_are_dropped() {
        assert_eq!(
            normalize_auth_key("https://quay.io/v1/").unwrap(),
            "quay.io"
        );
        assert_eq!(normalize_auth_key("r.io/v2/team").unwrap(), "r.io/team");
        assert_eq!(normalize_auth_key("r.io/").unwrap(), "r.io");
        assert_eq!(normalize_auth_key("r.io/v1").unwrap(), "r.io/v1");
        assert_eq!(normalize_auth_key("r.io/v3/x").unwrap(), "r.io/v3/x");
        assert_eq!(
            normalize_auth_key("user:pw@r.io:5000/p?q#f").unwrap(),
            "r.io:5000/p"
        );
    }

    #[test]
    fn auth_key_that_does_not_parse_is_none() {
        assert_eq!(normalize_auth_key("%invalid%"), None);
        assert_eq!(normalize_auth_key("a b"), None);
        let mut keyring = Keyring::new();
        assert!(!keyring.add("%zz", 1));
        assert!(keyring.is_empty());
    }

    #[test]
    fn default_registry_heuristic() {
        assert!(is_default_registry_match("foo"));
        assert!(is_default_registry_match("foo/bar"));
        assert!(is_default_registry_match("docker.io/library/nginx"));
        assert!(is_default_registry_match("index.docker.io/foo/bar"));
        assert!(!is_default_registry_match(""));
        assert!(!is_default_registry_match("/foo"));
        assert!(!is_default_registry_match("registry:5000/foo/bar"));
        assert!(!is_default_registry_match("quay.io/foo"));
    }

    #[test]
    fn docker_hub_fallback_only_when_nothing_matched() {
        let mut keyring = Keyring::new();
        keyring.add("https://index.docker.io/v1/", "hub");
        assert_eq!(keyring.lookup("docker.io/library/nginx"), vec![&"hub"]);
        assert_eq!(
            keyring.lookup_with_keys("google/x"),
            vec![("index.docker.io", &"hub")]
        );
        assert!(keyring.lookup("quay.io/x").is_empty());
        keyring.add("docker.io", "docker");
        assert_eq!(keyring.lookup("docker.io/library/nginx"), vec![&"docker"]);
    }

    // --- §7.4 ordering ------------------------------------------------------------------------

    #[test]
    fn keys_are_tried_in_reverse_lexicographic_order() {
        let mut keyring = Keyring::new();
        keyring.add("bar.example.com", "ada");
        keyring.add("bar.example.com/pong", "grace");
        keyring.add("*.example.com", "star");
        assert_eq!(
            keyring.lookup_with_keys("bar.example.com/pong/pang"),
            vec![
                ("bar.example.com/pong", &"grace"),
                ("bar.example.com", &"ada"),
                ("*.example.com", &"star"),
            ]
        );
        assert_eq!(
            keyring.keys().collect::<Vec<_>>(),
            ["bar.example.com/pong", "bar.example.com", "*.example.com"]
        );
    }

    #[test]
    fn values_under_one_key_keep_insertion_order() {
        let mut keyring = Keyring::new();
        keyring.add("https://r.io", 1);
        keyring.add("r.io", 2);
        keyring.add("http://r.io/", 3);
        assert_eq!(keyring.len(), 1);
        assert_eq!(keyring.lookup("r.io/x"), vec![&1, &2, &3]);
    }

    #[test]
    fn keys_with_undecodable_bytes_match_byte_for_byte() {
        let mut keyring = Keyring::new();
        assert!(keyring.add("%ff.io", "x"));
        assert_eq!(keyring.lookup("%ff.io/a"), vec![&"x"]);
        assert_eq!(normalize_auth_key("%ff.io").unwrap(), "\u{fffd}.io");
    }

    // --- Go quoting and robustness ------------------------------------------------------------

    #[test]
    fn go_quote_escapes_like_strconv() {
        assert_eq!(go_quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote(b"\x01\x7f\t"), r#""\x01\x7f\t""#);
        assert_eq!(go_quote(b"%\xc3"), r#""%\xc3""#);
        assert_eq!(go_quote("é\u{a0}".as_bytes()), "\"é\\u00a0\"");
    }

    #[test]
    fn split_host_port_like_go() {
        assert_eq!(split_host_port(b"h:80"), Some((&b"h"[..], &b"80"[..])));
        assert_eq!(
            split_host_port(b"[::1]:80"),
            Some((&b"::1"[..], &b"80"[..]))
        );
        assert_eq!(split_host_port(b"h:"), Some((&b"h"[..], &b""[..])));
        assert_eq!(split_host_port(b"h"), None);
        assert_eq!(split_host_port(b"[::1]"), None);
        assert_eq!(split_host_port(b"a:b:c"), None);
        assert_eq!(split_host_port(b"a]:80"), None);
    }

    #[test]
    fn no_panic_on_odd_input() {
        let odd = [
            "", "[", "]", "[]", "][", "[]:", "[:", "%", "%2", "%%", "@", "@@[", ":", "::", "?",
            "#", "/", "\\", "*[", "[^", "a%25", "[%25]", "[::%25%]", "\u{0}", "é[", "*\\",
        ];
        for a in odd {
            for b in odd {
                let _ = urls_match(a, b);
            }
            let _ = validate_match_image(a);
            let _ = normalize_auth_key(a);
            let _ = is_default_registry_match(a);
            let _ = glob_match(a.as_bytes(), a.as_bytes());
        }
    }
}
