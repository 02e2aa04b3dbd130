//! Signing certificates (Fulcio's) and timestamp authority certificates: the fields Sigstore
//! policy reads (SAN identity, OIDC issuer, key usage), and path validation to a trusted root
//! at a given time (rustls-webpki, the validator rustls uses).

use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;

use super::keys::{KeyError, PublicKey};

/// Fulcio's OIDC issuer extension (a DER UTF8String).
const OID_ISSUER_V2: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's first OIDC issuer extension (the raw string).
const OID_ISSUER_V1: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// The embedded SCT list extension (RFC 6962).
pub const OID_SCT_LIST: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

/// The code-signing extended key usage (1.3.6.1.5.5.7.3.3), as webpki takes it.
pub const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// The time-stamping extended key usage (1.3.6.1.5.5.7.3.8), as webpki takes it.
pub const EKU_TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Not a DER X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    Malformed(String),
    /// Its key is not one this verifier knows.
    #[error("certificate key: {0}")]
    Key(#[from] KeyError),
    /// No path to a trusted CA valid at the time.
    #[error("the certificate does not chain to a trusted {what} valid at {time}: {reason}")]
    Untrusted {
        /// Which kind of CA.
        what: &'static str,
        /// The time (Unix seconds).
        time: i64,
        /// webpki's reason for the last CA tried.
        reason: String,
    },
    /// A required extension is missing or wrong.
    #[error("certificate {0}")]
    Profile(String),
}

/// A parsed signing certificate.
#[derive(Debug, Clone)]
pub struct SigningCertificate {
    /// The DER bytes.
    pub der: Vec<u8>,
    /// The parsed certificate.
    pub cert: Certificate,
    /// Its public key.
    pub key: PublicKey,
    /// `notBefore`, Unix seconds.
    pub not_before: i64,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
}

impl SigningCertificate {
    /// Parses a DER certificate.
    pub fn from_der(der_bytes: &[u8]) -> Result<SigningCertificate, CertificateError> {
        let cert = Certificate::from_der(der_bytes)
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        let key = PublicKey::from_spki_der(&spki)?;
        let validity = &cert.tbs_certificate.validity;
        let not_before = validity.not_before.to_unix_duration().as_secs() as i64;
        let not_after = validity.not_after.to_unix_duration().as_secs() as i64;
        Ok(SigningCertificate {
            der: der_bytes.to_vec(),
            cert,
            key,
            not_before,
            not_after,
        })
    }

    /// Whether `time` (Unix seconds) is inside the certificate's validity.
    pub fn valid_at(&self, time: i64) -> bool {
        self.not_before <= time && time <= self.not_after
    }

    fn extension(&self, oid: const_oid::ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|ext| ext.extn_id == oid)
            .map(|ext| ext.extn_value.as_bytes())
    }

    /// The identities in the Subject Alternative Name: URIs, email addresses, DNS names.
    pub fn san_identities(&self) -> Vec<String> {
        let Some(value) = self.extension(const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME) else {
            return Vec::new();
        };
        let Ok(names) = x509_cert::ext::pkix::SubjectAltName::from_der(value) else {
            return Vec::new();
        };
        names
            .0
            .iter()
            .filter_map(|name| match name {
                GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                GeneralName::Rfc822Name(email) => Some(email.to_string()),
                GeneralName::DnsName(dns) => Some(dns.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The OIDC issuer Fulcio recorded (the DER extension, else the legacy raw one).
    pub fn oidc_issuer(&self) -> Option<String> {
        if let Some(value) = self.extension(OID_ISSUER_V2) {
            return der::asn1::Utf8StringRef::from_der(value)
                .ok()
                .map(|s| s.as_str().to_owned());
        }
        self.extension(OID_ISSUER_V1)
            .and_then(|value| std::str::from_utf8(value).ok())
            .map(str::to_owned)
    }

    /// Checks the Sigstore signing-certificate profile: key usage includes digital signature
    /// (code signing is checked during path validation).
    pub fn check_signing_profile(&self) -> Result<(), CertificateError> {
        let value = self
            .extension(const_oid::db::rfc5280::ID_CE_KEY_USAGE)
            .ok_or_else(|| CertificateError::Profile("has no key usage extension".into()))?;
        let usage = x509_cert::ext::pkix::KeyUsage::from_der(value)
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        if !usage.digital_signature() {
            return Err(CertificateError::Profile(
                "key usage does not include digital signature".into(),
            ));
        }
        Ok(())
    }

    /// The embedded SCT list extension's value, if any.
    pub fn sct_list(&self) -> Option<&[u8]> {
        self.extension(OID_SCT_LIST)
    }
}

/// Validates `leaf` to one of `chains` (each DER certificates with the root last; everything
/// before the root is an intermediate) at `time`, for extended key usage `eku`. Returns the
/// DER of the certificate that issued the leaf.
pub fn verify_path(
    leaf: &[u8],
    chains: &[&[Vec<u8>]],
    time: i64,
    eku: &'static [u8],
    what: &'static str,
) -> Result<Vec<u8>, CertificateError> {
    let leaf_der = CertificateDer::from(leaf);
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| CertificateError::Malformed(format!("{e:?}")))?;
    let unix_time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(time.max(0) as u64));
    let mut reason = String::from("no CA is trusted for that time");
    for chain in chains {
        let Some((root, intermediates)) = chain.split_last() else {
            continue;
        };
        let root_der = CertificateDer::from(root.as_slice());
        let anchor = match webpki::anchor_from_trusted_cert(&root_der) {
            Ok(anchor) => anchor,
            Err(e) => {
                reason = format!("unusable root certificate ({e:?})");
                continue;
            }
        };
        let intermediate_ders: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        match end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &intermediate_ders,
            unix_time,
            webpki::KeyUsage::required(eku),
            None,
            None,
        ) {
            Ok(path) => {
                let issuer = path
                    .intermediate_certificates()
                    .next()
                    .map(|c| c.der().as_ref().to_vec())
                    .unwrap_or_else(|| root.clone());
                return Ok(issuer);
            }
            Err(e) => reason = format!("{e:?}"),
        }
    }
    Err(CertificateError::Untrusted { what, time, reason })
}

/// The DER SubjectPublicKeyInfo of a DER certificate.
pub fn spki_of(cert_der: &[u8]) -> Result<Vec<u8>, CertificateError> {
    let cert =
        Certificate::from_der(cert_der).map_err(|e| CertificateError::Malformed(e.to_string()))?;
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CertificateError::Malformed(e.to_string()))
}
