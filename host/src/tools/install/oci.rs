//! `install --module NAME=oci://REF`: pull each such module, verify it with the install's
//! trust flags (as `pull` does), pin its provider to the verified digest, and say what was
//! installed from where in a small record beside the config. Registries are touched here, at
//! install, never by the run mode.

use super::InstallError;
use crate::kubelet::config::{CredentialProvider, decode_config};
use crate::module::{ModuleBytes, Sha256Digest};

/// A module pulled from a registry and verified.
#[derive(Debug)]
pub struct Pulled {
    /// The provider it is for.
    pub provider: String,
    /// The reference as given, with the `oci://` scheme.
    pub reference: String,
    /// The module.
    pub module: ModuleBytes,
    /// Who signed it, as verified (or that it was accepted unsigned).
    pub signer: String,
    /// The manifest that was verified, by digest.
    pub manifest: String,
}

/// The `oci://` prefix of a `--module NAME=oci://REF` value.
pub const SCHEME: &str = "oci://";

/// Pulls and verifies every `(provider, REF)` with `trust` and `registry`. Unusable flags or
/// references are usage errors (exit 2), as for `pull`; what does not verify is a refusal.
#[cfg(feature = "oci")]
pub fn pull_all(
    wanted: &[(String, String)],
    trust: &crate::tools::pull::TrustArgs,
    registry: &crate::tools::pull::RegistryArgs,
) -> Result<Vec<Pulled>, InstallError> {
    if wanted.is_empty() {
        let given = !trust.keys.is_empty()
            || trust.certificate_identity.is_some()
            || trust.certificate_oidc_issuer.is_some()
            || trust.trusted_root.is_some()
            || trust.allow_unsigned;
        if given {
            return Err(InstallError::Usage(
                "the trust flags (--key, --certificate-identity, --allow-unsigned, ...) are for --module NAME=oci://REF, and no module comes from a registry"
                    .into(),
            ));
        }
        return Ok(Vec::new());
    }
    use crate::module::ModuleFormat;
    let policy = trust.policy().map_err(InstallError::Usage)?;
    let options = registry.options();
    wanted
        .iter()
        .map(|(provider, reference)| {
            let shown = format!("{SCHEME}{reference}");
            let parsed = credential_provider_oci::Reference::parse(reference)
                .map_err(|e| InstallError::Usage(format!("--module {provider}={shown}: {e}")))?;
            let verified = credential_provider_oci::pull_verified(&parsed, &policy, &options)
                .map_err(|e| {
                    let message = format!("--module {provider}={shown}: {e}");
                    if crate::tools::pull::exit_status(&e) == super::EXIT_USAGE {
                        InstallError::Usage(message)
                    } else {
                        InstallError::Refused(message)
                    }
                })?;
            let format = ModuleFormat::detect(&verified.module)
                .filter(|f| matches!(f, ModuleFormat::Component | ModuleFormat::CoreModule))
                .ok_or_else(|| {
                    InstallError::Refused(format!("--module {provider}={shown}: the artifact's layer is not a WebAssembly module or component"))
                })?;
            Ok(Pulled {
                provider: provider.clone(),
                module: ModuleBytes {
                    path: std::path::PathBuf::from(&shown),
                    digest: Sha256Digest::of(&verified.module),
                    bytes: verified.module,
                    format,
                },
                reference: shown,
                signer: verified.signer.to_string(),
                manifest: verified.reference.to_string(),
            })
        })
        .collect()
}

/// Without the `oci` feature: a build for nodes only, which has no registry client.
#[cfg(not(feature = "oci"))]
pub fn pull_all(wanted: &[(String, String)]) -> Result<Vec<Pulled>, InstallError> {
    match wanted.first() {
        None => Ok(Vec::new()),
        Some((provider, _)) => Err(InstallError::Usage(format!(
            "--module {provider}={SCHEME}...: this build has no OCI support (built without the `oci` feature)"
        ))),
    }
}

/// Whether a provider's args already pin a module (`--sha256=HEX` or `--sha256 HEX`).
fn has_pin(provider: &CredentialProvider) -> bool {
    provider
        .args
        .iter()
        .any(|arg| arg == "--sha256" || arg.starts_with("--sha256="))
}

/// The config text with each pulled module's provider pinned to its verified digest, where
/// its args do not pin it yet (a pin that is there is checked against the module later, like
/// any other).
pub fn pin_config(text: &[u8], pulled: &[Pulled]) -> Result<Vec<u8>, String> {
    let mut text =
        String::from_utf8(text.to_vec()).map_err(|_| "--config is not UTF-8 text".to_owned())?;
    for module in pulled {
        let config = decode_config(text.as_bytes())?;
        let unpinned = config
            .providers
            .iter()
            .any(|p| p.name == module.provider && !has_pin(p));
        if unpinned {
            text = super::config_pin::add_pin(
                &text,
                &module.provider,
                &module.module.digest.to_hex(),
            )?;
        }
    }
    Ok(text.into_bytes())
}

/// The record written beside the config: for every provider this host runs, its module file
/// and digest, and for pulled ones the reference and the verified signer. One JSON document,
/// stable across re-runs (no time stamps), in a file the kubelet does not read.
pub fn record(entries: &[(String, String, Sha256Digest, Option<&Pulled>)]) -> Vec<u8> {
    let modules: Vec<serde_json::Value> = entries
        .iter()
        .map(|(provider, file, digest, pulled)| {
            let mut entry = serde_json::json!({
                "provider": provider,
                "module": file,
                "digest": digest.to_string(),
            });
            if let Some(pulled) = pulled {
                entry["reference"] = pulled.reference.clone().into();
                entry["manifest"] = pulled.manifest.clone().into();
                entry["signer"] = pulled.signer.clone().into();
            }
            entry
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "installed": modules }))
        .unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

/// The record's file name for config file `config_name` (its extension replaced, so the
/// kubelet, which reads `.yaml`, `.yml` and `.json` files of the directory, skips it).
pub fn record_name(config_name: &str) -> String {
    let stem = config_name
        .rsplit_once('.')
        .map_or(config_name, |(stem, _)| stem);
    format!("{stem}.installed")
}
