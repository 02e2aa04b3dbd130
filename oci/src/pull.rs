//! Pulling a module: resolve the reference to a manifest digest, find a signature over that
//! digest the trust policy accepts (cosign `.sig` tag, Sigstore bundle referrers), and only then
//! fetch the module layer and check it against its digest.

use oci_client::RegistryOperation;

use crate::artifact::{Descriptor, Manifest};
use crate::cosign::{
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signature_tag, verify_simple_signing,
};
use crate::error::OciError;
use crate::limits;
use crate::reference::Reference;
use crate::registry::{Registry, RegistryOptions};
use crate::sigstore::bundle::Bundle;
use crate::sigstore::keys::PublicKey;
use crate::sigstore::trusted_root::TrustedRoot;
use crate::sigstore::{Artifact, BundlePolicy, VerifiedSigner, verify_bundle};

/// The artifact type (and layer media type) prefix of Sigstore bundle referrers.
pub const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// Whom a module must be signed by.
#[derive(Debug, Clone)]
pub enum TrustPolicy {
    /// Any of these keys: cosign's keyed `.sig` signatures, or keyed Sigstore bundles (whose
    /// log entries are checked against `trusted_root`).
    Keys {
        /// The keys.
        keys: Vec<PublicKey>,
        /// For keyed bundles' transparency log entries.
        trusted_root: TrustedRoot,
    },
    /// A Fulcio certificate for this identity and issuer, in a Sigstore bundle verified against
    /// `trusted_root`.
    Identity {
        /// The certificate SAN, exactly.
        identity: String,
        /// The OIDC issuer, exactly.
        issuer: String,
        /// The trusted root.
        trusted_root: TrustedRoot,
    },
    /// No signature is checked: whoever can write to the repository decides what runs.
    DangerouslyAllowUnsigned,
}

/// Who signed a pulled module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A cosign simple-signing signature by this key.
    CosignKey {
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// A Sigstore bundle.
    Bundle(VerifiedSigner),
    /// Nothing was verified (`--allow-unsigned`).
    Unverified,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::CosignKey { fingerprint } => write!(f, "cosign signature by key {fingerprint}"),
            Signer::Bundle(signer) => write!(f, "Sigstore bundle by {signer}"),
            Signer::Unverified => write!(f, "UNVERIFIED (--allow-unsigned)"),
        }
    }
}

/// A module that passed the trust policy.
#[derive(Debug, Clone)]
pub struct VerifiedModule {
    /// The manifest, by digest (what was verified).
    pub reference: Reference,
    /// The module's bytes.
    pub module: Vec<u8>,
    /// `sha256:<hex>` of the module (the value for `--sha256`).
    pub module_digest: String,
    /// Who signed it.
    pub signer: Signer,
    /// Where the registry credential came from (never the credential).
    pub credential_source: String,
}

/// Pulls `reference` and returns the module only if `policy` accepts a signature over its
/// manifest digest. Nothing is written anywhere; the caller writes the bytes.
pub fn pull_verified(
    reference: &Reference,
    policy: &TrustPolicy,
    options: &RegistryOptions,
) -> Result<VerifiedModule, OciError> {
    crate::block_on(pull(reference, policy, options))
}

async fn pull(
    reference: &Reference,
    policy: &TrustPolicy,
    options: &RegistryOptions,
) -> Result<VerifiedModule, OciError> {
    let registry = Registry::connect(reference, options, RegistryOperation::Pull).await?;
    let (manifest_bytes, manifest_digest) = registry
        .manifest(reference)
        .await?
        .ok_or_else(|| OciError::NotFound(reference.to_string()))?;
    let manifest = Manifest::from_json(&manifest_bytes)?;
    let layer = manifest.wasm_layer()?.clone();
    let pinned = reference.with_digest(&manifest_digest);
    let signer = verify_signatures(&registry, &pinned, &manifest_digest, policy).await?;
    let module = registry
        .blob(&pinned, &layer, limits::MAX_MODULE_BYTES)
        .await?;
    Ok(VerifiedModule {
        reference: pinned,
        module_digest: layer.digest,
        module,
        signer,
        credential_source: registry.credential_source,
    })
}

