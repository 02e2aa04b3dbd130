//! Public keys as Sigstore meets them (SubjectPublicKeyInfo or PKCS#1 DER, PEM files) and
//! signature checks with them, over a whole message or over a SHA-256 digest.
//!
//! Whole-message checks use ring, which the host already links for TLS. ring cannot check a
//! signature against a digest alone (the conformance protocol's `sha256:<hex>` input, and a
//! Sigstore bundle's `messageSignature` checked against an OCI digest), so ECDSA keys check
//! digests with RustCrypto's `p256`/`p384` prehash verifiers.

use der::{Decode, Encode};
use ring::signature as rs;
use sha2::{Digest, Sha256};

/// The hash a signature was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// The digest of `data` under this hash.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The hash named by an AlgorithmIdentifier OID (sha256/384/512).
    pub fn from_digest_oid(oid: &const_oid::ObjectIdentifier) -> Option<HashAlg> {
        use const_oid::db::rfc5912::{ID_SHA_256, ID_SHA_384, ID_SHA_512};
        match *oid {
            ID_SHA_256 => Some(HashAlg::Sha256),
            ID_SHA_384 => Some(HashAlg::Sha384),
            ID_SHA_512 => Some(HashAlg::Sha512),
            _ => None,
        }
    }
}

/// What kind of key a [`PublicKey`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA (PKCS#1 v1.5 signatures).
    Rsa,
}

/// A parsed public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyKind,
    /// The key material as ring takes it: the SEC1 point, the Ed25519 key, or PKCS#1 RSAPublicKey.
    material: Vec<u8>,
    /// The SubjectPublicKeyInfo DER (what fingerprints and log entries name).
    spki_der: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?}, {})", self.kind, self.fingerprint())
    }
}

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a public key this verifier knows.
    #[error("not a supported public key ({0})")]
    Unsupported(String),
    /// The PEM text holds no public key.
    #[error("no PUBLIC KEY block in the PEM text")]
    NoPem,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// This key type cannot check a signature against a digest alone.
    #[error("a {0:?} signature can only be checked against the artifact itself, not its digest")]
    NeedsMessage(KeyKind),
}

