//! The outbound HTTP allow-list: `--allow-http` patterns, `--resolve` overrides, and the address
//! rules that keep a guest off the node's own networks.
//!
//! A pattern is `[scheme://]host[:port][/path-prefix]`:
//! - scheme `https` (the default) or `http`;
//! - host an exact name, an IP literal (`169.254.169.254`, `[fd00:ec2::254]`), or a name with
//!   per-label globs under the kubelet's `matchImages` label rules (`api.ecr.*.amazonaws.com`:
//!   as many labels as the pattern, `*` never spans a dot);
//! - port defaults to the scheme's (443 or 80);
//! - a path prefix matches whole segments (`/v1` allows `/v1` and `/v1/x`, not `/v10`).
//!
//! Names are compared lowercased. A destination that is an IP literal only matches an IP-literal
//! pattern. Addresses a name resolves to are checked by [`EgressPolicy::address_allowed`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use credential_provider_protocol::matching::label_glob_match;

/// A URL scheme a guest may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (port 80 by default).
    Http,
    /// HTTP over TLS (port 443 by default).
    Https,
}

impl Scheme {
    /// The scheme's default port.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// The scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Why an `--allow-http` or `--resolve` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The scheme is neither `http` nor `https`.
    #[error("--allow-http {pattern:?}: unsupported scheme {scheme:?} (use http or https)")]
    Scheme {
        /// The whole pattern.
        pattern: String,
        /// The scheme given.
        scheme: String,
    },
    /// The host part is empty or not a valid name, name glob or IP literal.
    #[error("--allow-http {pattern:?}: invalid host: {reason}")]
    Host {
        /// The whole pattern.
        pattern: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The port is not a number from 1 to 65535.
    #[error("--allow-http {pattern:?}: invalid port")]
    Port {
        /// The whole pattern.
        pattern: String,
    },
    /// The path prefix holds a query, fragment, `.`/`..` segment or a character not allowed.
    #[error("--allow-http {pattern:?}: invalid path prefix: {reason}")]
    Path {
        /// The whole pattern.
        pattern: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A `--resolve` value is not `HOST:PORT:ADDR`.
    #[error("--resolve {value:?}: expected HOST:PORT:ADDR ({reason})")]
    Resolve {
        /// The whole value.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A host as a pattern gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// An IP literal: matches only that address, and permits connecting to it even if special.
    Ip(IpAddr),
    /// Lowercased labels, each an exact label or a glob.
    Name(Vec<String>),
}

/// One `--allow-http` pattern, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The scheme it allows.
    pub scheme: Scheme,
    /// The host it allows.
    pub host: HostPattern,
    /// The port it allows.
    pub port: u16,
    /// Segments of the path prefix (empty: any path).
    pub path: Vec<String>,
}

/// One `--resolve HOST:PORT:ADDR` override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveOverride {
    /// Lowercased host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The address to connect to instead of resolving.
    pub addr: IpAddr,
}

/// Where a guest's request goes, as the host checks it. Holds no query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The scheme.
    pub scheme: Scheme,
    /// The host, lowercased, IPv6 without brackets.
    pub host: String,
    /// The port (the scheme's default if the URL has none).
    pub port: u16,
    /// The path, without query or fragment.
    pub path: String,
}

impl std::fmt::Display for Destination {
    /// `scheme://host:port/path`, the form audit lines use (never a query string).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let path: String = self
            .path
            .chars()
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect();
        write!(
            f,
            "{}://{}:{}{}",
            self.scheme.as_str(),
            host,
            self.port,
            path
        )
    }
}

/// The operator's whole egress policy: allowed origins and resolver overrides. Empty denies
/// every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    rules: Vec<Rule>,
    overrides: Vec<ResolveOverride>,
}

