//! `install`: put this host, its provider links, their modules and a `CredentialProviderConfig`
//! on a node, the way a DaemonSet's privileged init container does it.
//!
//! The input is the exact config file the kubelet will read, plus a module file for each
//! provider this host runs. A provider's pin is the `--sha256` in its own `args`, so the digest
//! checked here is the one run mode checks again on every exec. Everything is checked before
//! anything is written: the config with the kubelet's rules (together with the other files of
//! the config directory), each provider's args with run mode's parser, each module against its
//! pin. Then each file is written to a temporary file in its destination directory and renamed
//! into place, through `cap-std` directory handles opened beneath `--root`, never following a
//! symlink at the final component: a link planted in the bin dir is replaced, not written
//! through. A file already holding the right bytes and mode is left alone, so re-runs are
//! idempotent.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, PermissionsExt};
use clap::Args;

use super::{EXIT_NO, EXIT_USAGE, EXIT_YES, config_refused, parse_feature_gates, usage_error};
use crate::args::{ExecEnv, provider_run_config, rooted, strip_root};
use crate::kubelet::config::{
    ConfigSource, CredentialProvider, CredentialProviderConfig, FeatureGates, config_files,
    decode_config, load_sources,
};
use crate::module::{ModuleBytes, ModuleError, ModuleFormat, Sha256Digest};
use crate::names::{BINARY_NAME, Invocation};

use super::install_oci::{self, Pulled};

/// Where the kubelet finds provider executables unless `--bin-dir` says otherwise (the
/// README's install example).
pub const DEFAULT_BIN_DIR: &str = "/usr/libexec/kubernetes/credential-providers";
/// The kubelet's `--image-credential-provider-config` directory (1.34 directory mode).
pub const DEFAULT_CONFIG_DIR: &str = "/etc/kubernetes/credential-providers.d";
/// The file written into the config directory.
pub const DEFAULT_CONFIG_NAME: &str = "wasm-credential-provider.yaml";

/// Largest config file accepted (the kubelet has no limit; a config is a few KiB).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Largest host binary accepted.
const MAX_BINARY_BYTES: u64 = 512 * 1024 * 1024;

/// The `--help` text of the subcommand (the variant in `cli.rs` refers to it).
pub const LONG_ABOUT: &str = "Install this host, provider links, modules and a kubelet \
        CredentialProviderConfig on a node (run from a privileged init container with the \
        node's root mounted at --root).\n\n\
        --config is the CredentialProviderConfig the kubelet will read; it is written verbatim \
        into --config-dir as --config-name (mode 0600). Every provider with a module (--module \
        NAME=PATH, or <name>.wasm in --modules) runs this host: its args must pin the module \
        with --sha256; it is installed as <bin-dir>/<name>.wasm, or as the file its --module \
        names if that is directly in the bin dir (a versioned name keeps the old module for a \
        kubelet still running the old config), mode 0644, beside a symlink <bin-dir>/<name> -> wasm-credential-provider (the binary itself, \
        0755: --binary, or this executable). Other providers are native plugins that must \
        already be in the bin dir. A provider whose args name --cache-dir gets its module \
        compiled into that directory (beneath --root) by the host being installed, so the \
        kubelet's first exec loads compiled code.\n\n\
        --module NAME=oci://REF pulls the module from a registry and verifies it with the trust \
        flags (as for pull: --key, --certificate-identity with --certificate-oidc-issuer, or \
        --allow-unsigned) before anything is written; the provider's --sha256 must be the \
        verified digest or, when its args have none, is added to them in the installed config \
        (the file's text otherwise kept). <config-name stem>.installed beside the config records \
        what was installed from where.\n\n\
        Nothing is written unless everything checks out: the config (merged with the other \
        files of the config directory) under the kubelet's rules, each provider's args under \
        run mode's, each module against its pin. Files go to a temporary file in their \
        directory and are renamed into place through directory handles beneath --root, \
        replacing (never following) a symlink found there. Files already right are left \
        alone.\n\n\
        Exit status: 0 installed (or already up to date), 1 refused or failed (one line per \
        reason; a refusal leaves the previous installation as it was), 2 bad usage.\n\n\
        Example:\n  wasm-credential-provider install --root /host \\\n      --config /etc/wasm-credential-provider/credential-providers.yaml \\\n      --modules /opt/wasm-credential-provider/modules";

