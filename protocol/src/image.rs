//! Container image references, reduced to what the kubelet sends a plugin as `image`.
//!
//! The kubelet parses a container's image with the Docker reference parser in *normalising* mode
//! (`reference.ParseNormalizedNamed` from `github.com/distribution/reference`) and sends the
//! repository name: domain (with port, if any) plus path, without tag or digest. Short names are
//! expanded to Docker Hub (`nginx:1.25` → `docker.io/library/nginx`). This module reproduces that
//! parser by hand (no regex engine), including which inputs it rejects.
//!
//! Grammar (distribution/reference):
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain "/"] path-component ["/" path-component]*
//! domain           := (domain-name | "[" [a-fA-F0-9:]+ "]") [":" [0-9]+]
//! domain-name      := domain-component ["." domain-component]*
//! domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path-component   := [a-z0-9]+ (([._]|__|[-]+) [a-z0-9]+)*
//! tag              := [\w][\w.-]{0,127}
//! digest           := algorithm ":" [0-9a-fA-F]{32,}
//! algorithm        := [A-Za-z][A-Za-z0-9]* ([-_+.] [A-Za-z][A-Za-z0-9]*)*
//! ```

/// Domain that short ("familiar") names are expanded to.
const DEFAULT_DOMAIN: &str = "docker.io";
/// Old name of Docker Hub; rewritten to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";

/// Longest repository path (the name without its domain) Docker accepts, in bytes.
pub const MAX_REPOSITORY_PATH_LEN: usize = 255;

/// Why an image reference was rejected. Docker itself reports most of these as
/// "invalid reference format"; the variants say which part was wrong so callers can explain it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The reference is the empty string (Docker: "invalid reference format").
    #[error("invalid reference format: the image reference is empty")]
    Empty,
    /// The whole reference is 64 lower-case hex characters: an image ID, not a name.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
    /// The repository name contains upper-case letters (the domain may; the path may not).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// The name part does not follow the grammar (bad characters, empty component, bad domain, ...).
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    /// The part after the last `:` is not a valid tag (`[\w][\w.-]{0,127}`).
    #[error("invalid reference format: invalid tag {0:?}")]
    InvalidTag(String),
    /// The part after `@` is not of the form `algorithm:hex` with at least 32 hex digits.
    #[error("invalid reference format: invalid digest {0:?}")]
    InvalidDigest(String),
    /// The repository path (without domain) is longer than [`MAX_REPOSITORY_PATH_LEN`] bytes.
    #[error("repository name must not be more than 255 characters (it has {0})")]
    NameTooLong(usize),
    /// A known digest algorithm with the wrong number of hex digits (sha256 needs 64).
    #[error("invalid checksum digest length")]
    DigestLength,
    /// A digest whose hex is not lower-case, or whose algorithm is malformed.
    #[error("invalid checksum digest format")]
    DigestFormat,
    /// A well-formed digest with an algorithm other than sha256, sha384 or sha512.
    #[error("unsupported digest algorithm")]
    UnsupportedDigest,
}

/// Turn a container image reference into the repository name the kubelet sends as `image`.
///
/// Mirrors `reference.ParseNormalizedNamed(s).Name()`: `nginx:1.25` → `docker.io/library/nginx`,
/// `me/app` → `docker.io/me/app`, `index.docker.io/x` → `docker.io/library/x`,
/// `registry.io:5000/a/b@sha256:…` → `registry.io:5000/a/b`. Rejects what Docker rejects.
pub fn normalize_image(reference: &str) -> Result<String, ImageError> {
    if reference.is_empty() {
        return Err(ImageError::Empty);
    }
    if is_hex_identifier(reference) {
        return Err(ImageError::HexIdentifier(reference.to_owned()));
    }
    let (domain, remainder) = split_docker_domain(reference);
    // Docker checks the remainder up to the first ':' (the tag, or the digest's algorithm).
    let remote = remainder.split(':').next().unwrap_or_default();
    if go_to_lower(remote) != remote {
        return Err(ImageError::Uppercase(remote.to_owned()));
    }
    let full = format!("{domain}/{remainder}");
    let parts = match parse_syntax(&full) {
        Ok(parts) => parts,
        Err(err) => {
            let lower = go_to_lower(&full);
            if lower != full && parse_syntax(&lower).is_ok() {
                return Err(ImageError::Uppercase(reference.to_owned()));
            }
            return Err(err);
        }
    };
    if parts.path_len > MAX_REPOSITORY_PATH_LEN {
        return Err(ImageError::NameTooLong(parts.path_len));
    }
    if let Some(digest) = parts.digest {
        validate_digest(digest)?;
    }
    Ok(parts.name.to_owned())
}

