//! The Sigstore conformance suite's bundle verification cases, through the library (the CLI
//! runs them as the suite would in the host's end-to-end tests): every case gives its expected
//! result, both with the artifact's bytes and with only its digest.

use std::path::{Path, PathBuf};

use credential_provider_oci::sigstore::bundle::Bundle;
use credential_provider_oci::sigstore::keys::PublicKey;
use credential_provider_oci::sigstore::trusted_root::TrustedRoot;
use credential_provider_oci::sigstore::{Artifact, BundlePolicy, verify_bundle};
use sha2::Digest;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/sigstore-conformance"
);
const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn verify_case(dir: &Path, by_digest: bool) -> Result<String, String> {
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let text = |name: &str| read(name).map(|b| String::from_utf8_lossy(&b).trim().to_owned());
    let bundle =
        Bundle::from_json(&read("bundle.sigstore.json").unwrap()).map_err(|e| e.to_string())?;
    let artifact =
        read("artifact").unwrap_or_else(|| std::fs::read(Path::new(CASES).join("a.txt")).unwrap());
    let root = match read("trusted_root.json") {
        Some(json) => TrustedRoot::from_json(&json),
        None => TrustedRoot::public_good(),
    }
    .map_err(|e| e.to_string())?;
    let digest: [u8; 32] = sha2::Sha256::digest(&artifact).into();
    let input = if by_digest {
        Artifact::Sha256(digest)
    } else {
        Artifact::Bytes(&artifact)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let result = match read("key.pub") {
        Some(pem) => {
            let key = PublicKey::from_pem(&pem).map_err(|e| e.to_string())?;
            verify_bundle(&bundle, input, BundlePolicy::Keys(&[key]), &root, now)
        }
        None => {
            let identity = text("identity").unwrap_or_else(|| DEFAULT_IDENTITY.into());
            let issuer = text("issuer").unwrap_or_else(|| DEFAULT_ISSUER.into());
            verify_bundle(
                &bundle,
                input,
                BundlePolicy::Identity {
                    identity: &identity,
                    issuer: &issuer,
                },
                &root,
                now,
            )
        }
    };
    result.map(|s| s.to_string()).map_err(|e| e.to_string())
}

#[test]
fn every_conformance_case_gives_its_expected_result() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(Path::new(CASES).join("bundle-verify"))
        .expect("the conformance fixtures")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 70, "found {} cases", dirs.len());
    let mut wrong = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let should_fail = name.ends_with("_fail");
        for by_digest in [false, true] {
            let result = verify_case(dir, by_digest);
            eprintln!("{name} (digest: {by_digest}): {result:?}");
            if result.is_ok() == should_fail {
                wrong.push(format!("{name} (digest: {by_digest}): {result:?}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