/// Arguments of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The CredentialProviderConfig to install (YAML or JSON), written verbatim.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// A directory holding the modules as <provider-name>.wasm.
    #[arg(long, value_name = "DIR")]
    pub modules: Option<PathBuf>,
    /// One provider's module, overriding --modules (repeatable).
    #[arg(long = "module", value_name = "NAME=PATH")]
    pub module: Vec<String>,
    /// The host binary to install [default: this executable].
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// The node's root filesystem (in a container, where the hostPath is mounted).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The kubelet's --image-credential-provider-bin-dir, as the node sees it.
    #[arg(long = "bin-dir", value_name = "DIR", default_value = DEFAULT_BIN_DIR)]
    pub bin_dir: PathBuf,
    /// The kubelet's --image-credential-provider-config directory, as the node sees it.
    #[arg(long = "config-dir", value_name = "DIR", default_value = DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,
    /// The name of the config file in --config-dir (must end in .yaml, .yml or .json).
    #[arg(long = "config-name", value_name = "NAME", default_value = DEFAULT_CONFIG_NAME)]
    pub config_name: String,
    /// The kubelet's feature gates that change validation (as for check-config).
    #[arg(long = "feature-gates", value_name = "NAME=BOOL,...")]
    pub feature_gates: Option<String>,
    /// Check everything and show what would be installed, writing nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// The trust for `--module NAME=oci://REF` modules (as for `pull`).
    #[cfg(feature = "oci")]
    #[command(flatten)]
    pub trust: super::pull::TrustArgs,
    /// Registry access for `--module NAME=oci://REF` modules (as for `pull`).
    #[cfg(feature = "oci")]
    #[command(flatten)]
    pub registry: super::pull::RegistryArgs,
}

/// Why an installation did not happen (or did not finish).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The command line is unusable (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// An input is wrong: invalid config, unpinned or mismatching module, missing file.
    /// Nothing was written.
    #[error("{0}")]
    Refused(String),
    /// The kubelet would refuse to start with the config directory after this install.
    /// Nothing was written.
    #[error(
        "--config {} would make the kubelet refuse to start (with the other files of {}): {kubelet_error}",
        config.display(),
        config_dir.display()
    )]
    ConfigRefused {
        /// `--config`.
        config: PathBuf,
        /// `--config-dir`, as the node sees it.
        config_dir: PathBuf,
        /// The kubelet's exact error.
        kubelet_error: String,
    },
    /// Writing the installation failed part-way (files already renamed into place stay).
    #[error("{0:#}")]
    Write(anyhow::Error),
}

impl InstallError {
    fn exit_status(&self) -> u8 {
        match self {
            InstallError::Usage(_) => EXIT_USAGE,
            InstallError::Refused(_)
            | InstallError::ConfigRefused { .. }
            | InstallError::Write(_) => EXIT_NO,
        }
    }
}

/// What happened to one destination file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// It did not exist.
    Installed,
    /// Something else was there (other bytes, mode, or a symlink) and was replaced.
    Replaced,
    /// It already was right.
    Unchanged,
    /// `--dry-run`: it would be written.
    WouldWrite,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Change::Installed => "installed",
            Change::Replaced => "replaced",
            Change::Unchanged => "unchanged",
            Change::WouldWrite => "would write",
        }
    }
}

/// A provider this host will run, with its verified module.
struct HostProvider {
    name: String,
    source: PathBuf,
    /// Its file name in the bin dir: `<name>.wasm`, or the name its `--module` gives.
    module_file: String,
    module: ModuleBytes,
    /// Its `--cache-dir`, beneath `--root`, when its module is compiled there at install.
    cache_dir: Option<PathBuf>,
    /// Where it was pulled from, when its module came from a registry.
    pulled: Option<usize>,
}

/// Everything to install, checked.
struct Plan {
    config_bytes: Vec<u8>,
    binary: Vec<u8>,
    binary_source: PathBuf,
    /// Whether the binary installed is this very executable, which can then fill the compile
    /// caches itself (otherwise the installed binary does it).
    binary_is_this_host: bool,
    hosts: Vec<HostProvider>,
    native: Vec<String>,
    /// The modules pulled from registries (`--module NAME=oci://REF`).
    pulled: Vec<Pulled>,
}

/// Runs `install`.
pub fn main(args: &InstallArgs) -> ExitCode {
    let mut out = String::new();
    match install(args, &mut out) {
        Ok(()) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::from(EXIT_YES)
        }
        Err(InstallError::ConfigRefused {
            config,
            kubelet_error,
            ..
        }) => config_refused("install", &config, &kubelet_error, EXIT_NO),
        Err(err) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            usage_error("install", &err.to_string(), err.exit_status())
        }
    }
}

