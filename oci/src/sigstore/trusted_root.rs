//! The Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json`): the Fulcio
//! CAs, Rekor logs, CT logs and timestamp authorities a verification trusts, each with the
//! window of time it is trusted for.
//!
//! The JSON types follow the protobuf-specs' JSON mapping (`dev.sigstore.trustroot.v1`). They
//! are written here rather than taken from the `sigstore_protobuf_specs` crate: we need a few
//! fields of a few messages, decoded into checked types (keys parsed, times as seconds), and
//! that crate brings prost and its code generator for the whole schema.

use serde::Deserialize;

use super::keys::{KeyError, PublicKey, decode_base64};

/// The public-good Sigstore instance's trusted root, as shipped with this build (a snapshot of
/// the one the `sigstore` Python package ships; see the README's section on registries).
pub const PUBLIC_GOOD_TRUSTED_ROOT: &str = include_str!("public-good.trusted_root.json");

/// A checked trusted root.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    /// Rekor transparency logs.
    pub tlogs: Vec<TransparencyLog>,
    /// Certificate transparency logs (for Fulcio certificates' SCTs).
    pub ctlogs: Vec<TransparencyLog>,
    /// Fulcio certificate authorities.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

/// A log's key and where it is trusted.
#[derive(Debug, Clone)]
pub struct TransparencyLog {
    /// The log's base URL (its host names Rekor v2 checkpoints).
    pub base_url: String,
    /// The log's key.
    pub key: PublicKey,
    /// The log ID entries name it by (SHA-256 of the key, or the log's own key ID).
    pub log_id: Vec<u8>,
    /// When the key is trusted.
    pub valid: Validity,
}

/// A certificate authority (Fulcio or TSA): its chain, leaf (TSA) or intermediates first, root
/// last.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    /// DER certificates, root last.
    pub chain: Vec<Vec<u8>>,
    /// When it is trusted.
    pub valid: Validity,
}

/// A trust window in Unix seconds, both ends inclusive; no end means still trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First second of trust.
    pub start: i64,
    /// Last second of trust.
    pub end: Option<i64>,
}

impl Validity {
    /// Whether `time` (Unix seconds) is inside the window.
    pub fn contains(&self, time: i64) -> bool {
        self.start <= time && self.end.is_none_or(|end| time <= end)
    }
}

/// Why a trusted root was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedRootError {
    /// Not JSON of the trusted root's shape.
    #[error("not a Sigstore trusted root: {0}")]
    Json(String),
    /// A field's value is unusable.
    #[error("trusted root {field}: {reason}")]
    Field {
        /// Which field.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<WireLog>,
    #[serde(default)]
    certificate_authorities: Vec<WireCa>,
    #[serde(default)]
    ctlogs: Vec<WireLog>,
    #[serde(default)]
    timestamp_authorities: Vec<WireCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLog {
    #[serde(default)]
    base_url: String,
    public_key: WireKey,
    log_id: WireLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireKey {
    raw_bytes: String,
    #[serde(default)]
    key_details: String,
    #[serde(default)]
    valid_for: Option<WireValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCa {
    cert_chain: WireChain,
    #[serde(default)]
    valid_for: Option<WireValidity>,
}

#[derive(Deserialize)]
struct WireChain {
    certificates: Vec<WireCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct WireValidity {
    start: Option<String>,
    end: Option<String>,
}

impl TrustedRoot {
    /// The public-good instance's root built into this binary.
    pub fn public_good() -> Result<TrustedRoot, TrustedRootError> {
        TrustedRoot::from_json(PUBLIC_GOOD_TRUSTED_ROOT.as_bytes())
    }

    /// Parses and checks a trusted root. Entries whose key or window is unusable make the
    /// whole root unusable: a root is reviewed as a whole.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, TrustedRootError> {
        let wire: WireRoot =
            serde_json::from_slice(bytes).map_err(|e| TrustedRootError::Json(e.to_string()))?;
        if !wire
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(TrustedRootError::Field {
                field: "mediaType".into(),
                reason: format!("{:?} is not a trusted root media type", wire.media_type),
            });
        }
        let logs =
            |list: Vec<WireLog>, name: &str| -> Result<Vec<TransparencyLog>, TrustedRootError> {
                list.into_iter()
                    .enumerate()
                    .map(|(i, log)| parse_log(log, &format!("{name}[{i}]")))
                    .collect()
            };
        let cas = |list: Vec<WireCa>,
                   name: &str|
         -> Result<Vec<CertificateAuthority>, TrustedRootError> {
            list.into_iter()
                .enumerate()
                .map(|(i, ca)| parse_ca(ca, &format!("{name}[{i}]")))
                .collect()
        };
        Ok(TrustedRoot {
            tlogs: logs(wire.tlogs, "tlogs")?,
            ctlogs: logs(wire.ctlogs, "ctlogs")?,
            certificate_authorities: cas(wire.certificate_authorities, "certificateAuthorities")?,
            timestamp_authorities: cas(wire.timestamp_authorities, "timestampAuthorities")?,
        })
    }

    /// The Rekor log with this log ID.
    pub fn tlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|log| log.log_id == log_id)
    }

    /// The CT log with this log ID.
    pub fn ctlog(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.ctlogs.iter().find(|log| log.log_id == log_id)
    }
}

