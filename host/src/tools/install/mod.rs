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

mod config_pin;
mod files;
mod oci;
mod plan;
mod warm_cache;

use files::{open_dest, put_file, put_symlink, read_limited, sync_dir};
use oci::Pulled;
use plan::plan;
use warm_cache::fill_cache;

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
        let name = oci::record_name(&args.config_name);
        let change = write(
            &config_dir,
            &args.config_dir,
            &name,
            &oci::record(&entries),
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
}