/// Checks and installs as `args` say, appending one line per destination to `out`.
pub fn install(args: &InstallArgs, out: &mut String) -> Result<(), InstallError> {
    let gates = parse_feature_gates(args.feature_gates.as_deref()).map_err(InstallError::Usage)?;
    let bin_rel = node_relative(&args.bin_dir, "--bin-dir")?;
    let config_rel = node_relative(&args.config_dir, "--config-dir")?;
    check_config_name(&args.config_name)?;
    let plan = plan(args, gates)?;

    out.push_str(&format!("node root: {}\n", args.root.display()));
    let root = Dir::open_ambient_dir(&args.root, cap_std::ambient_authority())
        .with_context(|| format!("cannot open --root {}", args.root.display()))
        .map_err(|e| InstallError::Refused(format!("{e:#}")))?;
    let bin_dir = open_dest(&root, &bin_rel, &args.bin_dir, "--bin-dir", args.dry_run)?;
    let config_dir = open_dest(
        &root,
        &config_rel,
        &args.config_dir,
        "--config-dir",
        args.dry_run,
    )?;

    let write = |dir: &Option<Dir>, shown: &Path, name: &str, bytes: &[u8], mode: u32| match dir {
        Some(dir) if !args.dry_run => put_file(dir, name, bytes, mode)
            .with_context(|| format!("cannot install {}", shown.join(name).display()))
            .map_err(InstallError::Write),
        _ => Ok(Change::WouldWrite),
    };
    let change = write(&bin_dir, &args.bin_dir, BINARY_NAME, &plan.binary, 0o755)?;
    out.push_str(&format!(
        "{}: {} (from {}, {})\n",
        args.bin_dir.join(BINARY_NAME).display(),
        change.word(),
        plan.binary_source.display(),
        crate::units::format_size(plan.binary.len() as u64)
    ));
    for host in &plan.hosts {
        let module_name = &host.module_file;
        let change = write(
            &bin_dir,
            &args.bin_dir,
            module_name,
            &host.module.bytes,
            0o644,
        )?;
        out.push_str(&format!(
            "{}: {} (from {}, {} matches the provider's --sha256)\n",
            args.bin_dir.join(module_name).display(),
            change.word(),
            host.source.display(),
            host.module.digest
        ));
        let change = match &bin_dir {
            Some(dir) if !args.dry_run => put_symlink(dir, &host.name, BINARY_NAME)
                .with_context(|| {
                    format!("cannot install {}", args.bin_dir.join(&host.name).display())
                })
                .map_err(InstallError::Write)?,
            _ => Change::WouldWrite,
        };
        out.push_str(&format!(
            "{} -> {BINARY_NAME}: {}\n",
            args.bin_dir.join(&host.name).display(),
            change.word()
        ));
    }
    // Compiled now, with the host just installed, so the kubelet's first exec is a cache hit.
    for host in &plan.hosts {
        let Some(cache_dir) = &host.cache_dir else {
            continue;
        };
        let shown = strip_root(&args.root, cache_dir);
        if args.dry_run {
            out.push_str(&format!(
                "{}: would compile {} into it\n",
                shown.display(),
                host.module_file
            ));
            continue;
        }
        let module = rooted(&args.root, &args.bin_dir).join(&host.module_file);
        let line = fill_cache(args, &plan, &module, &host.module.digest, cache_dir)
            .with_context(|| {
                format!(
                    "cannot compile {} into {} (provider {:?}'s --cache-dir)",
                    args.bin_dir.join(&host.module_file).display(),
                    shown.display(),
                    host.name
                )
            })
            .map_err(InstallError::Write)?;
        out.push_str(&format!(
            "{}: {} {line}\n",
            shown.display(),
            host.module_file
        ));
    }
    for name in &plan.native {
        out.push_str(&format!(
            "{}: native provider, left as it is\n",
            args.bin_dir.join(name).display()
        ));
    }
    let change = write(
        &config_dir,
        &args.config_dir,
        &args.config_name,
        &plan.config_bytes,
        0o600,
    )?;
    out.push_str(&format!(
        "{}: {} ({} provider{})\n",
        args.config_dir.join(&args.config_name).display(),
        change.word(),
        plan.hosts.len() + plan.native.len(),
        if plan.hosts.len() + plan.native.len() == 1 {
            ""
        } else {
            "s"
        }
    ));
    if !plan.pulled.is_empty() {
        let entries: Vec<_> = plan
            .hosts
            .iter()
            .map(|host| {
                (
                    host.name.clone(),
                    host.module_file.clone(),
                    host.module.digest,
                    host.pulled.map(|i| &plan.pulled[i]),
                )
            })
            .collect();
        let name = install_oci::record_name(&args.config_name);
        let change = write(
            &config_dir,
            &args.config_dir,
            &name,
            &install_oci::record(&entries),
            0o644,
        )?;
        out.push_str(&format!(
            "{}: {} (what was installed from where)\n",
            args.config_dir.join(&name).display(),
            change.word()
        ));
    }
    if let Some(dir) = &bin_dir {
        sync_dir(dir);
    }
    if let Some(dir) = &config_dir {
        sync_dir(dir);
    }
    if !args.dry_run {
        verify_installed(args, &plan)?;
        let loaded = crate::kubelet::config::load(&rooted(&args.root, &args.config_dir), gates);
        out.push_str(&format!(
            "{}: {} file{}, config hash {}\n",
            args.config_dir.display(),
            loaded.files.len(),
            if loaded.files.len() == 1 { "" } else { "s" },
            loaded.hash.as_deref().unwrap_or("-")
        ));
        out.push_str(&format!(
            "kubelet flags: --image-credential-provider-config={} --image-credential-provider-bin-dir={}\n",
            args.config_dir.display(),
            args.bin_dir.display()
        ));
    }
    Ok(())
}

