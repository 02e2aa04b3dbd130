//! The Sigstore bundle (`application/vnd.dev.sigstore.bundle...`), decoded from protobuf's JSON
//! mapping into checked parts: the media type's version, the verification material, the
//! transparency log entries, the timestamps and the signed content.
//!
//! Hand-written for the same reason as the trusted root's types (see `trusted_root.rs`): a
//! handful of messages, decoded straight into what verification acts on.

use serde::Deserialize;

use super::keys::decode_base64;

/// Largest bundle accepted: real bundles are a few KiB (a certificate, a log entry, a proof).
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;
/// Most transparency log entries or timestamps one bundle may carry (each costs signature
/// checks; sigstore-go's limit).
pub const MAX_ENTRIES: usize = 32;

/// The bundle format's version, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    /// `;version=0.1`: inclusion promise required, proof optional.
    V0_1,
    /// `;version=0.2`: inclusion proof with checkpoint required.
    V0_2,
    /// `;version=0.3` or `.v0.3+json`: a single certificate instead of a chain.
    V0_3,
}

/// A decoded bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The format version.
    pub version: BundleVersion,
    /// What the signature is checked with.
    pub material: Material,
    /// The transparency log entries.
    pub tlog_entries: Vec<TlogEntry>,
    /// DER RFC 3161 `TimeStampResp`s over the signature.
    pub timestamps: Vec<Vec<u8>>,
    /// The signed content.
    pub content: Content,
}

/// The verification material.
#[derive(Debug, Clone)]
pub enum Material {
    /// A signing certificate (DER): Fulcio's, checked against the trusted root.
    Certificate(Vec<u8>),
    /// A key known out of band (`--key`); the hint is informational only.
    PublicKey {
        /// The bundle's key hint.
        hint: String,
    },
}

/// The signed content.
#[derive(Debug, Clone)]
pub enum Content {
    /// A signature over the artifact itself.
    MessageSignature {
        /// The SHA-256 of the artifact, if the bundle states it.
        digest: Option<Vec<u8>>,
        /// The signature.
        signature: Vec<u8>,
    },
    /// A DSSE envelope (an in-toto statement naming the artifact as a subject).
    Dsse(Envelope),
}

/// A DSSE envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The payload's type (`application/vnd.in-toto+json`).
    pub payload_type: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// The signature over the PAE (exactly one).
    pub signature: Vec<u8>,
}

impl Content {
    /// The signature bytes (what RFC 3161 timestamps are taken over).
    pub fn signature(&self) -> &[u8] {
        match self {
            Content::MessageSignature { signature, .. } => signature,
            Content::Dsse(envelope) => &envelope.signature,
        }
    }
}

/// One transparency log entry.
#[derive(Debug, Clone)]
pub struct TlogEntry {
    /// The entry's index in its log.
    pub log_index: i64,
    /// The log's ID.
    pub log_id: Vec<u8>,
    /// The entry's kind (`hashedrekord`, `dsse`, `intoto`).
    pub kind: String,
    /// The kind's version (`0.0.1`, `0.0.2`).
    pub version: String,
    /// When the log says it integrated the entry (Unix seconds; 0 for Rekor v2).
    pub integrated_time: i64,
    /// The log's signed entry timestamp, if any.
    pub inclusion_promise: Option<Vec<u8>>,
    /// The Merkle inclusion proof, if any.
    pub inclusion_proof: Option<InclusionProof>,
    /// The entry's body as the log hashed it.
    pub body: Vec<u8>,
}

/// A Merkle inclusion proof and the checkpoint it leads to.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// The leaf's index.
    pub log_index: i64,
    /// The tree's root hash.
    pub root_hash: Vec<u8>,
    /// The tree's size.
    pub tree_size: i64,
    /// The sibling hashes, leaf to root.
    pub hashes: Vec<Vec<u8>>,
    /// The signed checkpoint (note text), if any.
    pub checkpoint: Option<String>,
}

