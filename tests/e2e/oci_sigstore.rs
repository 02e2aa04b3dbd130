//! Signatures made in the tests: a cosign key pair (ECDSA P-256, PEM, as `cosign
//! generate-key-pair` writes the public half) signing simple-signing payloads, and a test
//! Sigstore instance (a Fulcio-like CA issuing code-signing certificates for an OIDC identity
//! with an embedded SCT from a test CT log, a Rekor-like log signing entry timestamps and
//! checkpoints) with its `trusted_root.json`, producing v0.3 bundles. Plus the two ways
//! signatures are attached in a registry: the `sha256-<digest>.sig` tag and bundle referrers
//! (through the referrers tag, as docker-registry 2.8 has no referrers API), pushed with skopeo.

use std::path::Path;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::registry::{OciLayout, Registry, digest};

/// The identity and issuer the test CA certifies.
pub const IDENTITY: &str =
    "https://github.com/plugin-vendor/plugins/.github/workflows/release.yml@refs/heads/main";
/// See [`IDENTITY`].
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A P-256 key pair.
pub struct TestKey {
    rcgen: rcgen::KeyPair,
    ring: EcdsaKeyPair,
}

impl TestKey {
    pub fn generate() -> TestKey {
        let rcgen = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let ring = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &rcgen.serialize_der(),
            &SystemRandom::new(),
        )
        .expect("ring key");
        TestKey { rcgen, ring }
    }

    /// ECDSA (SHA-256, DER) over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.ring
            .sign(&SystemRandom::new(), message)
            .expect("sign")
            .as_ref()
            .to_vec()
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> String {
        self.rcgen.public_key_pem()
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.rcgen)
    }

    /// Writes the public PEM to `dir/name`.
    pub fn write_public(&self, dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.public_pem()).expect("write key");
        let _ = self.ring.public_key();
        path
    }
}

/// cosign's simple-signing payload for `digest` in `repository` (`host/repo`).
pub fn simple_signing_payload(repository: &str, digest: &str) -> Vec<u8> {
    json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    })
    .to_string()
    .into_bytes()
}

/// Pushes a cosign signature image (one simple-signing layer, the signature in its
/// annotation) under `repo:sha256-<hex>.sig`, through an OCI layout and skopeo.
pub fn push_cosign_signature(
    registry: &Registry,
    repo: &str,
    signed_digest: &str,
    payload: &[u8],
    signature: &[u8],
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut layout = OciLayout::new(dir.path());
    let mut layer = layout.blob("application/vnd.dev.cosign.simplesigning.v1+json", payload);
    layer["annotations"] = json!({"dev.cosignproject.cosign/signature": b64(signature)});
    let config = json!({
        "architecture": "", "os": "", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest(payload)]}
    })
    .to_string();
    let config = layout.blob(
        "application/vnd.oci.image.config.v1+json",
        config.as_bytes(),
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    })
    .to_string();
    let tag = format!("{}.sig", signed_digest.replace(':', "-"));
    layout.tag(
        &tag,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    );
    let layout = layout.finish();
    registry.skopeo_push_layout(&layout, &tag, &format!("{repo}:{tag}"), false);
}

/// Pushes `bundle` as a referrer of `subject` (a manifest digest and size): the bundle
/// manifest (cosign's bundle spec layout), and the referrers tag `sha256-<hex>` holding an
/// index that lists it.
pub fn push_bundle_referrer(
    registry: &Registry,
    repo: &str,
    subject: &str,
    subject_size: usize,
    bundle: &[u8],
) {
    let media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let dir = tempfile::tempdir().expect("tempdir");
    let mut layout = OciLayout::new(dir.path());
    let layer = layout.blob(media_type, bundle);
    let empty = layout.blob("application/vnd.oci.empty.v1+json", b"{}");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": media_type,
        "config": empty,
        "layers": [layer],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": subject_size},
    })
    .to_string();
    let mut entry = layout.blob(
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    );
    entry["artifactType"] = json!(media_type);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    })
    .to_string();
    let tag = subject.replace(':', "-");
    layout.tag(
        &tag,
        "application/vnd.oci.image.index.v1+json",
        index.as_bytes(),
    );
    let layout = layout.finish();
    registry.skopeo_push_layout(&layout, &tag, &format!("{repo}:{tag}"), true);
}