/// Compiles the installed `module` into `cache_dir` with the installed host (this process when
/// it is that host, else the installed binary, exec'd), and returns what happened.
fn fill_cache(
    args: &InstallArgs,
    plan: &Plan,
    module: &Path,
    digest: &Sha256Digest,
    cache_dir: &Path,
) -> anyhow::Result<String> {
    let compile_args = crate::precompile::CompileArgs {
        module: module.to_owned(),
        output: None,
        cache_dir: Some(cache_dir.to_owned()),
        sha256: Some(digest.to_hex()),
    };
    let mut line = Vec::new();
    if plan.binary_is_this_host {
        crate::precompile::compile(&compile_args, &mut line).map_err(|e| anyhow::anyhow!("{e}"))?;
    } else {
        let installed = rooted(&args.root, &args.bin_dir).join(BINARY_NAME);
        let output = std::process::Command::new(&installed)
            .arg("compile")
            .arg(module)
            .arg("--cache-dir")
            .arg(cache_dir)
            .arg("--sha256")
            .arg(digest.to_hex())
            .env_clear()
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("cannot run the installed host {}", installed.display()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            anyhow::bail!(
                "the installed host failed: {}",
                stderr.lines().last().unwrap_or("no message")
            );
        }
        line = output.stdout;
    }
    let line = String::from_utf8_lossy(&line);
    // `compile` says `MODULE -> ENTRY (what happened)`: keep what happened.
    Ok(line
        .trim()
        .rsplit_once(" (")
        .map(|(_, what)| what.trim_end_matches(')').to_owned())
        .unwrap_or_else(|| line.trim().to_owned()))
}

