//! Reading a run-mode command line: which words name a mode, the run-only parser, and clap's
//! errors turned into one line that says what to do.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, FromArgMatches};

use super::RunArgs;
use crate::names::BINARY_NAME;

/// The names of the binary's modes (its subcommands, and clap's `help`). The front end's test
/// holds this list to its definition; it exists so that telling a mode from a run option does
/// not build the whole command line (about a third of a millisecond on every exec).
pub const MODE_NAMES: &[&str] = &[
    "run",
    "compile",
    "cache",
    "check-config",
    "match",
    "validate-response",
    "simulate",
    "inspect",
    "install",
    #[cfg(feature = "oci")]
    "push",
    #[cfg(feature = "oci")]
    "pull",
    #[cfg(feature = "oci")]
    "verify-bundle",
    "help",
];

/// What the run mode does (its help text).
pub const RUN_ABOUT: &str =
    "Answer one kubelet credential request with a sandboxed module (the default mode).";

/// Whether `arg` selects a mode or asks for help/version, rather than being a run option.
pub fn names_a_mode(arg: &std::ffi::OsStr) -> bool {
    let Some(arg) = arg.to_str() else {
        return false;
    };
    matches!(arg, "-h" | "--help" | "-V" | "--version") || MODE_NAMES.contains(&arg)
}

/// The command line with the run mode only: the same arguments, help and errors as the full
/// command line's `run`, without building every other mode's arguments first.
pub fn run_only_command() -> clap::Command {
    clap::Command::new(BINARY_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .subcommand(
            RunArgs::augment_args(clap::Command::new("run"))
                .about(RUN_ABOUT)
                .long_about(None),
        )
}

/// Parses the run mode's arguments (`args` as they follow `wasm-credential-provider run`).
/// `--help` and `--version` come back as clap's display "errors" for the front end to print.
pub fn parse_run_args(args: impl IntoIterator<Item = OsString>) -> Result<RunArgs, clap::Error> {
    let argv = [OsString::from(BINARY_NAME), OsString::from("run")]
        .into_iter()
        .chain(args);
    let matches = run_only_command().try_get_matches_from(argv)?;
    let run = matches
        .subcommand_matches("run")
        .ok_or_else(|| clap::Error::new(ErrorKind::MissingSubcommand))?;
    RunArgs::from_arg_matches(run)
}

/// Clap's whole message as one line (its error, tips, possible values and usage; not the
/// "try --help" footer), followed by what to write instead where a common mistake in a
/// provider's `args` list explains the error.
pub fn describe_clap_error(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let mut parts: Vec<String> = rendered
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .map(|line| line.strip_prefix("error: ").unwrap_or(line).to_owned())
        .collect();
    if let Some(hint) = hint(err) {
        parts.push(hint);
    }
    parts.join("; ")
}

/// What to write instead, for the mistakes vendors' config examples lead to.
fn hint(err: &clap::Error) -> Option<String> {
    if err.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    if !arg.starts_with('-') {
        // `get-credentials`, `/etc/kubernetes/azure.json`: written for a native plugin.
        return Some(format!(
            "the provider's args are this host's options; write `--arg={arg}` to pass it to the module"
        ));
    }
    if let Some((option, value)) = arg.split_once(char::is_whitespace)
        && option.starts_with("--")
    {
        // `- --env REGISTRY_USERNAME` as one YAML list item is one argument with a space.
        return Some(format!(
            "each item of args is one argument: write `{option}={}`",
            value.trim()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(args: &[&str]) -> String {
        let err = parse_run_args(args.iter().map(OsString::from)).unwrap_err();
        describe_clap_error(&err)
    }

    #[test]
    fn modes_are_told_from_run_options() {
        assert!(!names_a_mode("--module".as_ref()));
        assert!(names_a_mode("run".as_ref()));
        assert!(names_a_mode("--help".as_ref()));
    }

    #[test]
    fn errors_keep_clap_s_whole_message_on_one_line() {
        let message = error_of(&["--modul=m.wasm"]);
        assert!(
            message.starts_with(
                "unexpected argument '--modul' found; tip: a similar argument exists: '--module'"
            ),
            "{message}"
        );
        assert!(
            message.contains("Usage: wasm-credential-provider run"),
            "{message}"
        );
        assert!(!message.contains('\n') && !message.contains("For more information"));
        let message = error_of(&["--module", "m.wasm", "--token-cache-type", "token"]);
        assert!(
            message.contains("[possible values: ServiceAccount, Token]"),
            "{message}"
        );
        let message = error_of(&["--module"]);
        assert!(
            message.contains("a value is required for '--module <PATH>'"),
            "{message}"
        );
    }

    #[test]
    fn vendor_style_args_get_a_hint() {
        let message = error_of(&["get-credentials"]);
        assert!(
            message.ends_with("write `--arg=get-credentials` to pass it to the module"),
            "{message}"
        );
        let message = error_of(&["--env REGISTRY_USERNAME"]);
        assert!(
            message.ends_with("each item of args is one argument: write `--env=REGISTRY_USERNAME`"),
            "{message}"
        );
    }
}
