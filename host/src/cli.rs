//! The command-line front end: which mode runs, and one line on stderr when it fails.
//!
//! The kubelet execs `<bin-dir>/<provider-name>` with only the provider's `args`, so the run mode
//! is also the default: `wasm-credential-provider --module m.wasm` means `... run --module
//! m.wasm`, and a binary invoked under another name (a symlink named after the provider) runs
//! `<that name>.wasm` from its own directory. Invoked as `docker-credential-<name>` it is the
//! docker credential-helper front. Nothing below this module imports it.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::args::{
    ExecEnv, RUN_ABOUT, RunArgs, describe_clap_error, locate_module, module_stem, names_a_mode,
    run_config, run_only_command,
};
use crate::error::Error;
use crate::names::{BINARY_NAME, Invocation, invoked_dir};
use crate::report;
use crate::run::run;

/// Command line of `wasm-credential-provider`.
#[derive(Debug, Parser)]
#[command(
    name = BINARY_NAME,
    version,
    about = "Runs kubelet image credential provider plugins as sandboxed WebAssembly modules.",
    long_about = "Runs kubelet image credential provider plugins as sandboxed WebAssembly modules.\n\n\
        Install it in the kubelet's --image-credential-provider-bin-dir under the provider's name \
        (a symlink or copy), or pass --module in the provider's args. The module gets the request \
        on stdin and nothing else: no files, no sockets, no host environment beyond --env."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The modes of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer one kubelet credential request with a sandboxed module (the default mode).
    #[command(about = RUN_ABOUT)]
    Run(Box<RunArgs>),
    /// Compile a module ahead of time for this host's engine: to a sealed .cwasm for
    /// `run --allow-precompiled` (prints its sha256 to pin it with), or into a provider's
    /// compile cache (--cache-dir), as `install` does.
    Compile(crate::precompile::CompileArgs),
    /// Manage a compile cache directory: `cache prune DIR` removes other host versions' entries.
    #[command(long_about = crate::tools::cache::LONG_ABOUT)]
    Cache(crate::tools::cache::CacheArgs),
    /// Check a kubelet CredentialProviderConfig file or directory with the kubelet's own rules,
    /// and (with --bin-dir) the providers' executables, args and modules.
    #[command(long_about = crate::tools::check_config::LONG_ABOUT)]
    CheckConfig(crate::tools::check_config::CheckConfigArgs),
    /// Show which matchImages patterns, configured providers or response auth keys apply to an
    /// image, under the kubelet's matching rules.
    #[command(long_about = crate::tools::match_image::LONG_ABOUT)]
    Match(crate::tools::match_image::MatchArgs),
    /// Check a plugin's stdout (on stdin) against the kubelet's response acceptance rules.
    #[command(long_about = crate::tools::validate_response::LONG_ABOUT)]
    ValidateResponse(crate::tools::validate_response::ValidateResponseArgs),
    /// Pull images through a kubelet in a box: run the configured providers as the kubelet
    /// does, with its caching, and show the credentials it would try.
    #[command(long_about = crate::tools::simulate::LONG_ABOUT)]
    Simulate(crate::tools::simulate::SimulateArgs),
    /// Show what a module is (format, size, sha256, WASI version) and which capabilities it
    /// imports, flagging those this host will not grant.
    #[command(long_about = crate::tools::inspect::LONG_ABOUT)]
    Inspect(crate::tools::inspect::InspectArgs),
    /// Install this host, provider links, modules (each checked against its --sha256 pin) and
    /// a CredentialProviderConfig on a node.
    #[command(long_about = crate::tools::install::LONG_ABOUT)]
    Install(crate::tools::install::InstallArgs),
    /// Publish a module to an OCI registry as a Wasm artifact; prints the manifest digest.
    #[cfg(feature = "oci")]
    #[command(long_about = crate::tools::push::LONG_ABOUT)]
    Push(crate::tools::push::PushArgs),
    /// Pull a module from an OCI registry, verify its signature, and write it; prints its
    /// sha256 for --sha256.
    #[cfg(feature = "oci")]
    #[command(long_about = crate::tools::pull::LONG_ABOUT)]
    Pull(crate::tools::pull::PullArgs),
    /// Verify a Sigstore bundle over a file or digest, offline (the Sigstore conformance
    /// suite's CLI protocol).
    #[cfg(feature = "oci")]
    #[command(long_about = crate::tools::verify_bundle::LONG_ABOUT)]
    VerifyBundle(crate::tools::verify_bundle::VerifyBundleArgs),
}

