//! Offline verification of Sigstore bundles: keyless (a Fulcio certificate for an OIDC
//! identity, its SCT, a transparency log entry and/or RFC 3161 timestamps, all checked against
//! a trusted root) or keyed (a key the operator supplies, plus the log entry).
//!
//! Why our own and not the `sigstore` crate: its bundle verifier (0.14) leaves Merkle inclusion
//! and SET checks as TODOs, reads neither RFC 3161 timestamps nor Rekor v2 entries and
//! checkpoints, has no keyed bundles, and links aws-lc-rs, reqwest and tough for TUF. The
//! pieces maintained crates do well are theirs: X.509 and CMS parsing (RustCrypto's x509-cert,
//! cms, x509-tsp), signatures (ring, p256/p384), path validation (rustls-webpki), SHA-2.
//!
//! The steps follow the Sigstore client specification as sigstore-python and sigstore-go
//! implement it; the conformance suite's cases (tests/conformance.rs) hold us to it.

pub mod bundle;
pub mod certificate;
pub mod checkpoint;
pub mod dsse;
pub mod keys;
pub mod merkle;
pub mod rekor_body;
pub mod sct;
pub mod timestamp;
pub mod tlog;
pub mod trusted_root;

use sha2::{Digest, Sha256};

use bundle::{Bundle, Content, Material};
use certificate::{EKU_CODE_SIGNING, SigningCertificate, verify_path};
use keys::{KeyKind, PublicKey};
use rekor_body::{Signed, Signer as BodySigner, check_body};
use tlog::{EntryOutcome, verify_entry};
use trusted_root::TrustedRoot;

/// What a bundle must be signed by.
#[derive(Debug, Clone, Copy)]
pub enum BundlePolicy<'a> {
    /// One of these keys (a bundle with `publicKey` material).
    Keys(&'a [PublicKey]),
    /// A Fulcio certificate for exactly this identity (SAN) from exactly this OIDC issuer.
    Identity {
        /// The certificate's SAN (URI or email), compared exactly.
        identity: &'a str,
        /// The OIDC issuer Fulcio recorded, compared exactly.
        issuer: &'a str,
    },
}

/// The artifact a bundle is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// Its bytes.
    Bytes(&'a [u8]),
    /// Only its SHA-256.
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    /// The artifact's SHA-256.
    pub fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(bytes) => Sha256::digest(bytes).into(),
            Artifact::Sha256(digest) => *digest,
        }
    }
}

/// Who a verified bundle was signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedSigner {
    /// A key, by fingerprint (`sha256:` of its SubjectPublicKeyInfo).
    Key {
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// A certificate identity.
    Identity {
        /// The SAN that matched.
        identity: String,
        /// The OIDC issuer.
        issuer: String,
    },
}

impl std::fmt::Display for VerifiedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifiedSigner::Key { fingerprint } => write!(f, "key {fingerprint}"),
            VerifiedSigner::Identity { identity, issuer } => {
                write!(f, "identity {identity} (issuer {issuer})")
            }
        }
    }
}