impl EgressPolicy {
    /// Parses every `--allow-http` pattern and `--resolve` value; the first bad one is the error.
    pub fn parse(allow: &[String], resolve: &[String]) -> Result<Self, EgressError> {
        Ok(EgressPolicy {
            rules: allow
                .iter()
                .map(|p| parse_rule(p))
                .collect::<Result<_, _>>()?,
            overrides: resolve
                .iter()
                .map(|r| parse_resolve(r))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether no request can ever be allowed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that allow `dest`; empty when it is denied.
    pub fn matching_rules<'a>(&'a self, dest: &Destination) -> Vec<&'a Rule> {
        self.rules.iter().filter(|r| r.allows(dest)).collect()
    }

    /// Whether `dest` is allowed by some rule.
    pub fn allows(&self, dest: &Destination) -> bool {
        self.rules.iter().any(|r| r.allows(dest))
    }

    /// The `--resolve` address for `host:port`, if the operator gave one.
    /// A fully qualified name (`metadata.google.internal.`) is the same host as without the dot.
    pub fn override_for(&self, host: &str, port: u16) -> Option<IpAddr> {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.overrides
            .iter()
            .find(|o| o.host == host && o.port == port)
            .map(|o| o.addr)
    }

    /// Whether the host may connect to `addr` for `dest`: any public address; a special one
    /// (see [`special_range`]) only if an IP-literal rule allowing `dest` names exactly it, or
    /// `--resolve` maps `dest`'s host and port to exactly it.
    pub fn address_allowed(&self, dest: &Destination, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        if special_range(addr).is_none() {
            return true;
        }
        if self.override_for(&dest.host, dest.port).map(canonical) == Some(addr) {
            return true;
        }
        self.matching_rules(dest)
            .iter()
            .any(|r| matches!(r.host, HostPattern::Ip(ip) if canonical(ip) == addr))
    }
}

impl Rule {
    /// Whether this rule allows `dest`.
    pub fn allows(&self, dest: &Destination) -> bool {
        self.scheme == dest.scheme
            && self.port == dest.port
            && host_matches(&self.host, &dest.host)
            && path_matches(&self.path, &dest.path)
    }
}

/// The one form an address is checked and connected in: an IPv4-mapped (`::ffff:a.b.c.d`) or
/// IPv4-compatible (`::a.b.c.d`) IPv6 address becomes the IPv4 address it carries, so the check
/// and the connection see the same address; `::` and `::1` stay IPv6 (unspecified and
/// loopback, not `0.0.0.0`/`0.0.0.1` as `Ipv6Addr::to_ipv4` would make them).
pub fn canonical(addr: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = addr else {
        return addr;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let compatible = s[..6].iter().all(|&x| x == 0) && !(s[6] == 0 && s[7] <= 1);
    if compatible {
        return IpAddr::V4(embedded_v4(v6, 128));
    }
    addr
}

/// Which range that is not globally reachable `addr` falls in (after [`canonical`]), or `None`
/// for a public one. The ranges are the IANA IPv4 and IPv6 special-purpose address registries'
/// entries marked "globally reachable: false" (whole blocks: a block with a few reachable
/// members is refused whole, and an IP-literal rule permits one of them), plus the IPv4 address
/// an IPv6 transition address carries: NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`) and Teredo
/// (`2001::/32`) reach the IPv4 host embedded in them.
pub fn special_range(addr: IpAddr) -> Option<SpecialRange> {
    match canonical(addr) {
        IpAddr::V4(v4) => special_v4(v4).map(|block| SpecialRange { block, via: None }),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

/// A range that is not globally reachable, as audit lines name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialRange {
    /// The registry's block (`loopback`, `private`, `documentation`, ...).
    pub block: &'static str,
    /// The IPv6 transition mechanism (`NAT64`, `6to4`, `Teredo`) whose embedded IPv4 address is
    /// in `block`, if that is how the address reaches it.
    pub via: Option<&'static str>,
}

impl std::fmt::Display for SpecialRange {
    /// `loopback`, or `NAT64 to loopback` for a transition address.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.via {
            Some(via) => write!(f, "{via} to {}", self.block),
            None => f.write_str(self.block),
        }
    }
}

/// The IPv4 special-purpose registry's blocks that are not globally reachable.
const SPECIAL_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this-network"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared (carrier-grade NAT)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved"),
];