/// DER length octets.
fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// A DER TLV.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// The first element inside a DER SEQUENCE (a certificate's TBSCertificate), whole.
fn first_element(sequence: &[u8]) -> &[u8] {
    let header = |bytes: &[u8]| -> (usize, usize) {
        match bytes[1] {
            n if n < 0x80 => (2, n as usize),
            0x81 => (3, bytes[2] as usize),
            0x82 => (4, (bytes[2] as usize) << 8 | bytes[3] as usize),
            _ => (
                5,
                (bytes[2] as usize) << 16 | (bytes[3] as usize) << 8 | bytes[4] as usize,
            ),
        }
    };
    let (outer, _) = header(sequence);
    let inner = &sequence[outer..];
    let (head, len) = header(inner);
    &inner[..head + len]
}

/// A test Sigstore instance.
pub struct TestSigstore {
    ca_key: rcgen::KeyPair,
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    log_key: TestKey,
    ct_key: TestKey,
    pub origin: String,
}

/// How a test bundle goes wrong (or doesn't).
#[derive(Clone, Copy, Default)]
pub struct BundleOptions {
    /// The certificate's validity ends before the signing time.
    pub expired_certificate: bool,
    /// Sign with a key in the bundle but record another digest in the log entry.
    pub log_other_digest: bool,
}

