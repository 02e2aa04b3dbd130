//! Reading and checking every input of an installation, before anything is written.

use super::*;

/// Reads and checks every input; writes nothing.
pub(super) fn plan(args: &InstallArgs, gates: FeatureGates) -> Result<Plan, InstallError> {
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
            let reference = value.strip_prefix(oci::SCHEME)?;
            Some((name.to_owned(), reference.to_owned()))
        })
        .collect();
    #[cfg(feature = "oci")]
    let pulled = oci::pull_all(&wanted, &args.trust, &args.registry);
    #[cfg(not(feature = "oci"))]
    let pulled = oci::pull_all(&wanted);
    let pulled = pulled?;
    let (config_bytes, config) = if pulled.is_empty() {
        (config_bytes, config)
    } else {
        let pinned = oci::pin_config(&config_bytes, &pulled).map_err(refused)?;
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
