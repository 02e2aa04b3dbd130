//! Rekor entry bodies (`canonicalizedBody`) and whether one records exactly this bundle's
//! signature, key or certificate, and artifact: the check that stops a bundle from borrowing
//! another artifact's log entry (CVE-2022-36056).
//!
//! Entry kinds: `hashedrekord` 0.0.1 (Rekor v1) and 0.0.2 (Rekor v2, also for DSSE), `dsse`
//! 0.0.1 and `intoto` 0.0.2 (Rekor v1 DSSE envelopes). Bodies are read as JSON values: their
//! schemas are Rekor's, and only the fields compared here matter.

use serde_json::Value;

use super::keys::{HashAlg, KeyKind, PublicKey, decode_base64};

/// What signed: a certificate or a bare key.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// The signing certificate's DER.
    Certificate(&'a [u8]),
    /// The key's SubjectPublicKeyInfo DER.
    Key(&'a [u8]),
}

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum Signed<'a> {
    /// An artifact, by its SHA-256.
    Digest(&'a [u8]),
    /// A DSSE envelope.
    Envelope {
        /// The payload.
        payload: &'a [u8],
        /// The payload's type.
        payload_type: &'a str,
    },
}

/// Why a body does not match the bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is not of its kind's shape.
    #[error("malformed {kind} log entry: {reason}")]
    Malformed {
        /// The entry's kind and version.
        kind: String,
        /// What is missing.
        reason: String,
    },
    /// The kind and version are not ones this verifier reads, or do not fit the content.
    #[error("unsupported log entry {0} for this bundle's content")]
    Unsupported(String),
    /// The body records something else.
    #[error("the log entry records a different {0} than the bundle")]
    Mismatch(&'static str),
}

/// Checks that the body of a `kind`/`version` entry records `signature` by `signer` over
/// `signed`. `key` is the signer's key (for the key details and hash Rekor v2 records).
pub fn check_body(
    kind: &str,
    version: &str,
    body: &[u8],
    signature: &[u8],
    signer: Signer<'_>,
    key: &PublicKey,
    signed: Signed<'_>,
) -> Result<(), BodyError> {
    let label = format!("{kind}/{version}");
    let malformed = |reason: &str| BodyError::Malformed {
        kind: label.clone(),
        reason: reason.to_owned(),
    };
    let json: Value = serde_json::from_slice(body).map_err(|_| malformed("not JSON"))?;
    if json["kind"] != kind || json["apiVersion"] != version {
        return Err(BodyError::Mismatch("entry kind"));
    }
    let text = |v: &Value, what: &str| -> Result<String, BodyError> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("no {what}")))
    };
    let b64 = |v: &Value, what: &str| -> Result<Vec<u8>, BodyError> {
        decode_base64(&text(v, what)?).ok_or_else(|| malformed(&format!("{what} is not base64")))
    };
    let spec = &json["spec"];
    match (kind, version, signed) {
        ("hashedrekord", "0.0.1", Signed::Digest(digest)) => {
            let hash = &spec["data"]["hash"];
            if text(&hash["algorithm"], "hash algorithm")? != "sha256"
                || !text(&hash["value"], "hash")?.eq_ignore_ascii_case(&hex::encode(digest))
            {
                return Err(BodyError::Mismatch("artifact digest"));
            }
            if b64(&spec["signature"]["content"], "signature")? != signature {
                return Err(BodyError::Mismatch("signature"));
            }
            let pem = b64(&spec["signature"]["publicKey"]["content"], "public key")?;
            check_pem_signer(&pem, signer)
        }
        ("hashedrekord", "0.0.2", signed) => {
            let entry = &spec["hashedRekordV002"];
            let (algorithm, digest) = match signed {
                Signed::Digest(digest) => ("SHA2_256", digest.to_vec()),
                Signed::Envelope {
                    payload,
                    payload_type,
                } => {
                    let hash = key.default_hash();
                    let name = match hash {
                        HashAlg::Sha256 => "SHA2_256",
                        HashAlg::Sha384 => "SHA2_384",
                        HashAlg::Sha512 => "SHA2_512",
                    };
                    (name, hash.digest(&super::dsse::pae(payload_type, payload)))
                }
            };
            if text(&entry["data"]["algorithm"], "digest algorithm")? != algorithm
                || b64(&entry["data"]["digest"], "digest")? != digest
            {
                return Err(BodyError::Mismatch("artifact digest"));
            }
            let sig = &entry["signature"];
            if b64(&sig["content"], "signature")? != signature {
                return Err(BodyError::Mismatch("signature"));
            }
            let verifier = &sig["verifier"];
            let recorded_ok = match signer {
                Signer::Certificate(der) => {
                    b64(&verifier["x509Certificate"]["rawBytes"], "certificate")? == der
                }
                Signer::Key(spki) => b64(&verifier["publicKey"]["rawBytes"], "public key")? == spki,
            };
            if !recorded_ok {
                return Err(BodyError::Mismatch("signer"));
            }
            if text(&verifier["keyDetails"], "key details")? != key_details(key) {
                return Err(BodyError::Mismatch("key type"));
            }
            Ok(())
        }
        ("dsse", "0.0.1", Signed::Envelope { payload, .. }) => {
            check_payload_hash(&spec["payloadHash"], payload, &label)?;
            let signatures = spec["signatures"]
                .as_array()
                .ok_or_else(|| malformed("no signatures"))?;
            let [recorded] = signatures.as_slice() else {
                return Err(BodyError::Mismatch("signature list"));
            };
            if b64(&recorded["signature"], "signature")? != signature {
                return Err(BodyError::Mismatch("signature"));
            }
            check_pem_signer(&b64(&recorded["verifier"], "verifier")?, signer)
        }
        (
            "intoto",
            "0.0.2",
            Signed::Envelope {
                payload,
                payload_type,
            },
        ) => {
            let content = &spec["content"];
            check_payload_hash(&content["payloadHash"], payload, &label)?;
            let envelope = &content["envelope"];
            if envelope["payloadType"] != payload_type {
                return Err(BodyError::Mismatch("payload type"));
            }
            let signatures = envelope["signatures"]
                .as_array()
                .ok_or_else(|| malformed("no signatures"))?;
            let [recorded] = signatures.as_slice() else {
                return Err(BodyError::Mismatch("signature list"));
            };
            // intoto 0.0.2 stores the envelope's base64 strings base64-encoded once more.
            let sig_text = b64(&recorded["sig"], "signature")?;
            let sig = std::str::from_utf8(&sig_text)
                .ok()
                .and_then(decode_base64)
                .ok_or_else(|| malformed("signature is not base64"))?;
            if sig != signature {
                return Err(BodyError::Mismatch("signature"));
            }
            check_pem_signer(&b64(&recorded["publicKey"], "public key")?, signer)
        }
        _ => Err(BodyError::Unsupported(label)),
    }
}