/// The registry part of a normalised image: everything before the first `/`, or the whole string.
///
/// This is the kubelet's cache key for `cacheKeyType: Registry` (`registry.io:5000/a/b` →
/// `registry.io:5000`).
pub fn registry_of(image: &str) -> &str {
    image
        .split_once('/')
        .map_or(image, |(registry, _)| registry)
}

/// `^[a-f0-9]{64}$`: an image ID that must not be taken for a name.
fn is_hex_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Go's `strings.ToLower`: one simple lower-case mapping per character (U+0130 → `i`).
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Split a reference into Docker's domain and the rest, applying the Docker Hub defaults.
fn split_docker_domain(name: &str) -> (&str, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        // A single element ("nginx", "nginx:1.25") is an official Docker Hub image.
        return (DEFAULT_DOMAIN, format!("{OFFICIAL_REPO_PREFIX}{name}"));
    };
    let (domain, remote) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) || go_to_lower(maybe_domain) != maybe_domain {
        // A dot or colon (host, IP, port) or an upper-case letter: a domain, not a namespace.
        (maybe_domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remote}"));
    }
    (domain, remote.to_owned())
}

/// The pieces of a syntactically valid reference.
struct Parts<'a> {
    /// Domain and path, as Docker's `Name()`.
    name: &'a str,
    /// Length of the path (the name without the domain it matched).
    path_len: usize,
    /// The digest after `@`, if any.
    digest: Option<&'a str>,
}

/// Match the whole reference grammar (Docker's anchored `ReferenceRegexp`).
fn parse_syntax(s: &str) -> Result<Parts<'_>, ImageError> {
    let (name_tag, digest) = match s.split_once('@') {
        Some((name_tag, digest)) => (name_tag, Some(digest)),
        None => (s, None),
    };
    if let Some(digest) = digest
        && !is_digest_syntax(digest)
    {
        return Err(ImageError::InvalidDigest(digest.to_owned()));
    }
    // A tag has neither ':' nor '/', and a ':' inside the name (a port) is always followed by
    // '/', so the tag is whatever follows the last ':' when no '/' comes after it.
    let (name, tag) = match name_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_tag, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return Err(ImageError::InvalidTag(tag.to_owned()));
    }
    let path_len = name_path_len(name).ok_or_else(|| ImageError::InvalidFormat(s.to_owned()))?;
    Ok(Parts {
        name,
        path_len,
        digest,
    })
}

/// Length of the path of a valid name, or `None` if the name is invalid.
///
/// Like Docker's regexp (leftmost-first), the first component is taken as the domain whenever that
/// gives a valid name; otherwise the whole name must be a path.
fn name_path_len(name: &str) -> Option<usize> {
    if let Some((domain, path)) = name.split_once('/')
        && is_domain_and_port(domain)
        && is_remote_name(path)
    {
        return Some(path.len());
    }
    is_remote_name(name).then_some(name.len())
}

/// `domain-name | "[" ipv6 "]"`, then an optional `:port`.
fn is_domain_and_port(s: &str) -> bool {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(end) => s.split_at(end + 1),
            None => return false,
        }
    } else {
        match s.find(':') {
            Some(colon) => s.split_at(colon),
            None => (s, ""),
        }
    };
    let port_ok = match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => !ipv6.is_empty() && ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => host.split('.').all(is_domain_component),
    };
    port_ok && host_ok
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

/// One or more path components separated by `/`.
fn is_remote_name(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            i += 1;
        }
        if i == start {
            return false; // empty component, or a separator not followed by an alphanumeric
        }
        match b.get(i) {
            None => return true,
            Some(b'.') => i += 1,
            Some(b'_') => {
                i += 1;
                if b.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            Some(b'-') => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            Some(_) => return false,
        }
    }
}

/// `[\w][\w.-]{0,127}` where `\w` is `[0-9A-Za-z_]`.
fn is_tag(s: &str) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.first().is_some_and(word)
        && b.iter().all(|c| word(c) || *c == b'.' || *c == b'-')
}

/// The reference grammar's digest: `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}`.
fn is_digest_syntax(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        b.first().is_some_and(u8::is_ascii_alphabetic) && b.iter().all(u8::is_ascii_alphanumeric)
    };
    algorithm.split(['-', '_', '+', '.']).all(component_ok)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `go-digest`'s `Digest.Validate`, for a digest that already passed [`is_digest_syntax`].