/// Why a bundle did not verify. Each renders as one line naming the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bundle's material does not fit the policy (a key bundle for an identity policy...).
    #[error("{0}")]
    Material(&'static str),
    /// The signature does not verify over the artifact with the signer's key.
    #[error("the signature does not verify over the artifact{0}")]
    Signature(String),
    /// The artifact is not the one the bundle is about.
    #[error("the bundle is for another artifact ({0})")]
    ArtifactMismatch(&'static str),
    /// The signing certificate is unusable or untrusted.
    #[error("signing certificate: {0}")]
    Certificate(#[from] certificate::CertificateError),
    /// The certificate's SCTs fail.
    #[error("signing certificate: {0}")]
    Sct(#[from] sct::SctError),
    /// The certificate is for someone else.
    #[error("the signing certificate is for {found}, not the required {wanted}")]
    Identity {
        /// What the policy wants.
        wanted: String,
        /// What the certificate says.
        found: String,
    },
    /// A log entry fails.
    #[error("transparency log: {0}")]
    Tlog(#[from] tlog::TlogError),
    /// A log entry records something else than this bundle.
    #[error("transparency log: {0}")]
    Body(#[from] rekor_body::BodyError),
    /// No entry in a log the trusted root knows.
    #[error("no transparency log entry from a log in the trusted root")]
    NoTrustedEntry,
    /// A timestamp fails.
    #[error("timestamp: {0}")]
    Timestamp(#[from] timestamp::TimestampError),
    /// Neither a signed log time nor a timestamp vouches for when it was signed.
    #[error(
        "no verified time of signing (neither a signed log entry time nor a trusted timestamp)"
    )]
    NoVerifiedTime,
    /// A vouched-for time is outside the certificate's validity or its CA's trust window.
    #[error("the signing certificate was not valid at the verified time of signing {0}")]
    Expired(i64),
}

/// Verifies `bundle` over `artifact` under `policy`, offline against `root`, at `now` (Unix
/// seconds, for the "integrated in the future" check). Returns the signer.
pub fn verify_bundle(
    bundle: &Bundle,
    artifact: Artifact<'_>,
    policy: BundlePolicy<'_>,
    root: &TrustedRoot,
    now: i64,
) -> Result<VerifiedSigner, VerifyError> {
    let digest = artifact.sha256();
    let signature = bundle.content.signature();

    // Who signed, and with which key.
    let (certificate, key) = match (&bundle.material, policy) {
        (Material::Certificate(der), BundlePolicy::Identity { .. }) => {
            let cert = SigningCertificate::from_der(der)?;
            let key = cert.key.clone();
            (Some(cert), key)
        }
        (Material::PublicKey { .. }, BundlePolicy::Keys(keys)) => {
            let key = keys
                .iter()
                .find(|key| check_signature(&bundle.content, artifact, key).is_ok())
                .ok_or_else(|| VerifyError::Signature(" with any of the given keys".into()))?;
            (None, key.clone())
        }
        (Material::PublicKey { .. }, BundlePolicy::Identity { .. }) => {
            return Err(VerifyError::Material(
                "the bundle is signed with a key, not a certificate for an identity (verify it with --key)",
            ));
        }
        (Material::Certificate(_), BundlePolicy::Keys(_)) => {
            return Err(VerifyError::Material(
                "the bundle is signed with a certificate, not a key (verify it with --certificate-identity and --certificate-oidc-issuer)",
            ));
        }
    };

    // The signature, over the artifact or the envelope naming it.
    check_signature(&bundle.content, artifact, &key)?;

    // The log entries, each consistent with this signature, signer and artifact.
    let body_signer = match &certificate {
        Some(cert) => BodySigner::Certificate(&cert.der),
        None => BodySigner::Key(key.spki_der()),
    };
    let signed = match &bundle.content {
        Content::MessageSignature { .. } => Signed::Digest(&digest),
        Content::Dsse(envelope) => Signed::Envelope {
            payload: &envelope.payload,
            payload_type: &envelope.payload_type,
        },
    };
    let mut times = Vec::new();
    let mut trusted_entries = 0;
    for entry in &bundle.tlog_entries {
        match verify_entry(entry, bundle.version, root, now)? {
            EntryOutcome::UnknownLog => continue,
            EntryOutcome::Verified { signed_time } => {
                check_body(
                    &entry.kind,
                    &entry.version,
                    &entry.body,
                    signature,
                    body_signer,
                    &key,
                    signed,
                )?;
                trusted_entries += 1;
                times.extend(signed_time);
            }
        }
    }
    if trusted_entries == 0 {
        return Err(VerifyError::NoTrustedEntry);
    }

    // Timestamps from trusted authorities: every one must verify.
    for (i, response) in bundle.timestamps.iter().enumerate() {
        if bundle.timestamps[..i].contains(response) {
            return Err(VerifyError::Timestamp(
                timestamp::TimestampError::Malformed("the same timestamp twice".into()),
            ));
        }
        times.push(timestamp::verify_timestamp(response, signature, root)?);
    }
    if times.is_empty() {
        return Err(VerifyError::NoVerifiedTime);
    }

    let Some(cert) = certificate else {
        return Ok(VerifiedSigner::Key {
            fingerprint: key.fingerprint(),
        });
    };
    let BundlePolicy::Identity { identity, issuer } = policy else {
        return Err(VerifyError::Material(
            "no identity policy for a certificate",
        ));
    };

    // The certificate: a path to a Fulcio CA at every verified time, its SCT, its profile.
    let mut issuer_der = None;
    for &time in &times {
        if !cert.valid_at(time) {
            return Err(VerifyError::Expired(time));
        }
        let chains: Vec<&[Vec<u8>]> = root
            .certificate_authorities
            .iter()
            .filter(|ca| ca.valid.contains(time))
            .map(|ca| ca.chain.as_slice())
            .collect();
        issuer_der = Some(verify_path(
            &cert.der,
            &chains,
            time,
            EKU_CODE_SIGNING,
            "Fulcio CA",
        )?);
    }
    let issuer_der = issuer_der.ok_or(VerifyError::NoVerifiedTime)?;
    sct::verify_embedded_scts(&cert, &certificate::spki_of(&issuer_der)?, root)?;
    cert.check_signing_profile()?;

    // The identity.
    let found_issuer = cert.oidc_issuer().unwrap_or_default();
    if found_issuer != issuer {
        return Err(VerifyError::Identity {
            wanted: format!("issuer {issuer}"),
            found: format!("issuer {found_issuer:?}"),
        });
    }
    let sans = cert.san_identities();
    if !sans.iter().any(|san| san == identity) {
        return Err(VerifyError::Identity {
            wanted: format!("identity {identity}"),
            found: format!("identities {sans:?}"),
        });
    }
    Ok(VerifiedSigner::Identity {
        identity: identity.to_owned(),
        issuer: found_issuer,
    })
}

/// Checks the content's signature with `key`: a message signature over the artifact (or its
/// digest), or a DSSE signature over the envelope whose in-toto statement names the artifact.
fn check_signature(
    content: &Content,
    artifact: Artifact<'_>,
    key: &PublicKey,
) -> Result<(), VerifyError> {
    let digest = artifact.sha256();
    match content {
        Content::MessageSignature {
            digest: stated,
            signature,
        } => {
            if stated.as_deref().is_some_and(|d| d != digest) {
                return Err(VerifyError::ArtifactMismatch("message digest"));
            }
            let result = match (key.kind(), artifact) {
                (KeyKind::EcdsaP256 | KeyKind::EcdsaP384, _) => {
                    key.verify_digest(&digest, signature)
                }
                (_, Artifact::Bytes(bytes)) => key.verify(keys::HashAlg::Sha256, bytes, signature),
                (_, Artifact::Sha256(_)) => key.verify_digest(&digest, signature),
            };
            result.map_err(|e| match e {
                keys::KeyError::BadSignature => VerifyError::Signature(String::new()),
                other => VerifyError::Signature(format!(": {other}")),
            })
        }
        Content::Dsse(envelope) => {
            let pae = dsse::pae(&envelope.payload_type, &envelope.payload);
            key.verify(key.default_hash(), &pae, &envelope.signature)
                .map_err(|_| VerifyError::Signature(" (DSSE envelope)".into()))?;
            if envelope.payload_type != dsse::IN_TOTO_PAYLOAD_TYPE {
                return Err(VerifyError::ArtifactMismatch(
                    "the envelope holds no in-toto statement",
                ));
            }
            match dsse::statement_names(&envelope.payload, &digest) {
                Ok(true) => Ok(()),
                Ok(false) => Err(VerifyError::ArtifactMismatch(
                    "no in-toto subject has its digest",
                )),
                Err(_) => Err(VerifyError::ArtifactMismatch(
                    "the payload is not an in-toto statement",
                )),
            }
        }
    }
}
