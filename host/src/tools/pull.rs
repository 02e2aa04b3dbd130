//! `pull`: fetch a module from an OCI registry, verify its signature against the operator's
//! trust choice, and only then write it (atomically); print its digest for `--sha256`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use credential_provider_oci::sigstore::keys::PublicKey;
use credential_provider_oci::sigstore::trusted_root::TrustedRoot;
use credential_provider_oci::{
    OciError, Reference, RegistryOptions, TrustPolicy, auth::AuthSources,
};

use super::{EXIT_NO, EXIT_USAGE, usage_error};

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Pull a module published as a Wasm OCI artifact, verify its signature, \
        and write it to FILE. Nothing is written unless the signature verifies.\n\n\
        Trust (exactly one): --key PEM (repeatable): a cosign signature (the sha256-<digest>.sig \
        tag) or a keyed Sigstore bundle by one of these keys; --certificate-identity ID \
        --certificate-oidc-issuer URL: a keyless Sigstore bundle (OCI 1.1 referrer) whose Fulcio \
        certificate names exactly this identity and issuer, checked offline against \
        --trusted-root (default: the public-good Sigstore root built into this binary); \
        --allow-unsigned: no check at all.\n\n\
        Registry access: the node's trust store plus --ca-file; credentials from --authfile, \
        else $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json \
        (auths and credHelpers); anonymous when none matches.\n\n\
        Prints the module's digest (sha256:<hex>, the value for --sha256) as the last line of \
        stdout and the verified signer on stderr. Exit status: 0 pulled and verified, 1 refused \
        or the registry failed, 2 bad arguments.\n\n\
        Example:\n  wasm-credential-provider pull registry.example.com/plugins/static-credentials:v1 \
        --key cosign.pub -o static-credentials.wasm";

/// How to reach the registry (shared by `push`, `pull` and `install`).
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry credentials file (containers-auth.json or Docker config.json format). Default:
    /// $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Also trust these CA certificates (PEM) for the registry, on top of the node's store.
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

impl RegistryArgs {
    /// The registry options, with the environment's auth file variables.
    pub fn options(&self) -> RegistryOptions {
        RegistryOptions {
            auth: AuthSources::from_env(self.authfile.clone()),
            ca_file: self.ca_file.clone(),
        }
    }
}

/// The trust choice (shared by `pull` and `install`).
#[derive(Debug, Clone, Args)]
pub struct TrustArgs {
    /// Accept a signature by this public key (PEM, as `cosign generate-key-pair` writes).
    /// Repeatable: any one of the keys.
    #[arg(long = "key", value_name = "PEM")]
    pub keys: Vec<PathBuf>,
    /// Accept a keyless Sigstore signature whose certificate has exactly this identity (SAN).
    #[arg(long = "certificate-identity", value_name = "ID")]
    pub certificate_identity: Option<String>,
    /// With --certificate-identity: the certificate's OIDC issuer must be exactly this URL.
    #[arg(long = "certificate-oidc-issuer", value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// The Sigstore trusted root (trusted_root.json) to verify bundles against. Default: the
    /// public-good instance's root built into this binary.
    #[arg(long = "trusted-root", value_name = "JSON")]
    pub trusted_root: Option<PathBuf>,
    /// Accept the module without any signature: whoever can push to the repository decides
    /// what runs on the node.
    #[arg(long = "allow-unsigned")]
    pub allow_unsigned: bool,
}

impl TrustArgs {
    /// The checked trust policy, or a usage error naming the conflict.
    pub fn policy(&self) -> Result<TrustPolicy, String> {
        let identity =
            self.certificate_identity.is_some() || self.certificate_oidc_issuer.is_some();
        let choices = usize::from(!self.keys.is_empty())
            + usize::from(identity)
            + usize::from(self.allow_unsigned);
        if choices != 1 {
            return Err(
                "choose exactly one trust: --key PEM, --certificate-identity ID with --certificate-oidc-issuer URL, or --allow-unsigned"
                    .into(),
            );
        }
        if self.allow_unsigned {
            if self.trusted_root.is_some() {
                return Err("--trusted-root has no use with --allow-unsigned".into());
            }
            return Ok(TrustPolicy::DangerouslyAllowUnsigned);
        }
        let trusted_root = load_trusted_root(self.trusted_root.as_deref())?;
        if !self.keys.is_empty() {
            let keys = self
                .keys
                .iter()
                .map(|path| load_key(path))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(TrustPolicy::Keys { keys, trusted_root });
        }
        match (&self.certificate_identity, &self.certificate_oidc_issuer) {
            (Some(identity), Some(issuer)) if !identity.is_empty() && !issuer.is_empty() => {
                Ok(TrustPolicy::Identity {
                    identity: identity.clone(),
                    issuer: issuer.clone(),
                    trusted_root,
                })
            }
            _ => Err(
                "--certificate-identity and --certificate-oidc-issuer go together, both non-empty"
                    .into(),
            ),
        }
    }
}

/// Reads a PEM public key file.
pub fn load_key(path: &Path) -> Result<PublicKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("--key {}: {e}", path.display()))?;
    PublicKey::from_pem(&pem).map_err(|e| format!("--key {}: {e}", path.display()))
}

/// Reads `--trusted-root`, or the built-in public-good root.
pub fn load_trusted_root(path: Option<&Path>) -> Result<TrustedRoot, String> {
    match path {
        None => TrustedRoot::public_good().map_err(|e| format!("the built-in trusted root: {e}")),
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("--trusted-root {}: {e}", path.display()))?;
            TrustedRoot::from_json(&bytes)
                .map_err(|e| format!("--trusted-root {}: {e}", path.display()))
        }
    }
}

/// Arguments of `pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The module: host[:port]/repository[:tag|@sha256:<hex>].
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Where to write the module (atomically: a temporary file beside it, then a rename).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// The trust choice.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Exit status for an OCI error: 2 for unusable arguments, 1 for refusals and registry faults.
pub fn exit_status(err: &OciError) -> u8 {
    match err {
        OciError::Usage(_) | OciError::Reference(_) | OciError::TrustedRoot(_) => EXIT_USAGE,
        _ => EXIT_NO,
    }
}

/// Entry point of `pull`.
pub fn main(args: &PullArgs) -> ExitCode {
    let reference = match Reference::parse(&args.reference) {
        Ok(reference) => reference,
        Err(e) => return usage_error("pull", &e.to_string(), EXIT_USAGE),
    };
    let policy = match args.trust.policy() {
        Ok(policy) => policy,
        Err(message) => return usage_error("pull", &message, EXIT_USAGE),
    };
    if args.output.is_dir() {
        return usage_error(
            "pull",
            &format!(
                "-o {}: is a directory; name the module file",
                args.output.display()
            ),
            EXIT_USAGE,
        );
    }
    let verified =
        match credential_provider_oci::pull_verified(&reference, &policy, &args.registry.options())
        {
            Ok(verified) => verified,
            Err(e) => return usage_error("pull", &e.to_string(), exit_status(&e)),
        };
    if let Err(e) = write_atomically(&args.output, &verified.module) {
        return usage_error(
            "pull",
            &format!("writing {}: {e}", args.output.display()),
            EXIT_NO,
        );
    }
    crate::report::print_line(
        "pull",
        &format!(
            "{} verified: {} (credentials: {})",
            verified.reference, verified.signer, verified.credential_source
        ),
    );
    let _ = writeln!(std::io::stdout(), "{}", verified.module_digest);
    ExitCode::SUCCESS
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a partial module.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?
        .to_string_lossy()
        .into_owned();
    let temp = dir.join(format!(".{name}.pull-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