const OID_EC_PUBLIC_KEY: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der_bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der_bytes)
            .map_err(|e| KeyError::Unsupported(format!("not a SubjectPublicKeyInfo: {e}")))?;
        let material = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::Unsupported("unaligned key bits".into()))?
            .to_vec();
        let kind = match spki.algorithm.oid {
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
                match curve {
                    Some(OID_P256) => KeyKind::EcdsaP256,
                    Some(OID_P384) => KeyKind::EcdsaP384,
                    other => {
                        return Err(KeyError::Unsupported(format!(
                            "EC curve {}",
                            other
                                .map(|o| o.to_string())
                                .unwrap_or_else(|| "missing".into())
                        )));
                    }
                }
            }
            OID_ED25519 => KeyKind::Ed25519,
            OID_RSA => KeyKind::Rsa,
            other => return Err(KeyError::Unsupported(format!("algorithm {other}"))),
        };
        Ok(PublicKey {
            kind,
            material,
            spki_der: der_bytes.to_vec(),
        })
    }

    /// Parses a DER PKCS#1 RSAPublicKey (how some trusted roots carry CT log keys).
    pub fn from_pkcs1_rsa_der(der_bytes: &[u8]) -> Result<PublicKey, KeyError> {
        // Wrap it in a SubjectPublicKeyInfo so that fingerprints mean the same for every key.
        let bits = der::asn1::BitString::from_bytes(der_bytes)
            .map_err(|e| KeyError::Unsupported(e.to_string()))?;
        let spki = spki::SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned {
                oid: OID_RSA,
                parameters: Some(der::asn1::Null.into()),
            },
            subject_public_key: bits,
        };
        let spki_der = spki
            .to_der()
            .map_err(|e| KeyError::Unsupported(e.to_string()))?;
        Ok(PublicKey {
            kind: KeyKind::Rsa,
            material: der_bytes.to_vec(),
            spki_der,
        })
    }

    /// Parses the first `PUBLIC KEY` block of a PEM text (as `cosign generate-key-pair` writes).
    pub fn from_pem(pem_text: &[u8]) -> Result<PublicKey, KeyError> {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(pem_text)
            .map_err(|_| KeyError::NoPem)?;
        PublicKey::from_spki_der(der.as_ref())
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// `sha256:<hex>` of the SubjectPublicKeyInfo DER: how output names a key.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.spki_der)))
    }

    /// The hash this key signs with by default (Sigstore's key details: P-256 with SHA-256,
    /// P-384 with SHA-384; Ed25519 hashes internally).
    pub fn default_hash(&self) -> HashAlg {
        match self.kind {
            KeyKind::EcdsaP384 => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// Checks `signature` (DER for ECDSA) over `message`, hashed with `hash`.
    pub fn verify(&self, hash: HashAlg, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        let algorithm: &dyn rs::VerificationAlgorithm = match (self.kind, hash) {
            (KeyKind::EcdsaP256, HashAlg::Sha256) => &rs::ECDSA_P256_SHA256_ASN1,
            (KeyKind::EcdsaP256, HashAlg::Sha384) => &rs::ECDSA_P256_SHA384_ASN1,
            (KeyKind::EcdsaP384, HashAlg::Sha256) => &rs::ECDSA_P384_SHA256_ASN1,
            (KeyKind::EcdsaP384, HashAlg::Sha384) => &rs::ECDSA_P384_SHA384_ASN1,
            (KeyKind::Ed25519, _) => &rs::ED25519,
            (KeyKind::Rsa, HashAlg::Sha256) => &rs::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, HashAlg::Sha384) => &rs::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, HashAlg::Sha512) => &rs::RSA_PKCS1_2048_8192_SHA512,
            (kind, hash) => {
                return Err(KeyError::Unsupported(format!("{kind:?} with {hash:?}")));
            }
        };
        rs::UnparsedPublicKey::new(algorithm, &self.material)
            .verify(message, signature)
            .map_err(|_| KeyError::BadSignature)
    }

    /// Checks a DER ECDSA `signature` against a message `digest` (the message itself unknown).
    pub fn verify_digest(&self, digest: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        match self.kind {
            KeyKind::EcdsaP256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.material)
                    .map_err(|e| KeyError::Unsupported(e.to_string()))?;
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| KeyError::BadSignature)?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            KeyKind::EcdsaP384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&self.material)
                    .map_err(|e| KeyError::Unsupported(e.to_string()))?;
                let sig = p384::ecdsa::Signature::from_der(signature)
                    .map_err(|_| KeyError::BadSignature)?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            kind => Err(KeyError::NeedsMessage(kind)),
        }
    }
}

/// Decodes base64 as protobuf JSON writes bytes (standard alphabet, padded; the URL-safe
/// alphabet is accepted as protobuf's JSON mapping allows).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .ok()
}

/// Encodes bytes as standard padded base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p256_key_verifies_over_message_and_digest() {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let key = PublicKey::from_pem(key_pair.public_key_pem().as_bytes()).unwrap();
        assert_eq!(key.kind(), KeyKind::EcdsaP256);
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .unwrap();
        let signature = signer.sign(&rng, b"payload").unwrap();
        key.verify(HashAlg::Sha256, b"payload", signature.as_ref())
            .unwrap();
        key.verify_digest(&Sha256::digest(b"payload"), signature.as_ref())
            .unwrap();
        assert_eq!(
            key.verify(HashAlg::Sha256, b"other", signature.as_ref()),
            Err(KeyError::BadSignature)
        );
        assert_eq!(
            key.verify_digest(&Sha256::digest(b"other"), signature.as_ref()),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn pem_without_key_is_refused() {
        assert_eq!(PublicKey::from_pem(b"hello"), Err(KeyError::NoPem));
    }
}
