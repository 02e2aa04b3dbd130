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

/// IPv4-mapped and IPv4-compatible IPv6 addresses as the IPv4 address they carry (so
/// `::ffff:127.0.0.1` is loopback), everything else unchanged.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Which non-public range `addr` falls in (after [`canonical`]), or `None` for a public one.
pub fn special_range(addr: IpAddr) -> Option<&'static str> {
    match canonical(addr) {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("private")
    } else if a == 0 {
        Some("unspecified")
    } else if v4.is_multicast() || v4.is_broadcast() {
        Some("multicast")
    } else {
        None
    }
}

fn special_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let first = v6.segments()[0];
    if v6.is_loopback() {
        Some("loopback")
    } else if v6.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if v6.is_multicast() {
        Some("multicast")
    } else {
        None
    }
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

/// Segment-aware prefix match. A path with a `.` or `..` segment (plain or percent-encoded)
/// never matches a non-empty prefix: a server would resolve it out of the prefix.
fn path_matches(prefix: &[String], path: &str) -> bool {
    if prefix.is_empty() {
        return true;
    }
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let dotted = segments.iter().any(|s| {
        let s = s.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    });
    !dotted && segments.len() >= prefix.len() && prefix.iter().zip(&segments).all(|(p, s)| p == s)
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
    let segments: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
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