/// The IPv6 special-purpose registry's blocks that are not globally reachable (the transition
/// prefixes are handled by the address they carry).
const SPECIAL_V6: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified"),
    (Ipv6Addr::LOCALHOST, 128, "loopback"),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use NAT64",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "segment routing (SRv6)",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique-local",
    ),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
];

fn special_v4(v4: Ipv4Addr) -> Option<&'static str> {
    if v4.is_broadcast() {
        return Some("broadcast");
    }
    let bits = u32::from(v4);
    SPECIAL_V4
        .iter()
        .find(|(net, len, _)| bits >> (32 - len) == u32::from(*net) >> (32 - len))
        .map(|(_, _, label)| *label)
}

fn special_v6(v6: Ipv6Addr) -> Option<SpecialRange> {
    let bits = u128::from(v6);
    let in_block = |net: Ipv6Addr, len: u8| bits >> (128 - len) == u128::from(net) >> (128 - len);
    // Transition addresses: judged by the IPv4 host they reach.
    let carried = if in_block(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        Some(("NAT64", embedded_v4(v6, 128)))
    } else if in_block(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        Some(("6to4", embedded_v4(v6, 16 + 32)))
    } else if in_block(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32) {
        // Teredo: the client's address is the last 32 bits, inverted.
        Some(("Teredo", Ipv4Addr::from(!(bits as u32))))
    } else {
        None
    };
    if let Some((via, v4)) = carried
        && let Some(block) = special_v4(v4)
    {
        return Some(SpecialRange {
            block,
            via: Some(via),
        });
    }
    SPECIAL_V6
        .iter()
        .find(|(net, len, _)| in_block(*net, *len))
        .map(|(_, _, block)| SpecialRange { block, via: None })
}

/// The IPv4 address held in the 32 bits of `v6` that end `end` bits from its start.
fn embedded_v4(v6: Ipv6Addr, end: u32) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(v6) >> (128 - end)) as u32)
}

fn host_matches(pattern: &HostPattern, host: &str) -> bool {
    match (pattern, parse_ip(host)) {
        (HostPattern::Ip(ip), Some(addr)) => canonical(*ip) == canonical(addr),
        (HostPattern::Ip(_), None) | (HostPattern::Name(_), Some(_)) => false,
        (HostPattern::Name(labels), None) => {
            let host = host.strip_suffix('.').unwrap_or(host);
            let parts: Vec<&str> = host.split('.').collect();
            parts.len() == labels.len()
                && labels
                    .iter()
                    .zip(&parts)
                    .all(|(glob, label)| label_glob_match(glob, label))
        }
    }
}

/// Segment-aware prefix match on decoded segments. A path that could mean something else to
/// the server never matches a non-empty prefix: one whose decoded form has a `.` or `..`
/// segment, an encoded `/` or `\`, a `\`, `;` parameters, a `%` left after decoding (double
/// encoding) or a control character. Refusing is the only safe answer: servers differ in how
/// they resolve each of these, and any of them can lead out of the prefix.
fn path_matches(prefix: &[String], path: &str) -> bool {
    if prefix.is_empty() {
        return true;
    }
    let Some(segments) = decoded_segments(path) else {
        return false;
    };
    segments.len() >= prefix.len() && prefix.iter().zip(&segments).all(|(p, s)| p == s)
}

/// The path's segments, percent-decoded, or `None` if the path is ambiguous (see
/// [`path_matches`]).
fn decoded_segments(path: &str) -> Option<Vec<String>> {
    if path.contains(['\\', ';']) {
        return None;
    }
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|raw| {
            let segment = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .ok()?
                .into_owned();
            let ambiguous = segment == "."
                || segment == ".."
                || segment.contains(['/', '\\', ';', '%'])
                || segment.chars().any(char::is_control);
            (!ambiguous).then_some(segment)
        })
        .collect()
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