fn validate_digest(digest: &str) -> Result<(), ImageError> {
    let (algorithm, encoded) = digest.split_once(':').ok_or(ImageError::DigestFormat)?;
    let hex_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            // go-digest's own grammar: lower-case algorithm components.
            let lower_ok = algorithm.split(['.', '+', '_', '-']).all(|c| {
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            return Err(if lower_ok {
                ImageError::UnsupportedDigest
            } else {
                ImageError::DigestFormat
            });
        }
    };
    if encoded.len() != hex_len {
        return Err(ImageError::DigestLength);
    }
    if !encoded
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(ImageError::DigestFormat);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn norm(s: &str) -> Result<String, ImageError> {
        normalize_image(s)
    }

    #[test]
    fn single_name_gets_docker_hub_and_library() {
        assert_eq!(norm("nginx").unwrap(), "docker.io/library/nginx");
        assert_eq!(norm("nginx:1.25").unwrap(), "docker.io/library/nginx");
    }

    #[test]
    fn namespace_without_dot_or_colon_is_docker_hub() {
        assert_eq!(norm("me/app").unwrap(), "docker.io/me/app");
        assert_eq!(norm("me/app/sub:v1").unwrap(), "docker.io/me/app/sub");
    }

    #[test]
    fn domain_with_port_and_digest_is_stripped_of_digest() {
        let image = format!("registry.io:5000/a/b@sha256:{HEX64}");
        assert_eq!(norm(&image).unwrap(), "registry.io:5000/a/b");
        let both = format!("registry.io/a:v1@sha256:{HEX64}");
        assert_eq!(norm(&both).unwrap(), "registry.io/a");
    }

    #[test]
    fn legacy_index_domain_becomes_docker_io_with_library() {
        assert_eq!(norm("index.docker.io/x").unwrap(), "docker.io/library/x");
        assert_eq!(norm("index.docker.io/me/x").unwrap(), "docker.io/me/x");
        assert_eq!(norm("docker.io/x:1").unwrap(), "docker.io/library/x");
    }

    #[test]
    fn library_prefix_only_on_docker_hub() {
        assert_eq!(norm("quay.io/x").unwrap(), "quay.io/x");
        assert_eq!(norm("localhost/x").unwrap(), "localhost/x");
    }

    #[test]
    fn localhost_and_colon_and_uppercase_first_component_are_domains() {
        assert_eq!(norm("localhost:5000/x:y").unwrap(), "localhost:5000/x");
        assert_eq!(norm("myhost:5000/x").unwrap(), "myhost:5000/x");
        assert_eq!(norm("MyRegistry/x").unwrap(), "MyRegistry/x");
    }

    #[test]
    fn ipv6_domain_in_brackets() {
        assert_eq!(norm("[::1]:5000/a/b:t").unwrap(), "[::1]:5000/a/b");
        assert_eq!(norm("[fe80::1]/a").unwrap(), "[fe80::1]/a");
        assert!(matches!(
            norm("[fe80::1%eth0]/a"),
            Err(ImageError::InvalidFormat(_))
        ));
    }

    #[test]
    fn undotted_first_component_that_is_no_domain_becomes_path() {
        // "a_b.com" has a '.', so Docker treats it as the domain, but it is not a valid
        // domain-name; the whole name then parses as a path without domain.
        assert_eq!(norm("a_b.com/x").unwrap(), "a_b.com/x");
    }

    #[test]
    fn empty_is_rejected() {
        assert_eq!(norm(""), Err(ImageError::Empty));
    }

    #[test]
    fn hex_identifier_is_rejected() {
        assert_eq!(norm(HEX64), Err(ImageError::HexIdentifier(HEX64.into())));
        // 63 characters is just a name.
        assert_eq!(
            norm(&HEX64[1..]).unwrap(),
            format!("docker.io/library/{}", &HEX64[1..])
        );
    }

    #[test]
    fn uppercase_repository_is_rejected() {
        assert_eq!(
            norm("Nginx"),
            Err(ImageError::Uppercase("library/Nginx".into()))
        );
        assert_eq!(
            norm("quay.io/Me/x"),
            Err(ImageError::Uppercase("Me/x".into()))
        );
        // Upper case in the tag is fine.
        assert_eq!(norm("nginx:LATEST").unwrap(), "docker.io/library/nginx");
        // An upper-case first component that is not a valid domain: caught by the full parse.
        assert!(matches!(norm("Foo_Bar/x"), Err(ImageError::Uppercase(_))));
    }

    #[test]
    fn invalid_formats_are_rejected() {
        for bad in [
            "a..b/x",
            "reg.io/x//y",
            "reg.io/-x",
            "reg.io/x-",
            "reg.io/a___b",
            "reg.io/a.-b",
            "reg.io:port/x",
            "reg.io:/x",
            "-reg.io/x",
            "reg.io/x y",
            "reg.io/é",
            "[::1/x",
            "[]/x",
            "/x",
            "reg.io/",
        ] {
            assert!(
                matches!(norm(bad), Err(ImageError::InvalidFormat(_))),
                "{bad}: {:?}",
                norm(bad)
            );
        }
    }

    #[test]
    fn separators_follow_the_grammar() {
        assert_eq!(norm("me/a__b--c.d_e").unwrap(), "docker.io/me/a__b--c.d_e");
        // A first component with a dot is taken as a domain; when it is not a valid domain the
        // whole name must then be a path (here it is).
        assert_eq!(norm("a__b--c.d_e/f").unwrap(), "a__b--c.d_e/f");
    }

    #[test]
    fn path_longer_than_255_is_rejected() {
        let ok = format!("reg.io/{}", "a".repeat(255));
        assert_eq!(norm(&ok).unwrap(), ok);
        let long = format!("reg.io/{}", "a".repeat(256));
        assert_eq!(norm(&long), Err(ImageError::NameTooLong(256)));
        // The domain does not count.
        let long_domain = format!("{}.io/x", "r".repeat(300));
        assert_eq!(norm(&long_domain).unwrap(), long_domain);
    }

    #[test]
    fn invalid_tag_is_rejected() {
        assert_eq!(norm("nginx:"), Err(ImageError::InvalidTag(String::new())));
        assert_eq!(norm("nginx:-x"), Err(ImageError::InvalidTag("-x".into())));
        assert_eq!(norm("nginx:a+b"), Err(ImageError::InvalidTag("a+b".into())));
        assert!(norm(&format!("nginx:{}", "t".repeat(128))).is_ok());
        assert!(matches!(
            norm(&format!("nginx:{}", "t".repeat(129))),
            Err(ImageError::InvalidTag(_))
        ));
    }

    #[test]
    fn invalid_digest_is_rejected() {
        assert!(matches!(
            norm("nginx@sha256:abc"),
            Err(ImageError::InvalidDigest(_))
        ));
        assert!(matches!(norm("nginx@"), Err(ImageError::InvalidDigest(_))));
        assert!(matches!(
            norm(&format!("nginx@{HEX64}")),
            Err(ImageError::InvalidDigest(_))
        ));
        assert!(matches!(
            norm(&format!("nginx@sha256:{HEX64}@x")),
            Err(ImageError::InvalidDigest(_))
        ));
    }

    #[test]
    fn sha256_length_rule() {
        let short = &HEX64[..40];
        assert_eq!(
            norm(&format!("nginx@sha256:{short}")),
            Err(ImageError::DigestLength)
        );
        assert_eq!(
            norm(&format!("nginx@sha256:{HEX64}00")),
            Err(ImageError::DigestLength)
        );
        assert!(norm(&format!("nginx@sha512:{HEX64}{HEX64}")).is_ok());
    }

    #[test]
    fn uppercase_hex_digest_is_format_error() {
        let upper = HEX64.to_uppercase();
        assert_eq!(
            norm(&format!("nginx@sha256:{upper}")),
            Err(ImageError::DigestFormat)
        );
    }

    #[test]
    fn unknown_digest_algorithm() {
        assert_eq!(
            norm(&format!("nginx@md5:{HEX64}")),
            Err(ImageError::UnsupportedDigest)
        );
        // Docker checks the remainder up to the first ':' for upper case before anything else,
        // and that includes the digest algorithm.
        assert_eq!(
            norm(&format!("nginx@SHA256:{HEX64}")),
            Err(ImageError::Uppercase("library/nginx@SHA256".into()))
        );
    }

    #[test]
    fn registry_is_text_before_first_slash() {
        assert_eq!(registry_of("registry.io:5000/a/b"), "registry.io:5000");
        assert_eq!(registry_of("docker.io/library/nginx"), "docker.io");
        assert_eq!(registry_of("noslash"), "noslash");
        assert_eq!(registry_of(""), "");
    }

    #[test]
    fn no_panic_on_odd_input() {
        for s in [
            "@",
            ":",
            "/",
            "[",
            "]",
            "@@",
            "::",
            "a@:",
            "\u{0130}/x",
            "x/\u{212a}",
            "\0",
        ] {
            let _ = norm(s);
        }
    }
}
