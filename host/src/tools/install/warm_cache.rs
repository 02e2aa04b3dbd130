//! Compiling each installed module into its provider's `--cache-dir`, with the installed host,
//! so the kubelet's first exec loads compiled code.

use super::*;

/// Compiles the installed `module` into `cache_dir` with the installed host (this process when
/// it is that host, else the installed binary, exec'd), and returns what happened.
pub(super) fn fill_cache(
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