/// Reads and checks every input; writes nothing.
fn plan(args: &InstallArgs, gates: FeatureGates) -> Result<Plan, InstallError> {
    let refused = InstallError::Refused;
    let config_bytes = read_limited(&args.config, MAX_CONFIG_BYTES)
        .with_context(|| format!("cannot read --config {}", args.config.display()))
        .map_err(|e| refused(format!("{e:#}")))?;
    let config = check_merged_config(args, &config_bytes, gates)?;
    explicit_modules(&args.module, &config)?;
    // Modules from registries: pulled and verified now, their providers pinned to them.
    let wanted: Vec<(String, String)> = args
        .module
        .iter()
        .filter_map(|spec| {
            let (name, value) = spec.split_once('=')?;
            let reference = value.strip_prefix(install_oci::SCHEME)?;
            Some((name.to_owned(), reference.to_owned()))
        })
        .collect();
    #[cfg(feature = "oci")]
    let pulled = install_oci::pull_all(&wanted, &args.trust, &args.registry);
    #[cfg(not(feature = "oci"))]
    let pulled = install_oci::pull_all(&wanted);
    let pulled = pulled.map_err(refused)?;
    let (config_bytes, config) = if pulled.is_empty() {
        (config_bytes, config)
    } else {
        let pinned = install_oci::pin_config(&config_bytes, &pulled).map_err(refused)?;
        let config = check_merged_config(args, &pinned, gates)?;
        (pinned, config)
    };

    let explicit = explicit_modules(&args.module, &config)?;
    let mut hosts = Vec::new();
    let mut native = Vec::new();
    for provider in &config.providers {
        let source = explicit
            .iter()
            .find(|(n, _)| *n == provider.name)
            .map_or_else(
                || {
                    args.modules
                        .as_ref()
                        .map(|dir| dir.join(format!("{}.wasm", provider.name)))
                        .filter(|path| path.exists())
                },
                |(_, path)| Some(path.clone()),
            );
        match source {
            Some(source) => {
                let from_registry = pulled.iter().position(|p| p.provider == provider.name);
                let found = from_registry.map(|i| &pulled[i]);
                let mut host = check_host_provider(args, provider, source, found)?;
                host.pulled = from_registry;
                hosts.push(host);
            }
            None => native.push(provider.name.clone()),
        }
    }
    // Native providers must already be installed: the kubelet refuses to start otherwise.
    for name in &native {
        let executable =
            std::fs::metadata(rooted(&args.root, &args.bin_dir).join(name)).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            });
        if !executable {
            return Err(refused(format!(
                "provider {name:?} has no module to install and {} is not an executable: nothing installed",
                args.bin_dir.join(name).display()
            )));
        }
        // A link to this host left by an earlier install needs its module: most likely the
        // module is missing from --modules by mistake.
        let runs_this_host = std::fs::canonicalize(rooted(&args.root, &args.bin_dir).join(name))
            .is_ok_and(|real| real.file_name().is_some_and(|n| n == BINARY_NAME));
        if runs_this_host {
            return Err(refused(format!(
                "provider {name:?} runs {BINARY_NAME} ({} leads to it) but no module was given for it (<name>.wasm in --modules, or --module {name}=PATH): nothing installed",
                args.bin_dir.join(name).display()
            )));
        }
    }
    for (i, host) in hosts.iter().enumerate() {
        let clash = hosts[..i].iter().find(|other| {
            other.module_file == host.module_file && other.module.digest != host.module.digest
        });
        let clash_with_name = config.providers.iter().any(|p| p.name == host.module_file);
        if let Some(other) = clash {
            return Err(refused(format!(
                "providers {:?} and {:?} want different modules at {}",
                other.name,
                host.name,
                args.bin_dir.join(&host.module_file).display()
            )));
        }
        if clash_with_name || host.module_file == BINARY_NAME {
            return Err(refused(format!(
                "provider {:?}: its module file name {} is taken by an executable",
                host.name, host.module_file
            )));
        }
    }
    if hosts.is_empty() {
        return Err(refused(format!(
            "no provider of {} has a module (give --modules DIR holding <name>.wasm, or --module NAME=PATH)",
            args.config.display()
        )));
    }
    let binary_source = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("cannot find this executable (give --binary)")
            .map_err(|e| refused(format!("{e:#}")))?,
    };
    let binary = read_limited(&binary_source, MAX_BINARY_BYTES)
        .with_context(|| format!("cannot read --binary {}", binary_source.display()))
        .map_err(|e| refused(format!("{e:#}")))?;
    if !binary.starts_with(b"\x7fELF") {
        return Err(refused(format!(
            "--binary {} is not an executable (ELF) file",
            binary_source.display()
        )));
    }
    let binary_is_this_host = match (
        std::env::current_exe(),
        std::fs::canonicalize(&binary_source),
    ) {
        (Ok(this), Ok(source)) => std::fs::canonicalize(this).is_ok_and(|this| this == source),
        _ => false,
    };
    Ok(Plan {
        config_bytes,
        binary,
        binary_source,
        binary_is_this_host,
        hosts,
        native,
        pulled,
    })
}

/// The config directory as the kubelet will read it after the install (the other files
/// already there, and `--config` as `--config-name`), read with the kubelet's rules: anything
/// the kubelet would refuse to start with is refused here, with its exact error. Returns the
/// providers of `--config`.
fn check_merged_config(
    args: &InstallArgs,
    config_bytes: &[u8],
    gates: FeatureGates,
) -> Result<CredentialProviderConfig, InstallError> {
    let rooted_dir = rooted(&args.root, &args.config_dir);
    let mut sources: Vec<ConfigSource> = if rooted_dir.is_dir() {
        config_files(&rooted_dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|f| {
                f.file_name()
                    .is_some_and(|n| n != args.config_name.as_str())
            })
            .map(|file| ConfigSource {
                path: strip_root(&args.root, &file),
                data: read_limited(&file, MAX_CONFIG_BYTES).map_err(|e| format!("{e:#}")),
            })
            .collect()
    } else {
        Vec::new()
    };
    sources.push(ConfigSource {
        path: args.config_dir.join(&args.config_name),
        data: Ok(config_bytes.to_vec()),
    });
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    let loaded = load_sources(sources, gates);
    if let Some(error) = loaded.kubelet_error() {
        return Err(InstallError::ConfigRefused {
            config: args.config.clone(),
            config_dir: args.config_dir.clone(),
            kubelet_error: error.to_owned(),
        });
    }
    // The kubelet accepted every file, this one included.
    decode_config(config_bytes).map_err(|e| InstallError::Refused(format!("--config: {e}")))
}