impl Cli {
    /// Parses `args` (`argv[0]`, then a mode). The run mode, which the kubelet execs on every
    /// pull, is parsed with a command line holding only that mode (the same arguments, help
    /// and errors), without building every other mode's arguments first.
    fn parse_from(args: &[OsString]) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let command = if args.get(1).is_some_and(|mode| mode == "run") {
            run_only_command()
        } else {
            Cli::command()
        };
        Cli::from_arg_matches(&command.try_get_matches_from(args)?)
    }
}

/// Entry point: parses `argv`, runs the selected mode, prints one error line on failure, and
/// returns the exit status.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    let argv0 = argv.first().map(PathBuf::from).unwrap_or_default();
    let invocation = Invocation::of(&argv0);
    if let Invocation::DockerHelper { name } = &invocation {
        let dir = process_invoked_dir(&argv0);
        return crate::docker_helper::main(name, &dir, argv.get(1..).unwrap_or_default());
    }
    let rest: Vec<OsString> = argv.into_iter().skip(1).collect();
    let mut args: Vec<OsString> = vec![BINARY_NAME.into()];
    let implied_run = match &invocation {
        Invocation::Direct => rest.first().is_none_or(|first| !names_a_mode(first)),
        _ => true,
    };
    if implied_run {
        args.push("run".into());
    }
    args.extend(rest);
    let cli = match Cli::parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return report_clap_error(&subject_before_parsing(&invocation, &args), err),
    };
    match cli.command {
        Command::CheckConfig(args) => crate::tools::check_config::main(&args),
        Command::Match(args) => crate::tools::match_image::main(&args),
        Command::ValidateResponse(args) => crate::tools::validate_response::main(&args),
        Command::Simulate(args) => crate::tools::simulate::main(&args),
        Command::Inspect(args) => crate::tools::inspect::main(&args),
        Command::Install(args) => crate::tools::install::main(&args),
        #[cfg(feature = "oci")]
        Command::Push(args) => crate::tools::push::main(&args),
        #[cfg(feature = "oci")]
        Command::Pull(args) => crate::tools::pull::main(&args),
        #[cfg(feature = "oci")]
        Command::VerifyBundle(args) => crate::tools::verify_bundle::main(&args),
        Command::Compile(args) => {
            let subject = module_stem(&args.module);
            match crate::precompile::compile(&args, &mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(&subject, &err),
            }
        }
        Command::Cache(args) => crate::tools::cache::main(&args),
        Command::Run(run_args) => run_mode(*run_args, &invocation, &argv0),
    }
}

/// The run mode, as the kubelet execs it: this process's environment is the provider's.
fn run_mode(run_args: RunArgs, invocation: &Invocation, argv0: &Path) -> ExitCode {
    let dir = match invocation {
        Invocation::Provider { .. } => process_invoked_dir(argv0),
        _ => PathBuf::new(),
    };
    let (provider, module) = match locate_module(&run_args, invocation, &dir) {
        Ok(found) => found,
        Err(err) => return fail(BINARY_NAME, &err.into()),
    };
    let config = match run_config(run_args, provider.clone(), module, &ExecEnv::Process) {
        Ok(config) => config,
        Err(err) => return fail(&provider, &err.into()),
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    match run(
        &config,
        std::io::stdin().lock(),
        stdout.lock(),
        &mut stderr.lock(),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&config.provider, &err),
    }
}

/// The directory this process was invoked from (see [`invoked_dir`]).
fn process_invoked_dir(argv0: &Path) -> PathBuf {
    let exe = std::env::current_exe().ok();
    invoked_dir(argv0, std::env::var_os("PATH").as_deref(), exe.as_deref())
}

