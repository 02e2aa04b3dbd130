//! cosign's keyed signatures as most deployments have them: a manifest tagged
//! `sha256-<manifest hex>.sig` in the module's repository, each layer a simple-signing payload
//! (`application/vnd.dev.cosign.simplesigning.v1+json`) naming the manifest digest, its
//! signature (base64 ECDSA over the payload bytes) in the `dev.cosignproject.cosign/signature`
//! annotation.

use serde::Deserialize;

use crate::sigstore::keys::{PublicKey, decode_base64};

/// The media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that holds the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `critical.type` of an image signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// The tag cosign stores signatures of `digest` (`sha256:<hex>`) under.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

#[derive(Deserialize)]
struct Payload {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

/// Why a simple-signing signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignError {
    /// The annotation is missing or not base64.
    #[error("the layer has no base64 {SIGNATURE_ANNOTATION} annotation")]
    NoSignature,
    /// No given key verifies it.
    #[error("the signature does not verify with any given key")]
    WrongKey,
    /// The payload is not a simple-signing payload.
    #[error("the signed payload is not a cosign simple-signing payload")]
    NotPayload,
    /// The payload names another image.
    #[error("the signature is over another manifest ({0})")]
    OtherDigest(String),
}

/// Checks one signature layer: `signature` (the annotation) over `payload` with one of `keys`,
/// the payload naming `manifest_digest`. Returns the key that verified.
pub fn verify_simple_signing<'k>(
    payload: &[u8],
    signature: Option<&str>,
    keys: &'k [PublicKey],
    manifest_digest: &str,
) -> Result<&'k PublicKey, CosignError> {
    let signature = signature
        .and_then(decode_base64)
        .ok_or(CosignError::NoSignature)?;
    let key = keys
        .iter()
        .find(|key| key.verify(key.default_hash(), payload, &signature).is_ok())
        .ok_or(CosignError::WrongKey)?;
    let parsed: Payload = serde_json::from_slice(payload).map_err(|_| CosignError::NotPayload)?;
    if parsed.critical.kind != PAYLOAD_TYPE {
        return Err(CosignError::NotPayload);
    }
    if parsed.critical.image.digest != manifest_digest {
        return Err(CosignError::OtherDigest(parsed.critical.image.digest));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_of_a_digest() {
        assert_eq!(signature_tag("sha256:abcd"), "sha256-abcd.sig");
    }
}