/// `--module NAME=PATH` values, each naming a provider of the config.
fn explicit_modules(
    specs: &[String],
    config: &CredentialProviderConfig,
) -> Result<Vec<(String, PathBuf)>, InstallError> {
    specs
        .iter()
        .map(|spec| {
            let (name, path) = spec
                .split_once('=')
                .filter(|(name, path)| !name.is_empty() && !path.is_empty())
                .ok_or_else(|| {
                    InstallError::Usage(format!("--module {spec:?}: expected NAME=PATH"))
                })?;
            if !config.providers.iter().any(|p| p.name == name) {
                return Err(InstallError::Usage(format!(
                    "--module {name}=...: the config has no provider {name:?}"
                )));
            }
            Ok((name.to_owned(), PathBuf::from(path)))
        })
        .collect()
}

/// A provider with a module: a name this host can serve under, args run mode accepts with a
/// `--sha256` pin (and a `--module`, if any, directly in the bin dir), and a module matching
/// that pin.
fn check_host_provider(
    args: &InstallArgs,
    provider: &CredentialProvider,
    source: PathBuf,
    pulled: Option<&Pulled>,
) -> Result<HostProvider, InstallError> {
    let name = &provider.name;
    let refused = |message: String| InstallError::Refused(format!("provider {name:?}: {message}"));
    if Invocation::is_reserved_provider_name(name) {
        return Err(refused(format!(
            "this host cannot run under the name {name:?}: rename the provider"
        )));
    }
    let bin_dir = rooted(&args.root, &args.bin_dir);
    let env = ExecEnv::kubelet_exec(&provider.env);
    let config = provider_run_config(name, &args.bin_dir, &provider.args, &env, Some(&args.root))
        .map_err(|e| refused(format!("its args: invalid arguments: {e}")))?;
    let names_module = provider
        .args
        .iter()
        .any(|a| a == "--module" || a.starts_with("--module="));
    let module_file = if names_module {
        module_file_in_bin_dir(&config.module, &bin_dir).ok_or_else(|| {
            refused(format!(
                "its --module {} is not a .wasm or .cwasm file directly in {} (install writes modules only there; or drop --module for {})",
                strip_root(&args.root, &config.module).display(),
                args.bin_dir.display(),
                args.bin_dir.join(format!("{name}.wasm")).display()
            ))
        })?
    } else {
        format!("{name}.wasm")
    };
    let pin = config.sha256.ok_or_else(|| {
        refused(format!(
            "its args have no --sha256 pin for the module (add --sha256={})",
            std::fs::read(&source)
                .map(|bytes| Sha256Digest::of(&bytes).to_hex())
                .unwrap_or_else(|_| "<digest>".into())
        ))
    })?;
    let module = match pulled {
        Some(pulled) if pulled.module.digest != pin => Err(ModuleError::DigestMismatch {
            path: source.clone(),
            actual: pulled.module.digest,
            expected: pin,
        }),
        Some(pulled) => Ok(pulled.module.clone()),
        None => ModuleBytes::load(&source, Some(&pin)),
    };
    let module = module.map_err(|e| match e {
        ModuleError::DigestMismatch {
            path,
            actual,
            expected,
        } => refused(format!(
            "module {} has digest {actual}, but the provider's --sha256 pins {expected}: nothing installed",
            path.display()
        )),
        other => refused(other.to_string()),
    })?;
    let precompiled = matches!(
        module.format,
        ModuleFormat::PrecompiledComponent | ModuleFormat::PrecompiledModule
    );
    if precompiled && !config.allow_precompiled {
        return Err(refused(format!(
            "module {} is precompiled native code: its args need --allow-precompiled",
            source.display()
        )));
    }
    Ok(HostProvider {
        name: name.clone(),
        source,
        module_file,
        module,
        cache_dir: config.cache_dir.filter(|_| !precompiled),
        pulled: None,
    })
}

