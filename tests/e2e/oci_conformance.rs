//! The Sigstore conformance suite's bundle verification cases, run through `verify-bundle`
//! exactly as the suite calls a client (`test/client.py`: `--bundle`, then `--key` or
//! `--certificate-identity`/`--certificate-oidc-issuer`, then `--trusted-root` when the case has
//! one, then the artifact's path or `sha256:<hex>`). Every case, both input forms, no skips.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::support::*;

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/sigstore-conformance"
);
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The suite's command line for `case`, with the artifact as a path or as its digest.
fn suite_args(case: &Path, by_digest: bool) -> Vec<String> {
    let mut args = vec![
        "verify-bundle".to_owned(),
        "--bundle".to_owned(),
        case.join("bundle.sigstore.json").display().to_string(),
    ];
    let key = case.join("key.pub");
    if key.exists() {
        args.extend(["--key".to_owned(), key.display().to_string()]);
    } else {
        let read = |name: &str, default: &str| {
            std::fs::read_to_string(case.join(name))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| default.to_owned())
        };
        args.extend([
            "--certificate-identity".to_owned(),
            read("identity", IDENTITY),
            "--certificate-oidc-issuer".to_owned(),
            read("issuer", ISSUER),
        ]);
    }
    let root = case.join("trusted_root.json");
    if root.exists() {
        args.extend(["--trusted-root".to_owned(), root.display().to_string()]);
    }
    let artifact = [case.join("artifact"), Path::new(CASES).join("a.txt")]
        .into_iter()
        .find(|p| p.exists())
        .expect("an artifact");
    if by_digest {
        let bytes = std::fs::read(&artifact).expect("artifact");
        args.push(format!("sha256:{}", hex::encode(Sha256::digest(bytes))));
    } else {
        args.push(artifact.display().to_string());
    }
    args
}

#[test]
fn oci_conformance_every_case_through_the_cli() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(Path::new(CASES).join("bundle-verify"))
        .expect("shared/fixtures/sigstore-conformance beside the repository")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 70, "{} cases", cases.len());
    let mut wrong = Vec::new();
    let mut passed = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let must_fail = name.ends_with("_fail");
        for by_digest in [false, true] {
            let args = suite_args(case, by_digest);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = exec(&args, b"");
            let lines: Vec<&str> = out.stderr.lines().collect();
            // Refused: 1, or 2 when the case's trusted root itself is unusable.
            let ok = if must_fail {
                matches!(out.status.code(), Some(1 | 2))
                    && out.stdout.is_empty()
                    && lines.len() == 1
                    && lines[0].starts_with("wasm-credential-provider: verify-bundle: ")
            } else {
                out.status.success()
                    && lines.len() == 1
                    && lines[0].starts_with("wasm-credential-provider: verify-bundle: OK: ")
            };
            if ok {
                passed += 1;
            } else {
                wrong.push(format!(
                    "{name} (digest: {by_digest}): {:?} {}",
                    out.status, out.stderr
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        cases.len() * 2,
        wrong.join("\n")
    );
    assert_eq!(passed, cases.len() * 2);
}

#[test]
fn oci_conformance_a_digest_that_is_a_file_is_read_as_a_file() {
    // The protocol: `sha256:<hex>` is a digest only when no such path exists.
    let case = Path::new(CASES).join("bundle-verify/happy-path-v0.3");
    let dir = tempfile::tempdir().unwrap();
    let wrong_bytes = dir.path().join(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(
            std::fs::read(Path::new(CASES).join("a.txt")).unwrap()
        ))
    ));
    std::fs::write(&wrong_bytes, b"not a.txt").unwrap();
    let bundle = case.join("bundle.sigstore.json");
    let out = exec_in(
        dir.path(),
        &[
            "verify-bundle",
            "--bundle",
            bundle.to_str().unwrap(),
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            wrong_bytes.file_name().unwrap().to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
}

/// Runs the host in `dir`.
fn exec_in(dir: &Path, args: &[&str]) -> Outcome {
    let output = std::process::Command::new(HOST)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run the host");
    Outcome {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: std::time::Duration::ZERO,
    }
}
