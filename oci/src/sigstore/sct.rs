//! Signed certificate timestamps embedded in Fulcio certificates (RFC 6962 section 3.2): proof
//! that a CT log saw the precertificate, checked offline against the trusted root's CT logs.
//!
//! Written here: RFC 6962's TLS structures are a few fixed-width fields, and the one Rust crate
//! for them (`sct`) is unmaintained and only reads the final-certificate form, not
//! precertificates with embedded SCTs.

use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::TbsCertificate;

use super::certificate::{OID_SCT_LIST, SigningCertificate};
use super::keys::HashAlg;
use super::trusted_root::TrustedRoot;

/// Why the SCTs were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SctError {
    /// The certificate carries no SCT.
    #[error("the certificate has no embedded SCT")]
    Missing,
    /// The SCT list does not parse.
    #[error("malformed SCT list: {0}")]
    Malformed(&'static str),
    /// No SCT verified against a trusted CT log.
    #[error("no embedded SCT verifies against a trusted CT log")]
    Unverified,
}

struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash: u8,
    signature: &'a [u8],
}

/// A cursor over TLS-encoded bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SctError> {
        if self.0.len() < n {
            return Err(SctError::Malformed("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, SctError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, SctError> {
        let b = self.take(2)?;
        Ok(usize::from(b[0]) << 8 | usize::from(b[1]))
    }
    fn vec16(&mut self) -> Result<&'a [u8], SctError> {
        let n = self.u16()?;
        self.take(n)
    }
}

fn parse_sct(bytes: &[u8]) -> Result<Sct<'_>, SctError> {
    let mut r = Reader(bytes);
    if r.u8()? != 0 {
        return Err(SctError::Malformed("unknown SCT version"));
    }
    let log_id = r.take(32)?;
    let timestamp_ms = u64::from_be_bytes(
        r.take(8)?
            .try_into()
            .map_err(|_| SctError::Malformed("timestamp"))?,
    );
    let extensions = r.vec16()?;
    let hash = r.u8()?;
    let _signature_alg = r.u8()?;
    let signature = r.vec16()?;
    if !r.0.is_empty() {
        return Err(SctError::Malformed("trailing bytes after an SCT"));
    }
    Ok(Sct {
        log_id,
        timestamp_ms,
        extensions,
        hash,
        signature,
    })
}

/// The leaf's TBSCertificate without the SCT list: what the log signed (the precertificate).
fn precertificate_tbs(leaf: &SigningCertificate) -> Result<Vec<u8>, SctError> {
    let mut tbs: TbsCertificate = leaf.cert.tbs_certificate.clone();
    if let Some(extensions) = tbs.extensions.as_mut() {
        extensions.retain(|ext| ext.extn_id != OID_SCT_LIST);
    }
    tbs.to_der()
        .map_err(|_| SctError::Malformed("cannot re-encode the certificate"))
}

/// Checks that at least one SCT embedded in `leaf` (issued by the certificate whose
/// SubjectPublicKeyInfo is `issuer_spki`) verifies against a CT log of `root` that was trusted
/// at the SCT's time.
pub fn verify_embedded_scts(
    leaf: &SigningCertificate,
    issuer_spki: &[u8],
    root: &TrustedRoot,
) -> Result<(), SctError> {
    let value = leaf.sct_list().ok_or(SctError::Missing)?;
    let list = der::asn1::OctetStringRef::from_der(value)
        .map_err(|_| SctError::Malformed("the extension is not an OCTET STRING"))?;
    let mut outer = Reader(list.as_bytes());
    let mut entries = Reader(outer.vec16()?);
    if !outer.0.is_empty() {
        return Err(SctError::Malformed("trailing bytes after the SCT list"));
    }
    let tbs = precertificate_tbs(leaf)?;
    let tbs_len = u32::try_from(tbs.len())
        .ok()
        .filter(|n| *n < 1 << 24)
        .ok_or(SctError::Malformed("certificate too large"))?;
    let issuer_key_hash = Sha256::digest(issuer_spki);
    while !entries.0.is_empty() {
        let sct = parse_sct(entries.vec16()?)?;
        let Some(log) = root.ctlog(sct.log_id) else {
            continue;
        };
        let seconds = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        if !log.valid.contains(seconds) {
            continue;
        }
        let hash = match sct.hash {
            4 => HashAlg::Sha256,
            5 => HashAlg::Sha384,
            6 => HashAlg::Sha512,
            _ => continue,
        };
        let mut signed = Vec::with_capacity(tbs.len() + 64);
        signed.push(0); // version v1
        signed.push(0); // signature_type certificate_timestamp
        signed.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        signed.extend_from_slice(sct.extensions);
        if log.key.verify(hash, &signed, sct.signature).is_ok() {
            return Ok(());
        }
    }
    Err(SctError::Unverified)
}