/// The file name of a `--module` path that is directly in the bin dir (both seen from here,
/// beneath the root), if it is a plain `.wasm` or `.cwasm` name.
fn module_file_in_bin_dir(module: &Path, bin_dir: &Path) -> Option<String> {
    let strip = |p: &Path| -> PathBuf {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    };
    if strip(module.parent()?) != strip(bin_dir) {
        return None;
    }
    let file = module.file_name()?.to_str()?;
    let plain = !file.starts_with('.') && (file.ends_with(".wasm") || file.ends_with(".cwasm"));
    plain.then(|| file.to_owned())
}

/// After writing: each installed module is the pinned one and each link runs this host.
fn verify_installed(args: &InstallArgs, plan: &Plan) -> Result<(), InstallError> {
    let bin_dir = rooted(&args.root, &args.bin_dir);
    for host in &plan.hosts {
        let module = bin_dir.join(&host.module_file);
        ModuleBytes::load(&module, Some(&host.module.digest))
            .map_err(|e| InstallError::Write(anyhow::anyhow!("after installing: {e}")))?;
        let link = bin_dir.join(&host.name);
        let runs_host = std::fs::canonicalize(&link)
            .ok()
            .is_some_and(|real| real.file_name().is_some_and(|n| n == BINARY_NAME));
        if !runs_host {
            return Err(InstallError::Write(anyhow::anyhow!(
                "after installing: {} does not lead to {BINARY_NAME}",
                args.bin_dir.join(&host.name).display()
            )));
        }
    }
    Ok(())
}

/// `dir` as a path relative to the node's root: absolute, without `..`.
fn node_relative(dir: &Path, flag: &str) -> Result<PathBuf, InstallError> {
    if !dir.is_absolute() {
        return Err(InstallError::Usage(format!(
            "{flag} {} must be an absolute path (as the node sees it)",
            dir.display()
        )));
    }
    let mut rel = PathBuf::new();
    for component in dir.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(InstallError::Usage(format!(
                    "{flag} {} must not contain '..'",
                    dir.display()
                )));
            }
        }
    }
    if rel.as_os_str().is_empty() {
        return Err(InstallError::Usage(format!("{flag} must not be /")));
    }
    Ok(rel)
}

fn check_config_name(name: &str) -> Result<(), InstallError> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains('/')
        && [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext));
    if plain {
        Ok(())
    } else {
        Err(InstallError::Usage(format!(
            "--config-name {name:?}: must be a plain file name ending in .yaml, .yml or .json (the kubelet reads only those)"
        )))
    }
}

/// Opens (creating it, unless a dry run) the destination directory `rel` beneath the root.
/// `cap-std` refuses a path that leads outside the root (an absolute symlink, `..`).
fn open_dest(
    root: &Dir,
    rel: &Path,
    shown: &Path,
    flag: &str,
    dry_run: bool,
) -> Result<Option<Dir>, InstallError> {
    let write_error = |e: std::io::Error| {
        InstallError::Write(
            anyhow::Error::new(e).context(format!("cannot open {}", shown.display())),
        )
    };
    let opened = if dry_run {
        match root.open_dir(rel) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other,
        }
    } else {
        root.create_dir_all(rel).and_then(|()| root.open_dir(rel))
    };
    opened.map(Some).map_err(|err| match symlink_out_of_root(root, rel) {
        Some((link, target)) => InstallError::Refused(format!(
            "cannot open {flag} {}: {} is a symlink to {}, which leads out of the node's root (--root), and install writes only beneath it: give the real directory as {flag}",
            shown.display(),
            Path::new("/").join(&link).display(),
            target.display(),
        )),
        None => write_error(err),
    })
}

/// The first component of `rel` (beneath `root`) that is a symlink leaving the root, and its
/// target: absolute, or climbing out with `..`. cap-std refuses to follow such links.
fn symlink_out_of_root(root: &Dir, rel: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut prefix = PathBuf::new();
    for component in rel.components() {
        prefix.push(component);
        let meta = root.symlink_metadata(&prefix).ok()?;
        if meta.is_symlink() {
            let target = root.read_link_contents(&prefix).ok()?;
            let escapes = target.is_absolute()
                || target
                    .components()
                    .any(|c| matches!(c, Component::ParentDir));
            return escapes.then_some((prefix, target));
        }
        if !meta.is_dir() {
            return None;
        }
    }
    None
}

/// Reads at most `limit` bytes of `path`; a longer file is an error.
fn read_limited(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    anyhow::ensure!(bytes.len() as u64 <= limit, "larger than {limit} bytes");
    Ok(bytes)
}