fn check_payload_hash(hash: &Value, payload: &[u8], label: &str) -> Result<(), BodyError> {
    let algorithm = hash["algorithm"].as_str();
    let value = hash["value"].as_str();
    match (algorithm, value) {
        (Some("sha256"), Some(value))
            if value.eq_ignore_ascii_case(&hex::encode(HashAlg::Sha256.digest(payload))) =>
        {
            Ok(())
        }
        (Some(_), Some(_)) => Err(BodyError::Mismatch("payload")),
        _ => Err(BodyError::Malformed {
            kind: label.to_owned(),
            reason: "no payload hash".into(),
        }),
    }
}

/// Whether a PEM text (a certificate, or a public key) names `signer`.
fn check_pem_signer(pem: &[u8], signer: Signer<'_>) -> Result<(), BodyError> {
    use rustls_pki_types::pem::PemObject;
    let matches = match signer {
        Signer::Certificate(der) => rustls_pki_types::CertificateDer::pem_slice_iter(pem)
            .next()
            .and_then(Result::ok)
            .is_some_and(|cert| cert.as_ref() == der),
        Signer::Key(spki) => rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .is_ok_and(|key| key.as_ref() == spki),
    };
    if matches {
        Ok(())
    } else {
        Err(BodyError::Mismatch("signer"))
    }
}

/// Sigstore's `PublicKeyDetails` name for a key as Rekor v2 records it.
pub fn key_details(key: &PublicKey) -> &'static str {
    match key.kind() {
        KeyKind::EcdsaP256 => "PKIX_ECDSA_P256_SHA_256",
        KeyKind::EcdsaP384 => "PKIX_ECDSA_P384_SHA_384",
        KeyKind::Ed25519 => "PKIX_ED25519",
        KeyKind::Rsa => "PKIX_RSA_PKCS1V15_2048_SHA256",
    }
}
