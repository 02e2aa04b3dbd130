//! Module references: `host[:port]/repository[:tag|@sha256:<hex>]`, always naming the registry
//! host (no implicit Docker Hub), parsed once into the parts every request uses.

use std::fmt;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host` or `host:port`.
    pub registry: String,
    /// The repository path (`team/module`).
    pub repository: String,
    /// A tag or a digest.
    pub target: Target,
}

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A tag (`latest` when none is written).
    Tag(String),
    /// A manifest digest, `sha256:<64 lowercase hex>`.
    Digest(String),
}

/// Why a reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid reference {input:?}: {reason} (expected host[:port]/repository[:tag|@sha256:<64 hex>])"
)]
pub struct ReferenceError {
    input: String,
    reason: &'static str,
}

impl Reference {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason| ReferenceError {
            input: text.to_owned(),
            reason,
        };
        let text_no_scheme = text.strip_prefix("oci://").unwrap_or(text);
        let (registry, rest) = text_no_scheme
            .split_once('/')
            .ok_or_else(|| fail("no repository after the registry host"))?;
        if registry.is_empty()
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(fail(
                "the registry host is empty or has characters a host cannot have",
            ));
        }
        if let Some((_, port)) = registry.rsplit_once(':')
            && !registry.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Err(fail("the registry port is not a number"));
        }
        let (path, target) = if let Some((path, digest)) = rest.split_once('@') {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or_else(|| fail("only sha256 digests are supported"))?;
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(fail("the digest is not 64 lowercase hex digits"));
            }
            (path, Target::Digest(digest.to_owned()))
        } else {
            let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
            match rest[last_slash..].rfind(':') {
                Some(colon) => {
                    let (path, tag) = rest.split_at(last_slash + colon);
                    let tag = &tag[1..];
                    let tag_ok = !tag.is_empty()
                        && tag.len() <= 128
                        && !tag.starts_with(['.', '-'])
                        && tag
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                    if !tag_ok {
                        return Err(fail("the tag is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
                    }
                    (path, Target::Tag(tag.to_owned()))
                }
                None => (rest, Target::Tag("latest".to_owned())),
            }
        };
        let path_ok = !path.is_empty()
            && path.split('/').all(|component| {
                !component.is_empty()
                    && component.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                    })
                    && !component.starts_with(['.', '_', '-'])
            });
        if !path_ok {
            return Err(fail("the repository must be lowercase path components"));
        }
        Ok(Reference {
            registry: registry.to_owned(),
            repository: path.to_owned(),
            target,
        })
    }

    /// The same repository at `digest`.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            target: Target::Digest(digest.to_owned()),
        }
    }

    /// The same repository at `tag`.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            target: Target::Tag(tag.to_owned()),
        }
    }

    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        match &self.target {
            Target::Digest(digest) => Some(digest),
            Target::Tag(_) => None,
        }
    }

    /// `host/repository` (what simple-signing payloads call the docker reference).
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    pub(crate) fn to_client(&self) -> oci_client::Reference {
        match &self.target {
            Target::Tag(tag) => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone(),
            ),
            Target::Digest(digest) => oci_client::Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                digest.clone(),
            ),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Tag(tag) => write!(f, "{}/{}:{tag}", self.registry, self.repository),
            Target::Digest(digest) => write!(f, "{}/{}@{digest}", self.registry, self.repository),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_digests_and_ports() {
        let r = Reference::parse("127.0.0.1:5000/team/mod:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "team/mod")
        );
        assert_eq!(r.target, Target::Tag("v1".into()));
        let r = Reference::parse("registry.example.com/mod").unwrap();
        assert_eq!(r.target, Target::Tag("latest".into()));
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("r.io:443/a/b@{digest}")).unwrap();
        assert_eq!(r.digest(), Some(digest.as_str()));
        assert_eq!(r.to_string(), format!("r.io:443/a/b@{digest}"));
        assert_eq!(
            Reference::parse("oci://r.io/a:v2").unwrap().to_string(),
            "r.io/a:v2"
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "module",
            "/repo",
            "r.io/",
            "r.io/Repo",
            "r.io/a:",
            "r.io/a@sha256:abc",
            "r.io/a@md5:00",
            "r.io:port/a",
            "r.io/a//b",
            "r io/a",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