/// Whom an argument error is about, before the arguments parsed: the provider's name when
/// invoked under it, the stem of a `--module` value, else the binary itself.
fn subject_before_parsing(invocation: &Invocation, args: &[OsString]) -> String {
    if let Invocation::Provider { name } = invocation {
        return name.clone();
    }
    let value = args.iter().enumerate().find_map(|(i, arg)| {
        let arg = arg.to_str()?;
        match arg.strip_prefix("--module") {
            Some("") => args.get(i + 1)?.to_str(),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        }
    });
    match (value, args.get(1).and_then(|m| m.to_str())) {
        (Some(value), _) => module_stem(Path::new(value)),
        (None, Some(mode)) if mode != "run" && names_a_mode(mode.as_ref()) => mode.to_owned(),
        _ => BINARY_NAME.to_owned(),
    }
}

/// Prints the error's one line (subject omitted when it is the binary itself) and returns its
/// exit status.
fn fail(subject: &str, err: &Error) -> ExitCode {
    let message = err.to_string();
    let line = if subject == BINARY_NAME {
        format!("{BINARY_NAME}: {}", report::one_line(&message))
    } else {
        report::error_line(subject, &message)
    };
    let _ = writeln!(std::io::stderr(), "{line}");
    ExitCode::from(err.exit_code())
}

fn report_clap_error(subject: &str, err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::from(2)
        }
        _ => fail(subject, &Error::Usage(describe_clap_error(&err))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::MODE_NAMES;

    #[test]
    fn mode_names_are_the_subcommands() {
        use clap::CommandFactory;
        let mut defined: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        defined.push("help".into());
        defined.sort();
        let mut listed: Vec<String> = MODE_NAMES.iter().map(|&n| n.to_owned()).collect();
        listed.sort();
        assert_eq!(listed, defined);
    }

    #[test]
    fn run_only_command_is_the_run_mode() {
        use clap::CommandFactory;
        let mut full = Cli::command();
        full.build();
        let mut only = run_only_command();
        only.build();
        let full_run = full.find_subcommand_mut("run").unwrap();
        let only_run = only.find_subcommand_mut("run").unwrap();
        assert_eq!(
            only_run.render_long_help().to_string(),
            full_run.render_long_help().to_string()
        );
        assert_eq!(
            only_run.render_usage().to_string(),
            full_run.render_usage().to_string()
        );
        // Errors read the same either way.
        for args in [
            &["--bogus"][..],
            &["--module"][..],
            &["--module", "m.wasm", "--memory", "lots"][..],
            &["--module", "m.wasm", "--token-cache-type", "x"][..],
        ] {
            let argv: Vec<OsString> = [BINARY_NAME, "run"]
                .iter()
                .chain(args)
                .map(OsString::from)
                .collect();
            let render = |r: Result<Cli, clap::Error>| match r {
                Ok(cli) => format!("{cli:?}"),
                Err(e) => e.render().to_string(),
            };
            let fast = render(Cli::parse_from(&argv));
            let full = render(
                Cli::command()
                    .try_get_matches_from(&argv)
                    .and_then(|m| clap::FromArgMatches::from_arg_matches(&m)),
            );
            assert_eq!(fast, full, "{args:?}");
        }
    }

    #[test]
    fn argument_errors_name_the_provider_when_they_can() {
        let os = |items: &[&str]| -> Vec<OsString> { items.iter().map(OsString::from).collect() };
        let provider = Invocation::Provider { name: "p".into() };
        assert_eq!(
            subject_before_parsing(&provider, &os(&[BINARY_NAME, "run"])),
            "p"
        );
        let direct = Invocation::Direct;
        assert_eq!(
            subject_before_parsing(&direct, &os(&[BINARY_NAME, "run", "--module", "/m/x.wasm"])),
            "x"
        );
        assert_eq!(
            subject_before_parsing(&direct, &os(&[BINARY_NAME, "run", "--module=y.wasm"])),
            "y"
        );
        assert_eq!(
            subject_before_parsing(&direct, &os(&[BINARY_NAME, "check-config", "--bogus"])),
            "check-config"
        );
        assert_eq!(
            subject_before_parsing(&direct, &os(&[BINARY_NAME, "run", "--bogus"])),
            BINARY_NAME
        );
    }
}