fn parse_rule(pattern: &str) -> Result<Rule, EgressError> {
    let (scheme, rest) = match pattern.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = match scheme.to_ascii_lowercase().as_str() {
                "https" => Scheme::Https,
                "http" => Scheme::Http,
                _ => {
                    return Err(EgressError::Scheme {
                        pattern: pattern.into(),
                        scheme: scheme.into(),
                    });
                }
            };
            (scheme, rest)
        }
        None => (Scheme::Https, pattern),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(authority).ok_or_else(|| EgressError::Port {
        pattern: pattern.into(),
    })?;
    let port = match port {
        Some(port) => parse_port(port).ok_or_else(|| EgressError::Port {
            pattern: pattern.into(),
        })?,
        None => scheme.default_port(),
    };
    let host_error = |reason| EgressError::Host {
        pattern: pattern.into(),
        reason,
    };
    let host = parse_host_pattern(host).map_err(host_error)?;
    let path = parse_path_prefix(path).map_err(|reason| EgressError::Path {
        pattern: pattern.into(),
        reason,
    })?;
    Ok(Rule {
        scheme,
        host,
        port,
        path,
    })
}

/// Splits `host[:port]` or `[v6][:port]`; `None` if the text after the host is not `:port`.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        let host = &authority[..end + 2];
        return match after {
            "" => Some((host, None)),
            _ => after.strip_prefix(':').map(|p| (host, Some(p))),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port))),
        Some(_) => None,
        None => Some((authority, None)),
    }
}

fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|p| *p != 0)
}

fn parse_host_pattern(host: &str) -> Result<HostPattern, &'static str> {
    if host.is_empty() {
        return Err("empty");
    }
    if host.starts_with('[') {
        return match parse_ip(host) {
            Some(IpAddr::V6(v6)) => Ok(HostPattern::Ip(IpAddr::V6(v6))),
            _ => Err("not an IPv6 address in brackets"),
        };
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok(HostPattern::Ip(IpAddr::V4(v4)));
    }
    if host.contains('@') {
        return Err("userinfo is not allowed");
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let mut labels = Vec::new();
    for label in host.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
        {
            return Err("a label may hold letters, digits, '-', '_' and '*' only");
        }
        labels.push(label.to_owned());
    }
    if labels.iter().all(|l| l == "*") {
        return Err("a pattern of wildcards only would allow every host");
    }
    Ok(HostPattern::Name(labels))
}

fn parse_path_prefix(path: &str) -> Result<Vec<String>, &'static str> {
    if path.contains(['?', '#']) {
        return Err("a query or fragment is not allowed");
    }
    if path.chars().any(|c| c.is_control() || c == ' ') {
        return Err("control characters and spaces are not allowed");
    }
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    if trimmed.split('/').any(str::is_empty) {
        return Err("empty, '.' and '..' segments are not allowed");
    }
    let segments = decoded_segments(trimmed).ok_or(
        "'.' and '..' segments, '\\', ';', encoded '/' or '\\' and double encoding are not allowed",
    )?;
    if segments.iter().any(String::is_empty) {
        return Err("empty, '.' and '..' segments are not allowed");
    }
    Ok(segments)
}

