//! `verify-bundle`: verify a Sigstore bundle over a file or a digest, speaking the Sigstore
//! conformance suite's CLI protocol (`verify-bundle --bundle FILE (--certificate-identity ID
//! --certificate-oidc-issuer URL | --key PEM) [--trusted-root FILE] FILE_OR_DIGEST`), offline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use credential_provider_oci::sigstore::bundle::Bundle;
use credential_provider_oci::sigstore::{Artifact, BundlePolicy, verify_bundle};

use super::pull::{load_key, load_trusted_root};
use super::{EXIT_NO, EXIT_USAGE, usage_error};

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Verify a Sigstore bundle over an artifact, offline, with the Sigstore \
        conformance suite's command line: keyless (--certificate-identity and \
        --certificate-oidc-issuer: Fulcio certificate, SCT, transparency log inclusion and/or RFC \
        3161 timestamps against the trusted root) or keyed (--key PEM).\n\n\
        FILE_OR_DIGEST is the artifact, or sha256:<64 hex> when that is not a path on disk. \
        --trusted-root defaults to the public-good Sigstore root built into this binary. \
        Exit status: 0 verified (the signer on stderr), 1 refused, 2 bad arguments.";

/// Arguments of `verify-bundle`.
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// Use Sigstore's staging instance (needs --trusted-root: no staging root is built in).
    #[arg(long)]
    pub staging: bool,
    /// The bundle (.sigstore.json).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// The certificate identity (SAN) required.
    #[arg(
        long = "certificate-identity",
        value_name = "IDENTITY",
        requires = "certificate_oidc_issuer",
        conflicts_with = "key"
    )]
    pub certificate_identity: Option<String>,
    /// The OIDC issuer required.
    #[arg(
        long = "certificate-oidc-issuer",
        value_name = "URL",
        requires = "certificate_identity"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// Verify with this public key (PEM) instead of a certificate identity.
    #[arg(
        long,
        value_name = "PEM",
        required_unless_present = "certificate_identity"
    )]
    pub key: Option<PathBuf>,
    /// The trusted root (trusted_root.json).
    #[arg(long = "trusted-root", value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The artifact's path, or sha256:<64 hex>.
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub artifact: String,
}

/// Entry point of `verify-bundle`.
pub fn main(args: &VerifyBundleArgs) -> ExitCode {
    match verify(args) {
        Ok(signer) => {
            crate::report::print_line("verify-bundle", &format!("OK: {signer}"));
            ExitCode::SUCCESS
        }
        Err((status, message)) => usage_error("verify-bundle", &message, status),
    }
}

/// The digest an argument names, when it is `sha256:<64 hex>` and not a file on disk.
fn as_digest(text: &str) -> Option<[u8; 32]> {
    let hex_digits = text.strip_prefix("sha256:")?;
    if std::path::Path::new(text).exists() || hex_digits.len() != 64 {
        return None;
    }
    hex::decode(hex_digits).ok()?.try_into().ok()
}

fn verify(args: &VerifyBundleArgs) -> Result<String, (u8, String)> {
    let usage = |m: String| (EXIT_USAGE, m);
    if args.staging && args.trusted_root.is_none() {
        return Err(usage(
            "--staging needs --trusted-root (no staging root is built in)".into(),
        ));
    }
    let root = load_trusted_root(args.trusted_root.as_deref()).map_err(usage)?;
    let bundle_bytes = std::fs::read(&args.bundle)
        .map_err(|e| usage(format!("--bundle {}: {e}", args.bundle.display())))?;
    let artifact_bytes;
    let artifact = match as_digest(&args.artifact) {
        Some(digest) => Artifact::Sha256(digest),
        None => {
            artifact_bytes = std::fs::read(&args.artifact)
                .map_err(|e| usage(format!("{}: {e}", args.artifact)))?;
            Artifact::Bytes(&artifact_bytes)
        }
    };
    let keys;
    let policy = match (
        &args.key,
        &args.certificate_identity,
        &args.certificate_oidc_issuer,
    ) {
        (Some(path), None, None) => {
            keys = [load_key(path).map_err(usage)?];
            BundlePolicy::Keys(&keys)
        }
        (None, Some(identity), Some(issuer)) => BundlePolicy::Identity { identity, issuer },
        _ => {
            return Err(usage(
                "give --key PEM, or --certificate-identity with --certificate-oidc-issuer".into(),
            ));
        }
    };
    let bundle = Bundle::from_json(&bundle_bytes)
        .map_err(|e| (EXIT_NO, format!("{}: {e}", args.bundle.display())))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    verify_bundle(&bundle, artifact, policy, &root, now)
        .map(|signer| signer.to_string())
        .map_err(|e| (EXIT_NO, e.to_string()))
}
