//! RFC 3161 signed timestamps over a bundle's signature: the CMS SignedData is taken apart
//! with RustCrypto's `cms` and `x509-tsp` types; the checks (imprint, signed attributes, the
//! signer's key, its path to a trusted timestamp authority at the stamped time) are Sigstore's
//! and written here, as no maintained Rust crate verifies timestamp tokens.

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use der::{Decode, Encode};
use x509_tsp::{TimeStampResp, TstInfo};

use super::certificate::{EKU_TIME_STAMPING, SigningCertificate, verify_path};
use super::keys::{HashAlg, PublicKey};
use super::trusted_root::TrustedRoot;

const OID_SIGNED_DATA: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_TST_INFO: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_CONTENT_TYPE: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The DER does not parse as a granted `TimeStampResp` with a SignedData token.
    #[error("malformed RFC 3161 timestamp: {0}")]
    Malformed(String),
    /// The timestamp is over other bytes than the signature.
    #[error("the timestamp is not over this bundle's signature")]
    ImprintMismatch,
    /// No trusted timestamp authority signed it, or not while it was trusted.
    #[error("no trusted timestamp authority signed the timestamp at its time")]
    Untrusted,
}

fn malformed(reason: impl std::fmt::Display) -> TimestampError {
    TimestampError::Malformed(reason.to_string())
}

/// Checks a DER `TimeStampResp` over `signature` against the trusted root's timestamp
/// authorities; returns the stamped time (Unix seconds).
pub fn verify_timestamp(
    response: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<i64, TimestampError> {
    let response = TimeStampResp::from_der(response).map_err(malformed)?;
    let status = response.status.status as u8;
    if status > 1 {
        return Err(malformed("the timestamp was not granted"));
    }
    let token: ContentInfo = response
        .time_stamp_token
        .ok_or_else(|| malformed("no timestamp token"))?;
    if token.content_type != OID_SIGNED_DATA {
        return Err(malformed("the token is not SignedData"));
    }
    let signed_data: SignedData = token.content.decode_as().map_err(malformed)?;
    let encap = &signed_data.encap_content_info;
    if encap.econtent_type != OID_TST_INFO {
        return Err(malformed("the signed content is not a TSTInfo"));
    }
    let econtent = encap
        .econtent
        .as_ref()
        .ok_or_else(|| malformed("no TSTInfo"))?;
    let tst_der = der::asn1::OctetStringRef::try_from(econtent)
        .map_err(malformed)?
        .as_bytes()
        .to_vec();
    let tst = TstInfo::from_der(&tst_der).map_err(malformed)?;
    let imprint_hash = HashAlg::from_digest_oid(&tst.message_imprint.hash_algorithm.oid)
        .ok_or_else(|| malformed("unsupported imprint hash"))?;
    if imprint_hash.digest(signature) != tst.message_imprint.hashed_message.as_bytes() {
        return Err(TimestampError::ImprintMismatch);
    }
    let gen_time = tst.gen_time.to_unix_duration().as_secs() as i64;
    let signer_info = signed_data
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| malformed("no signer"))?;
    if signed_data.signer_infos.0.len() != 1 {
        return Err(malformed("more than one signer"));
    }
    let (signed_message, digest_hash) = signed_attributes(signer_info, &tst_der)?;
    let sig_hash = signature_hash(signer_info, digest_hash)?;
    let embedded: Vec<Vec<u8>> = signed_data
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|choice| match choice {
                    cms::cert::CertificateChoices::Certificate(cert) => cert.to_der().ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    for authority in &root.timestamp_authorities {
        if !authority.valid.contains(gen_time) || authority.chain.len() < 2 {
            continue;
        }
        // The signer is the authority's own leaf, or a certificate embedded in the token that
        // the authority's chain vouches for; either way its path is checked at the stamped time.
        let (leaf, rest) = authority
            .chain
            .split_first()
            .map(|(l, r)| (l.clone(), r))
            .unwrap_or_default();
        let mut candidates: Vec<(Vec<u8>, Vec<Vec<u8>>)> = vec![(leaf.clone(), rest.to_vec())];
        for cert in &embedded {
            if *cert != leaf {
                candidates.push((cert.clone(), authority.chain.clone()));
            }
        }
        for (signer_der, chain) in candidates {
            let Ok(signer) = SigningCertificate::from_der(&signer_der) else {
                continue;
            };
            if !signer.valid_at(gen_time) {
                continue;
            }
            if verify_path(
                &signer_der,
                &[&chain],
                gen_time,
                EKU_TIME_STAMPING,
                "timestamp authority",
            )
            .is_err()
            {
                continue;
            }
            if verify_signer(&signer.key, sig_hash, &signed_message, signer_info).is_ok() {
                return Ok(gen_time);
            }
        }
    }
    Err(TimestampError::Untrusted)
}

/// The bytes the signer signed (the DER SET OF signed attributes), after checking that the
/// attributes name the TSTInfo and carry its digest. Also returns the digest algorithm.
fn signed_attributes(
    signer_info: &SignerInfo,
    tst_der: &[u8],
) -> Result<(Vec<u8>, HashAlg), TimestampError> {
    let attributes = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("no signed attributes"))?;
    let digest_hash = HashAlg::from_digest_oid(&signer_info.digest_alg.oid)
        .ok_or_else(|| malformed("unsupported digest algorithm"))?;
    let single = |oid: const_oid::ObjectIdentifier| {
        attributes
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next().cloned())
            .ok_or_else(|| malformed(format!("no {oid} attribute")))
    };
    let content_type: const_oid::ObjectIdentifier =
        single(OID_CONTENT_TYPE)?.decode_as().map_err(malformed)?;
    if content_type != OID_TST_INFO {
        return Err(malformed("the content-type attribute is not TSTInfo"));
    }
    let digest = single(OID_MESSAGE_DIGEST)?;
    let digest = der::asn1::OctetStringRef::try_from(&digest).map_err(malformed)?;
    if digest.as_bytes() != digest_hash.digest(tst_der) {
        return Err(malformed(
            "the message-digest attribute is not the TSTInfo's digest",
        ));
    }
    Ok((attributes.to_der().map_err(malformed)?, digest_hash))
}

/// The hash of the signer's signature, from its signature algorithm (or its digest algorithm
/// when the signature algorithm names only the key type).
fn signature_hash(
    signer_info: &SignerInfo,
    digest_hash: HashAlg,
) -> Result<HashAlg, TimestampError> {
    use const_oid::db::rfc5912::*;
    Ok(match signer_info.signature_algorithm.oid {
        ECDSA_WITH_SHA_256 | SHA_256_WITH_RSA_ENCRYPTION => HashAlg::Sha256,
        ECDSA_WITH_SHA_384 | SHA_384_WITH_RSA_ENCRYPTION => HashAlg::Sha384,
        ECDSA_WITH_SHA_512 | SHA_512_WITH_RSA_ENCRYPTION => HashAlg::Sha512,
        ID_EC_PUBLIC_KEY | RSA_ENCRYPTION => digest_hash,
        other => {
            return Err(malformed(format!(
                "unsupported signature algorithm {other}"
            )));
        }
    })
}

fn verify_signer(
    key: &PublicKey,
    hash: HashAlg,
    message: &[u8],
    signer_info: &SignerInfo,
) -> Result<(), TimestampError> {
    key.verify(hash, message, signer_info.signature.as_bytes())
        .map_err(|_| TimestampError::Untrusted)
}
