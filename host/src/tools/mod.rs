//! The operator and plugin-author subcommands: `check-config`, `match`, `validate-response`,
//! `simulate`, `inspect`. Each module holds one subcommand's arguments and output; the kubelet's
//! rules they apply live in [`crate::kubelet`] and the protocol crate.
//!
//! Exit statuses follow one convention: 0 the answer is yes (valid, matched, accepted), 1 the
//! answer is no (with the reasons), 2 the command line or its inputs are unusable.

pub mod bin_dir;
pub mod cache;
pub mod check_config;
pub mod inspect;
pub mod install;
pub mod match_image;
#[cfg(feature = "oci")]
pub mod pull;
#[cfg(feature = "oci")]
pub mod push;
pub mod simulate;
pub mod validate_response;
#[cfg(feature = "oci")]
pub mod verify_bundle;

use std::process::ExitCode;

use crate::kubelet::config::{FeatureGates, LoadedConfig};

/// How a subcommand prints its result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON document for programs.
    Json,
}

/// Exit status: the answer is yes.
pub const EXIT_YES: u8 = 0;
/// Exit status: the answer is no.
pub const EXIT_NO: u8 = 1;
/// Exit status: bad usage or unusable input.
pub const EXIT_USAGE: u8 = 2;

/// Prints `wasm-credential-provider: <command>: <message>` on stderr and returns `status`.
pub(crate) fn usage_error(command: &str, message: &str, status: u8) -> ExitCode {
    crate::report::print_error(command, message);
    ExitCode::from(status)
}

/// The error the kubelet would refuse to start with, exactly as it writes it (possibly more
/// than one line, as the kubelet's own message is); `None` if it would start.
pub fn kubelet_error(loaded: &LoadedConfig) -> Option<String> {
    loaded.kubelet_error().map(str::to_owned)
}

/// Prints on stderr that the kubelet refuses to start with the config at `path`, then its
/// exact error (see [`verbatim_lines`]); returns `status`.
pub(crate) fn config_refused(
    command: &str,
    path: &std::path::Path,
    kubelet_error: &str,
    status: u8,
) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    crate::report::write_error(
        &mut stderr,
        command,
        &format!(
            "{}: the kubelet refuses to start with this config:",
            path.display()
        ),
    );
    let _ = std::io::Write::write_fmt(
        &mut stderr,
        format_args!("{}\n", verbatim_lines(kubelet_error)),
    );
    ExitCode::from(status)
}

/// The kubelet's error text made safe to print as it is: each of its lines made one line
/// (see [`crate::report::one_line`]), its line structure kept.
pub fn verbatim_lines(text: &str) -> String {
    text.lines()
        .map(crate::report::one_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the kubelet's `--feature-gates` syntax (`Name=true,Other=false`) for the one gate that
/// changes credential-provider validation; other gate names are refused.
pub fn parse_feature_gates(text: Option<&str>) -> Result<FeatureGates, String> {
    let mut gates = FeatureGates::default();
    for item in text
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
    {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| format!("--feature-gates: {item:?} is not NAME=true|false"))?;
        let value: bool = value
            .trim()
            .parse()
            .map_err(|_| format!("--feature-gates: {item:?} is not NAME=true|false"))?;
        match name.trim() {
            "KubeletServiceAccountTokenForCredentialProviders" => {
                gates.service_account_token_for_credential_providers = value;
            }
            other => {
                return Err(format!(
                    "--feature-gates: unknown gate {other:?} (only KubeletServiceAccountTokenForCredentialProviders changes credential provider rules)"
                ));
            }
        }
    }
    Ok(gates)
}

/// JSON for output (serialising a `serde_json::Value` cannot fail).
pub(crate) fn to_json_line(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_gates() {
        assert!(
            parse_feature_gates(None)
                .unwrap()
                .service_account_token_for_credential_providers
        );
        assert!(
            !parse_feature_gates(Some(
                "KubeletServiceAccountTokenForCredentialProviders=false"
            ))
            .unwrap()
            .service_account_token_for_credential_providers
        );
        assert!(parse_feature_gates(Some("Other=true")).is_err());
        assert!(
            parse_feature_gates(Some("KubeletServiceAccountTokenForCredentialProviders")).is_err()
        );
    }
}