fn field_error(field: &str, reason: impl Into<String>) -> TrustedRootError {
    TrustedRootError::Field {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn parse_log(log: WireLog, field: &str) -> Result<TransparencyLog, TrustedRootError> {
    let raw = decode_base64(&log.public_key.raw_bytes)
        .ok_or_else(|| field_error(&format!("{field}.publicKey.rawBytes"), "not base64"))?;
    let key = if log.public_key.key_details.starts_with("PKCS1_RSA") {
        PublicKey::from_pkcs1_rsa_der(&raw)
    } else {
        PublicKey::from_spki_der(&raw)
    }
    .map_err(|e: KeyError| field_error(&format!("{field}.publicKey"), e.to_string()))?;
    let log_id = decode_base64(&log.log_id.key_id)
        .ok_or_else(|| field_error(&format!("{field}.logId.keyId"), "not base64"))?;
    // A log key's window must say when trust began: without a start, an entry from any time
    // (before the key was ever the log's) would be accepted.
    let valid = parse_validity(
        log.public_key.valid_for.as_ref(),
        &format!("{field}.publicKey.validFor"),
        true,
    )?;
    Ok(TransparencyLog {
        base_url: log.base_url,
        key,
        log_id,
        valid,
    })
}

fn parse_ca(ca: WireCa, field: &str) -> Result<CertificateAuthority, TrustedRootError> {
    let chain = ca
        .cert_chain
        .certificates
        .iter()
        .enumerate()
        .map(|(i, cert)| {
            decode_base64(&cert.raw_bytes).ok_or_else(|| {
                field_error(
                    &format!("{field}.certChain.certificates[{i}]"),
                    "not base64",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if chain.is_empty() {
        return Err(field_error(
            &format!("{field}.certChain"),
            "no certificates",
        ));
    }
    let valid = parse_validity(ca.valid_for.as_ref(), &format!("{field}.validFor"), false)?;
    Ok(CertificateAuthority { chain, valid })
}

fn parse_validity(
    wire: Option<&WireValidity>,
    field: &str,
    start_required: bool,
) -> Result<Validity, TrustedRootError> {
    let start = wire.and_then(|w| w.start.as_deref());
    let start = match start {
        Some(text) => parse_rfc3339(text).map_err(|e| field_error(&format!("{field}.start"), e))?,
        None if start_required => return Err(field_error(field, "no start time")),
        None => i64::MIN,
    };
    let end = wire
        .and_then(|w| w.end.as_deref())
        .map(|text| parse_rfc3339(text).map_err(|e| field_error(&format!("{field}.end"), e)))
        .transpose()?;
    Ok(Validity { start, end })
}

/// Unix seconds of an RFC 3339 timestamp (protobuf's JSON `Timestamp`).
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("{text:?} is not an RFC 3339 time ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_root_parses() {
        let root = TrustedRoot::public_good().unwrap();
        assert!(!root.tlogs.is_empty());
        assert!(!root.certificate_authorities.is_empty());
        assert!(!root.ctlogs.is_empty());
    }

    #[test]
    fn validity_is_inclusive() {
        let window = Validity {
            start: 10,
            end: Some(20),
        };
        assert!(window.contains(10) && window.contains(20));
        assert!(!window.contains(9) && !window.contains(21));
    }

    #[test]
    fn a_log_without_a_start_is_refused() {
        let json = r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs":[{"baseUrl":"https://log","hashAlgorithm":"SHA2_256",
            "publicKey":{"rawBytes":"MCowBQYDK2VwAyEAPn+AREHoBaZ7wgS1zBqpxmLSGnyhxXj4lFxSdWVB8o8=","keyDetails":"PKIX_ED25519","validFor":{}},
            "logId":{"keyId":"AAAA"}}]}"#;
        let err = TrustedRoot::from_json(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("no start time"), "{err}");
    }
}