/// Finds a signature over `digest` that `policy` accepts.
async fn verify_signatures(
    registry: &Registry,
    pinned: &Reference,
    digest: &str,
    policy: &TrustPolicy,
) -> Result<Signer, OciError> {
    let (bundle_policy, trusted_root, keys) = match policy {
        TrustPolicy::DangerouslyAllowUnsigned => return Ok(Signer::Unverified),
        TrustPolicy::Keys { keys, trusted_root } => {
            (BundlePolicy::Keys(keys), trusted_root, keys.as_slice())
        }
        TrustPolicy::Identity {
            identity,
            issuer,
            trusted_root,
        } => (
            BundlePolicy::Identity { identity, issuer },
            trusted_root,
            &[][..],
        ),
    };
    let unverified = |reason: String| OciError::Unverified {
        reference: pinned.to_string(),
        reason,
    };
    let mut reasons: Vec<String> = Vec::new();
    let mut candidates = 0usize;

    // cosign's keyed signatures under the `.sig` tag.
    if !keys.is_empty() {
        let tag = pinned.with_tag(&signature_tag(digest));
        if let Some((bytes, _)) = registry.manifest(&tag).await? {
            let signatures = Manifest::from_json(&bytes)?;
            for layer in signatures
                .layers
                .iter()
                .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
            {
                candidates += 1;
                if candidates > limits::MAX_SIGNATURE_CANDIDATES {
                    break;
                }
                let payload = registry
                    .blob(pinned, layer, limits::MAX_METADATA_BYTES)
                    .await?;
                let annotation = layer
                    .annotations
                    .get(SIGNATURE_ANNOTATION)
                    .map(String::as_str);
                match verify_simple_signing(&payload, annotation, keys, digest) {
                    Ok(key) => {
                        return Ok(Signer::CosignKey {
                            fingerprint: key.fingerprint(),
                        });
                    }
                    Err(e) => reasons.push(format!("{}: {e}", signature_tag(digest))),
                }
            }
        }
    }

    // Sigstore bundles attached as referrers (the API, or the referrers tag).
    let now = now_unix();
    // Entries without an artifact type are looked at too: some tools that write the referrers
    // tag by hand (skopeo 1.9 among them) drop it; such an entry counts only if its manifest
    // holds a bundle layer.
    let referrers: Vec<Descriptor> = registry
        .referrers(pinned)
        .await?
        .into_iter()
        .filter(|d| {
            d.artifact_type
                .as_deref()
                .is_none_or(|t| t.starts_with(BUNDLE_MEDIA_TYPE_PREFIX))
        })
        .collect();
    for referrer in referrers {
        if candidates >= limits::MAX_SIGNATURE_CANDIDATES {
            reasons.push(format!(
                "more than {} signatures; the rest were not examined",
                limits::MAX_SIGNATURE_CANDIDATES
            ));
            break;
        }
        let typed = referrer.artifact_type.is_some();
        let Some((bytes, _)) = registry
            .manifest(&pinned.with_digest(&referrer.digest))
            .await?
        else {
            if typed {
                candidates += 1;
                reasons.push(format!("bundle {}: listed but not found", referrer.digest));
            }
            continue;
        };
        let Ok(bundle_manifest) = Manifest::from_json(&bytes) else {
            continue;
        };
        let Some(layer) = bundle_manifest
            .layers
            .iter()
            .find(|l| l.media_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX))
        else {
            if typed {
                candidates += 1;
                reasons.push(format!("bundle {}: no bundle layer", referrer.digest));
            }
            continue;
        };
        candidates += 1;
        let json = registry
            .blob(pinned, layer, limits::MAX_METADATA_BYTES)
            .await?;
        let outcome = Bundle::from_json(&json)
            .map_err(|e| e.to_string())
            .and_then(|bundle| {
                let sha: [u8; 32] = hex::decode(digest.trim_start_matches("sha256:"))
                    .ok()
                    .and_then(|d| d.try_into().ok())
                    .ok_or_else(|| "manifest digest is not sha256".to_owned())?;
                verify_bundle(
                    &bundle,
                    Artifact::Sha256(sha),
                    bundle_policy,
                    trusted_root,
                    now,
                )
                .map_err(|e| e.to_string())
            });
        match outcome {
            Ok(signer) => return Ok(Signer::Bundle(signer)),
            Err(reason) => reasons.push(format!("bundle {}: {reason}", referrer.digest)),
        }
    }
    if candidates == 0 {
        return Err(unverified(match policy {
            TrustPolicy::Keys { .. } => format!(
                "no signature: neither a cosign signature ({}) nor a Sigstore bundle referrer",
                signature_tag(digest)
            ),
            _ => "no signature: no Sigstore bundle referrer".to_owned(),
        }));
    }
    Err(unverified(format!(
        "no signature verifies ({})",
        reasons.join("; ")
    )))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