/// A unique temporary name in a destination directory. Its extension is never one the kubelet
/// reads from a config directory.
fn temp_name(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `dir/name` is a regular file (not a symlink) with exactly `bytes` and `mode`.
fn file_is(dir: &Dir, name: &str, bytes: &[u8], mode: u32) -> bool {
    let mut options = OpenOptions::new();
    options.read(true).follow(FollowSymlinks::No);
    let Ok(file) = dir.open_with(name, &options) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if !meta.is_file()
        || meta.len() != bytes.len() as u64
        || meta.permissions().mode() & 0o7777 != mode
    {
        return false;
    }
    let mut existing = Vec::with_capacity(bytes.len());
    file.into_std()
        .take(bytes.len() as u64 + 1)
        .read_to_end(&mut existing)
        .is_ok()
        && existing == bytes
}

/// Puts `bytes` at `dir/name` with `mode`: a temporary file created in `dir` (never through a
/// symlink), synced, then renamed over `name` (replacing whatever is there, a symlink included).
fn put_file(dir: &Dir, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<Change> {
    if file_is(dir, name, bytes, mode) {
        return Ok(Change::Unchanged);
    }
    let existed = dir.symlink_metadata(name).is_ok();
    let temp = temp_name(name);
    let mut options = OpenOptions::new();
    options
        .write(true)
        .create_new(true)
        .mode(mode)
        .follow(FollowSymlinks::No);
    let result = (|| {
        let mut file = dir.open_with(&temp, &options)?;
        file.write_all(bytes)?;
        // The umask may have cleared bits of `mode`.
        file.set_permissions(cap_std::fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        dir.rename(&temp, dir, name)
    })();
    if result.is_err() {
        let _ = dir.remove_file(&temp);
    }
    result.map(|()| {
        if existed {
            Change::Replaced
        } else {
            Change::Installed
        }
    })
}

/// Makes `dir/name` a symlink to `target` (a name in the same directory): a temporary link,
/// renamed over `name`.
fn put_symlink(dir: &Dir, name: &str, target: &str) -> std::io::Result<Change> {
    let existing = dir.symlink_metadata(name).ok();
    if existing.as_ref().is_some_and(|m| m.is_symlink())
        && dir
            .read_link_contents(name)
            .is_ok_and(|contents| contents == Path::new(target))
    {
        return Ok(Change::Unchanged);
    }
    let temp = temp_name(name);
    let result = dir
        .symlink(target, &temp)
        .and_then(|()| dir.rename(&temp, dir, name));
    if result.is_err() {
        let _ = dir.remove_file(&temp);
    }
    result.map(|()| {
        if existing.is_some() {
            Change::Replaced
        } else {
            Change::Installed
        }
    })
}

/// Best effort: makes the renames in `dir` durable.
fn sync_dir(dir: &Dir) {
    if let Ok(clone) = dir.try_clone() {
        let _ = clone.into_std_file().sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths() {
        assert_eq!(
            node_relative(Path::new("/usr/libexec/x"), "--bin-dir").unwrap(),
            PathBuf::from("usr/libexec/x")
        );
        assert!(node_relative(Path::new("usr/libexec"), "--bin-dir").is_err());
        assert!(node_relative(Path::new("/usr/../etc"), "--bin-dir").is_err());
        assert!(node_relative(Path::new("/"), "--bin-dir").is_err());
    }

    #[test]
    fn config_names() {
        assert!(check_config_name("wasm-credential-provider.yaml").is_ok());
        assert!(check_config_name("10-wasm.json").is_ok());
        for bad in ["", ".hidden.yaml", "a/b.yaml", "config.txt", "config"] {
            assert!(check_config_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_replace_symlinks_without_following_them() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("f")).unwrap();
        let dir = Dir::open_ambient_dir(&dest, cap_std::ambient_authority()).unwrap();
        assert_eq!(
            put_file(&dir, "f", b"new", 0o644).unwrap(),
            Change::Replaced
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"new");
        assert_eq!(
            put_file(&dir, "f", b"new", 0o644).unwrap(),
            Change::Unchanged
        );
        assert_eq!(
            put_file(&dir, "f", b"new", 0o600).unwrap(),
            Change::Replaced
        );
        assert_eq!(put_symlink(&dir, "l", "f").unwrap(), Change::Installed);
        assert_eq!(put_symlink(&dir, "l", "f").unwrap(), Change::Unchanged);
        assert_eq!(std::fs::read(dest.join("l")).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }
}