/// Why a bundle could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not JSON, or not of the bundle's shape.
    #[error("not a Sigstore bundle: {0}")]
    Json(String),
    /// The media type names no version this verifier knows.
    #[error("unsupported bundle media type {0:?}")]
    MediaType(String),
    /// A field is missing or unusable.
    #[error("bundle {field}: {reason}")]
    Field {
        /// Which field.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

fn field(field: &str, reason: impl Into<String>) -> BundleError {
    BundleError::Field {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// An int64 in protobuf JSON: a string of digits or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum WireInt {
    Text(String),
    Number(i64),
}

impl WireInt {
    fn value(&self, name: &str) -> Result<i64, BundleError> {
        match self {
            WireInt::Number(n) => Ok(*n),
            WireInt::Text(text) => text
                .parse()
                .map_err(|_| field(name, format!("{text:?} is not an integer"))),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBundle {
    media_type: String,
    verification_material: WireMaterial,
    message_signature: Option<WireMessageSignature>,
    dsse_envelope: Option<WireEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMaterial {
    certificate: Option<WireRaw>,
    x509_certificate_chain: Option<WireChain>,
    public_key: Option<WireHint>,
    #[serde(default)]
    tlog_entries: Vec<WireEntry>,
    timestamp_verification_data: Option<WireTimestamps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRaw {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct WireChain {
    #[serde(default)]
    certificates: Vec<WireRaw>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireHint {
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTimestamps {
    #[serde(default)]
    rfc3161_timestamps: Vec<WireTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry {
    log_index: WireInt,
    log_id: WireLogId,
    kind_version: WireKindVersion,
    integrated_time: Option<WireInt>,
    inclusion_promise: Option<WirePromise>,
    inclusion_proof: Option<WireProof>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct WireKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireProof {
    log_index: WireInt,
    root_hash: String,
    tree_size: WireInt,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<WireCheckpoint>,
}

#[derive(Deserialize)]
struct WireCheckpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessageSignature {
    message_digest: Option<WireDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct WireDigest {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvelope {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<WireDsseSignature>,
}

#[derive(Deserialize)]
struct WireDsseSignature {
    sig: String,
}

fn bytes(text: &str, name: &str) -> Result<Vec<u8>, BundleError> {
    decode_base64(text).ok_or_else(|| field(name, "not base64"))
}

impl Bundle {
    /// Decodes and checks a bundle's structure (not its signatures).
    pub fn from_json(json: &[u8]) -> Result<Bundle, BundleError> {
        if json.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::Json(format!(
                "larger than {MAX_BUNDLE_BYTES} bytes"
            )));
        }
        let wire: WireBundle =
            serde_json::from_slice(json).map_err(|e| BundleError::Json(e.to_string()))?;
        let version = match wire.media_type.as_str() {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => BundleVersion::V0_1,
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => BundleVersion::V0_2,
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => BundleVersion::V0_3,
            other => return Err(BundleError::MediaType(other.to_owned())),
        };
        let vm = wire.verification_material;
        let material = match (vm.certificate, vm.x509_certificate_chain, vm.public_key) {
            (Some(cert), None, None) => Material::Certificate(bytes(
                &cert.raw_bytes,
                "verificationMaterial.certificate.rawBytes",
            )?),
            (None, Some(chain), None) => {
                if version >= BundleVersion::V0_3 {
                    return Err(field(
                        "verificationMaterial.x509CertificateChain",
                        "not allowed in a v0.3 bundle (use certificate)",
                    ));
                }
                // The first certificate is the signing certificate; the rest of a "chain" is
                // never trusted (the trusted root supplies the CA certificates).
                let leaf = chain.certificates.first().ok_or_else(|| {
                    field(
                        "verificationMaterial.x509CertificateChain",
                        "no certificates",
                    )
                })?;
                Material::Certificate(bytes(
                    &leaf.raw_bytes,
                    "verificationMaterial.x509CertificateChain.certificates[0]",
                )?)
            }
            (None, None, Some(key)) => Material::PublicKey { hint: key.hint },
            _ => {
                return Err(field(
                    "verificationMaterial",
                    "exactly one of certificate, x509CertificateChain and publicKey is required",
                ));
            }
        };
        if vm.tlog_entries.len() > MAX_ENTRIES {
            return Err(field(
                "verificationMaterial.tlogEntries",
                format!("more than {MAX_ENTRIES} entries"),
            ));
        }
        let tlog_entries = vm
            .tlog_entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                decode_entry(entry, &format!("verificationMaterial.tlogEntries[{i}]"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timestamps = vm
            .timestamp_verification_data
            .map(|data| data.rfc3161_timestamps)
            .unwrap_or_default();
        if timestamps.len() > MAX_ENTRIES {
            return Err(field(
                "verificationMaterial.timestampVerificationData",
                format!("more than {MAX_ENTRIES} timestamps"),
            ));
        }
        let timestamps = timestamps
            .iter()
            .enumerate()
            .map(|(i, ts)| {
                bytes(
                    &ts.signed_timestamp,
                    &format!(
                        "verificationMaterial.timestampVerificationData.rfc3161Timestamps[{i}]"
                    ),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let content = match (wire.message_signature, wire.dsse_envelope) {
            (Some(message), None) => {
                let digest = match message.message_digest {
                    None => None,
                    Some(d) if d.algorithm == "SHA2_256" => {
                        Some(bytes(&d.digest, "messageSignature.messageDigest.digest")?)
                    }
                    Some(d) => {
                        return Err(field(
                            "messageSignature.messageDigest.algorithm",
                            format!("{:?} is not supported (SHA2_256 is)", d.algorithm),
                        ));
                    }
                };
                Content::MessageSignature {
                    digest,
                    signature: bytes(&message.signature, "messageSignature.signature")?,
                }
            }
            (None, Some(envelope)) => {
                let [signature] = envelope.signatures.as_slice() else {
                    return Err(field(
                        "dsseEnvelope.signatures",
                        format!(
                            "exactly one signature is required, found {}",
                            envelope.signatures.len()
                        ),
                    ));
                };
                Content::Dsse(Envelope {
                    payload_type: envelope.payload_type,
                    payload: bytes(&envelope.payload, "dsseEnvelope.payload")?,
                    signature: bytes(&signature.sig, "dsseEnvelope.signatures[0].sig")?,
                })
            }
            _ => {
                return Err(field(
                    "content",
                    "exactly one of messageSignature and dsseEnvelope is required",
                ));
            }
        };
        if content.signature().is_empty() {
            return Err(field("signature", "empty"));
        }
        Ok(Bundle {
            version,
            material,
            tlog_entries,
            timestamps,
            content,
        })
    }
}

fn decode_entry(entry: &WireEntry, name: &str) -> Result<TlogEntry, BundleError> {
    let log_index = entry.log_index.value(&format!("{name}.logIndex"))?;
    if log_index < 0 {
        return Err(field(&format!("{name}.logIndex"), "negative"));
    }
    let integrated_time = entry
        .integrated_time
        .as_ref()
        .map(|t| t.value(&format!("{name}.integratedTime")))
        .transpose()?
        .unwrap_or(0);
    let inclusion_proof = entry
        .inclusion_proof
        .as_ref()
        .map(|proof| -> Result<InclusionProof, BundleError> {
            let proof_name = format!("{name}.inclusionProof");
            let log_index = proof.log_index.value(&format!("{proof_name}.logIndex"))?;
            let tree_size = proof.tree_size.value(&format!("{proof_name}.treeSize"))?;
            if log_index < 0 || tree_size < 0 {
                return Err(field(&proof_name, "negative index or size"));
            }
            Ok(InclusionProof {
                log_index,
                tree_size,
                root_hash: bytes(&proof.root_hash, &format!("{proof_name}.rootHash"))?,
                hashes: proof
                    .hashes
                    .iter()
                    .map(|h| bytes(h, &format!("{proof_name}.hashes")))
                    .collect::<Result<_, _>>()?,
                checkpoint: proof.checkpoint.as_ref().map(|c| c.envelope.clone()),
            })
        })
        .transpose()?;
    Ok(TlogEntry {
        log_index,
        log_id: bytes(&entry.log_id.key_id, &format!("{name}.logId.keyId"))?,
        kind: entry.kind_version.kind.clone(),
        version: entry.kind_version.version.clone(),
        integrated_time,
        inclusion_promise: entry
            .inclusion_promise
            .as_ref()
            .map(|p| {
                bytes(
                    &p.signed_entry_timestamp,
                    &format!("{name}.inclusionPromise"),
                )
            })
            .transpose()?,
        inclusion_proof,
        body: bytes(
            &entry.canonicalized_body,
            &format!("{name}.canonicalizedBody"),
        )?,
    })
}