fn parse_resolve(value: &str) -> Result<ResolveOverride, EgressError> {
    let err = |reason| EgressError::Resolve {
        value: value.into(),
        reason,
    };
    let (host, rest) = value.split_once(':').ok_or_else(|| err("no port"))?;
    let (port, addr) = rest.split_once(':').ok_or_else(|| err("no address"))?;
    let port = parse_port(port).ok_or_else(|| err("invalid port"))?;
    let addr = parse_ip(addr).ok_or_else(|| err("invalid address"))?;
    match parse_host_pattern(host) {
        Ok(HostPattern::Name(labels)) if !host.contains('*') => Ok(ResolveOverride {
            host: labels.join("."),
            port,
            addr,
        }),
        _ => Err(err("HOST must be a plain host name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str]) -> EgressPolicy {
        let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
        EgressPolicy::parse(&allow, &[]).unwrap()
    }

    fn dest(url: &str) -> Destination {
        let (scheme, rest) = url.split_once("://").unwrap();
        let scheme = if scheme == "http" {
            Scheme::Http
        } else {
            Scheme::Https
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = split_host_port(authority).unwrap();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Destination {
            scheme,
            host: host.to_ascii_lowercase(),
            port: port.map_or(scheme.default_port(), |p| p.parse().unwrap()),
            path: path.into(),
        }
    }

    macro_rules! allowed {
        ($($name:ident: $pattern:expr, $url:expr => $ok:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(policy(&[$pattern]).allows(&dest($url)), $ok, "{} vs {}", $pattern, $url);
            }
        )*};
    }

    allowed! {
        exact_host: "registry.example.com", "https://registry.example.com/v2/" => true;
        exact_host_is_case_insensitive: "Registry.Example.com", "https://REGISTRY.example.com/" => true;
        default_scheme_is_https: "registry.example.com", "http://registry.example.com/" => false;
        default_port_is_the_schemes: "registry.example.com", "https://registry.example.com:8443/" => false;
        explicit_port: "registry.example.com:8443", "https://registry.example.com:8443/" => true;
        http_scheme: "http://registry.example.com", "http://registry.example.com:80/x" => true;
        other_host: "registry.example.com", "https://evil.example.com/" => false;
        label_glob: "api.ecr.*.amazonaws.com", "https://api.ecr.eu-west-1.amazonaws.com/" => true;
        glob_never_spans_a_dot: "*.amazonaws.com", "https://a.b.amazonaws.com/" => false;
        glob_needs_as_many_labels: "*.amazonaws.com", "https://amazonaws.com/" => false;
        partial_label_glob: "*.azurecr.io", "https://myreg.azurecr.io/" => true;
        suffix_is_not_enough: "example.com", "https://example.com.evil.net/" => false;
        path_prefix: "sts.amazonaws.com/v1", "https://sts.amazonaws.com/v1/token" => true;
        path_prefix_exact: "sts.amazonaws.com/v1", "https://sts.amazonaws.com/v1" => true;
        path_prefix_is_segment_aware: "sts.amazonaws.com/v1", "https://sts.amazonaws.com/v10" => false;
        path_outside_prefix: "sts.amazonaws.com/v1", "https://sts.amazonaws.com/admin" => false;
        dot_dot_escapes_nothing: "sts.amazonaws.com/v1", "https://sts.amazonaws.com/v1/../admin" => false;
        encoded_dot_dot_escapes_nothing: "sts.amazonaws.com/v1", "https://sts.amazonaws.com/v1/%2E%2e/admin" => false;
        ipv4_literal: "http://169.254.169.254", "http://169.254.169.254/latest/" => true;
        ipv4_literal_is_not_a_name: "http://169.254.169.254", "http://metadata/latest/" => false;
        name_is_not_an_ip: "http://10.*.*.*", "http://10.0.0.1/" => false;
        ipv6_literal: "http://[fd00:ec2::254]", "http://[fd00:ec2::254]/latest" => true;
        trailing_dot_host: "registry.example.com", "https://registry.example.com./" => true;
        ipv4_compatible_literal_is_the_ipv4_address: "http://127.0.0.1", "http://[::127.0.0.1]/" => true;
        encoded_slash_dot_dot: "h.example/ok", "https://h.example/ok/..%2fsecret.txt" => false;
        encoded_upper_slash: "h.example/ok", "https://h.example/ok/..%2Fsecret.txt" => false;
        fully_encoded_dot_dot_slash: "h.example/ok", "https://h.example/ok/%2e%2e%2fsecret.txt" => false;
        backslash_dot_dot: "h.example/ok", "https://h.example/ok/..\\secret.txt" => false;
        encoded_backslash: "h.example/ok", "https://h.example/ok/..%5csecret.txt" => false;
        semicolon_parameters: "h.example/ok", "https://h.example/ok/..;/secret.txt" => false;
        parameters_on_the_prefix: "h.example/ok", "https://h.example/ok;x=1/a" => false;
        double_encoding: "h.example/ok", "https://h.example/ok/%252e%252e/secret.txt" => false;
        encoded_nul: "h.example/ok", "https://h.example/ok/a%00b" => false;
        encoded_prefix_segment_matches_decoded: "h.example/ok", "https://h.example/%6Fk/x" => true;
        encoded_unreserved_inside_prefix: "h.example/v1", "https://h.example/v1/a%2Db" => true;
        no_prefix_allows_any_path: "h.example", "https://h.example/ok/..%2fsecret.txt" => true;
    }

    macro_rules! malformed {
        ($($name:ident: $pattern:expr;)*) => {$(
            #[test]
            fn $name() {
                assert!(EgressPolicy::parse(&[$pattern.to_string()], &[]).is_err(), "{}", $pattern);
            }
        )*};
    }

    malformed! {
        rejects_ftp: "ftp://example.com";
        rejects_empty: "";
        rejects_empty_host: "https://:443";
        rejects_port_zero: "example.com:0";
        rejects_port_text: "example.com:https";
        rejects_big_port: "example.com:70000";
        rejects_query: "example.com/v1?x=1";
        rejects_dot_dot: "example.com/v1/../x";
        rejects_userinfo: "user@example.com";
        rejects_bad_chars: "exa mple.com";
        rejects_empty_label: "example..com";
        rejects_all_wildcards: "*.*";
        rejects_unbracketed_v6: "fd00::1";
        rejects_encoded_dot_dot: "example.com/v1/%2e%2e/x";
        rejects_encoded_slash: "example.com/v1%2fx";
        rejects_semicolon: "example.com/v1;x";
    }

    #[test]
    fn special_addresses_need_explicit_permission() {
        let p = EgressPolicy::parse(
            &[
                "http://metadata.internal".into(),
                "http://169.254.169.254".into(),
            ],
            &["pinned.example:443:10.1.2.3".into()],
        )
        .unwrap();
        let d = dest("http://metadata.internal/x");
        assert!(!p.address_allowed(&d, "169.254.169.254".parse().unwrap()));
        assert!(!p.address_allowed(&d, "127.0.0.1".parse().unwrap()));
        assert!(!p.address_allowed(&d, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(!p.address_allowed(&d, "::1".parse().unwrap()));
        assert!(!p.address_allowed(&d, "fd00::1".parse().unwrap()));
        assert!(!p.address_allowed(&d, "fe80::1".parse().unwrap()));
        assert!(!p.address_allowed(&d, "0.0.0.0".parse().unwrap()));
        assert!(!p.address_allowed(&d, "224.0.0.1".parse().unwrap()));
        assert!(!p.address_allowed(&d, "192.168.1.1".parse().unwrap()));
        assert!(p.address_allowed(&d, "93.184.216.34".parse().unwrap()));
        let imds = dest("http://169.254.169.254/latest");
        assert!(p.address_allowed(&imds, "169.254.169.254".parse().unwrap()));
        let pinned = dest("https://pinned.example/");
        assert!(p.address_allowed(&pinned, "10.1.2.3".parse().unwrap()));
        assert!(!p.address_allowed(&pinned, "10.1.2.4".parse().unwrap()));
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn range(text: &str) -> Option<String> {
        special_range(ip(text)).map(|r| r.to_string())
    }

    #[test]
    fn every_ipv4_block_that_is_not_globally_reachable_is_special() {
        for (addr, label) in [
            ("0.1.2.3", "this-network"),
            ("10.9.8.7", "private"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.127.255.254", "shared (carrier-grade NAT)"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.0.2.1", "documentation"),
            ("192.88.99.1", "6to4 relay anycast"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.254", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            assert_eq!(range(addr).as_deref(), Some(label), "{addr}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.3.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(range(public), None, "{public}");
        }
    }

    #[test]
    fn every_ipv6_block_that_is_not_globally_reachable_is_special() {
        for (addr, label) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("100::1", "discard-only"),
            ("2001:2::1", "IETF protocol assignments"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("5f00::1", "segment routing (SRv6)"),
            ("fc00::1", "unique-local"),
            ("fd00:ec2::254", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("feff::1", "site-local"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(range(addr).as_deref(), Some(label), "{addr}");
        }
        for public in [
            "2606:4700::1111",
            "2a00:1450::1",
            "100:0:0:1::1",
            "2001:4860::8888",
        ] {
            assert_eq!(range(public), None, "{public}");
        }
    }

    #[test]
    fn transition_addresses_are_judged_by_the_ipv4_host_they_reach() {
        for (addr, label) in [
            ("64:ff9b::7f00:1", "NAT64 to loopback"),
            ("64:ff9b::a9fe:a9fe", "NAT64 to link-local"),
            ("64:ff9b::10.0.0.1", "NAT64 to private"),
            ("2002:7f00:1::1", "6to4 to loopback"),
            ("2002:c0a8:101::", "6to4 to private"),
            // Teredo carries the client's address inverted in its last 32 bits.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo to loopback"),
        ] {
            assert_eq!(range(addr).as_deref(), Some(label), "{addr}");
        }
        assert_eq!(
            range("64:ff9b::808:808"),
            None,
            "NAT64 to 8.8.8.8 is public"
        );
        assert_eq!(range("2002:808:808::1"), None, "6to4 to 8.8.8.8 is public");
        assert_eq!(
            range("2001:0:4136:e378:8000:63bf:f7f7:f7f7").as_deref(),
            Some("IETF protocol assignments"),
            "Teredo to a public host is still in 2001::/23"
        );
    }

    #[test]
    fn the_canonical_form_is_the_one_checked_and_connected() {
        assert_eq!(canonical(ip("::ffff:127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(canonical(ip("::127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(canonical(ip("::7f00:1")), ip("127.0.0.1"));
        assert_eq!(canonical(ip("::1")), ip("::1"), "loopback stays IPv6");
        assert_eq!(canonical(ip("::")), ip("::"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(
            range("::ffff:169.254.169.254").as_deref(),
            Some("link-local")
        );
        assert_eq!(range("::10.0.0.1").as_deref(), Some("private"));
        let p = policy(&["http://127.0.0.1"]);
        let d = dest("http://[::127.0.0.1]/");
        assert!(p.allows(&d));
        assert!(p.address_allowed(&d, ip("::127.0.0.1")));
        assert!(!p.address_allowed(&d, ip("127.0.0.2")));
    }

    #[test]
    fn resolve_values() {
        let p = EgressPolicy::parse(
            &[],
            &[
                "a.example:8443:[::1]".into(),
                "B.example:80:127.0.0.1".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            p.override_for("a.example", 8443),
            Some("::1".parse().unwrap())
        );
        assert_eq!(
            p.override_for("b.example", 80),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(p.override_for("a.example", 443), None);
        assert_eq!(
            p.override_for("a.example.", 8443),
            p.override_for("a.example", 8443),
            "a trailing dot names the same host"
        );
        assert!(p.override_for("a.example.", 8443).is_some());
        for bad in [
            "a.example:443",
            "a.example:x:1.2.3.4",
            "*.example:443:1.2.3.4",
            "a:443:nope",
        ] {
            assert!(EgressPolicy::parse(&[], &[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_form_has_no_query() {
        let d = Destination {
            scheme: Scheme::Https,
            host: "::1".into(),
            port: 8443,
            path: "/a\nb".into(),
        };
        assert_eq!(d.to_string(), "https://[::1]:8443/a\u{fffd}b");
    }
}