impl TestSigstore {
    pub fn new() -> TestSigstore {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyUsagePurpose};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "test-sigstore");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test-fulcio");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2090, 1, 1);
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ca_key_copy = rcgen::KeyPair::try_from(ca_key.serialize_der().as_slice()).unwrap();
        let ca = CertifiedIssuer::self_signed(params, ca_key_copy).unwrap();
        TestSigstore {
            ca_key,
            ca,
            log_key: TestKey::generate(),
            ct_key: TestKey::generate(),
            origin: "rekor.test - 1".into(),
        }
    }

    /// The trusted root naming this instance's CA, log and CT log.
    pub fn trusted_root(&self) -> String {
        let key = |k: &TestKey| {
            json!({
                "rawBytes": b64(&k.spki()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            })
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": "https://rekor.test", "hashAlgorithm": "SHA2_256",
                "publicKey": key(&self.log_key), "logId": {"keyId": b64(&Sha256::digest(self.log_key.spki()))}}],
            "certificateAuthorities": [{"subject": {"organization": "test-sigstore", "commonName": "test-fulcio"},
                "uri": "https://fulcio.test", "certChain": {"certificates": [{"rawBytes": b64(self.ca.der())}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}}],
            "ctlogs": [{"baseUrl": "https://ct.test", "hashAlgorithm": "SHA2_256",
                "publicKey": key(&self.ct_key), "logId": {"keyId": b64(&Sha256::digest(self.ct_key.spki()))}}],
            "timestampAuthorities": []
        })
        .to_string()
    }

    /// A Fulcio-like certificate for [`IDENTITY`]/[`ISSUER`] and `leaf`'s key, with an SCT.
    fn certificate(&self, leaf: &TestKey, expired: bool) -> Vec<u8> {
        use rcgen::{
            CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, KeyUsagePurpose, SanType,
        };
        let make = |sct: Option<Vec<u8>>| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.serial_number = Some(rcgen::SerialNumber::from(vec![0x42, 0x17, 0x01]));
            params.subject_alt_names = vec![SanType::URI(IDENTITY.try_into().unwrap())];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
            if expired {
                params.not_before = rcgen::date_time_ymd(2021, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 2);
            } else {
                params.not_before = rcgen::date_time_ymd(2021, 1, 1);
                params.not_after = rcgen::date_time_ymd(2089, 1, 1);
            }
            params.custom_extensions = vec![CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
                der(0x0c, ISSUER.as_bytes()),
            )];
            if let Some(sct) = sct {
                params
                    .custom_extensions
                    .push(CustomExtension::from_oid_content(
                        &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                        sct,
                    ));
            }
            params
                .signed_by(&leaf.rcgen, &self.ca)
                .unwrap()
                .der()
                .to_vec()
        };
        // The precertificate's TBS is the final TBS without the SCT extension (rcgen writes
        // custom extensions last, in order, so building without it gives exactly that).
        let precert = make(None);
        let tbs = first_element(&precert).to_vec();
        let timestamp_ms: u64 = 1_700_000_000_000;
        let mut signed = vec![0u8, 0u8];
        signed.extend(timestamp_ms.to_be_bytes());
        signed.extend(1u16.to_be_bytes());
        signed.extend(Sha256::digest(
            rcgen::PublicKeyData::subject_public_key_info(&self.ca_key),
        ));
        signed.extend(&(tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend(&tbs);
        signed.extend(0u16.to_be_bytes());
        let signature = self.ct_key.sign(&signed);
        let mut sct = vec![0u8];
        sct.extend(Sha256::digest(self.ct_key.spki()));
        sct.extend(timestamp_ms.to_be_bytes());
        sct.extend(0u16.to_be_bytes());
        sct.extend([4u8, 3u8]);
        sct.extend((signature.len() as u16).to_be_bytes());
        sct.extend(&signature);
        let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend((sct.len() as u16).to_be_bytes());
        list.extend(&sct);
        make(Some(der(0x04, &list)))
    }

    /// A v0.3 bundle signing `artifact` (a manifest) with a certificate for [`IDENTITY`].
    pub fn keyless_bundle(&self, artifact: &[u8], options: BundleOptions) -> Vec<u8> {
        let leaf = TestKey::generate();
        let cert = self.certificate(&leaf, options.expired_certificate);
        let cert_pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            b64(&cert)
        );
        let signature = leaf.sign(artifact);
        let logged = if options.log_other_digest {
            b"another artifact".as_slice()
        } else {
            artifact
        };
        let entry = self.log_entry(logged, &signature, &cert_pem);
        bundle(
            json!({"certificate": {"rawBytes": b64(&cert)}, "tlogEntries": [entry]}),
            artifact,
            &signature,
        )
    }

    /// A v0.3 bundle signing `artifact` with `key` (a keyed bundle, logged in the test log).
    pub fn keyed_bundle(&self, artifact: &[u8], key: &TestKey) -> Vec<u8> {
        let signature = key.sign(artifact);
        let entry = self.log_entry(artifact, &signature, &key.public_pem());
        bundle(
            json!({"publicKey": {"hint": b64(&Sha256::digest(key.spki()))}, "tlogEntries": [entry]}),
            artifact,
            &signature,
        )
    }

    /// A hashedrekord 0.0.1 entry in a one-leaf tree: SET, inclusion proof, checkpoint.
    fn log_entry(&self, artifact: &[u8], signature: &[u8], verifier_pem: &str) -> Value {
        let body = json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(artifact))}},
                "signature": {"content": b64(signature), "publicKey": {"content": b64(verifier_pem.as_bytes())}}
            }
        })
        .to_string();
        let log_id = Sha256::digest(self.log_key.spki()).to_vec();
        let integrated_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 60;
        let set_payload = format!(
            "{{\"body\":\"{}\",\"integratedTime\":{integrated_time},\"logID\":\"{}\",\"logIndex\":0}}",
            b64(body.as_bytes()),
            hex::encode(&log_id)
        );
        let set = self.log_key.sign(set_payload.as_bytes());
        let mut leaf = vec![0u8];
        leaf.extend(body.as_bytes());
        let root = Sha256::digest(&leaf);
        let note = format!("{}\n1\n{}\n", self.origin, b64(&root));
        let mut note_sig = log_id[..4].to_vec();
        note_sig.extend(self.log_key.sign(note.as_bytes()));
        let checkpoint = format!("{note}\n\u{2014} rekor.test {}\n", b64(&note_sig));
        json!({
            "logIndex": "0",
            "logId": {"keyId": b64(&log_id)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": b64(&set)},
            "inclusionProof": {"logIndex": "0", "rootHash": b64(&root), "treeSize": "1", "hashes": [],
                "checkpoint": {"envelope": checkpoint}},
            "canonicalizedBody": b64(body.as_bytes()),
        })
    }
}

fn bundle(material: Value, artifact: &[u8], signature: &[u8]) -> Vec<u8> {
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": material,
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": b64(&Sha256::digest(artifact))},
            "signature": b64(signature)
        }
    })
    .to_string()
    .into_bytes()
}
