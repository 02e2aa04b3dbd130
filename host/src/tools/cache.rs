//! `cache prune DIR`: remove from a compile cache directory what this host will never load
//! again (entries and lock files of other engine configurations, i.e. other host versions) and
//! temporary files a crashed writer left. Running execs are not disturbed (see
//! [`crate::cache`]); a new entry written by a run prunes the same way.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{EXIT_USAGE, EXIT_YES, usage_error};
use crate::cache::CompileCache;
use crate::sandbox::Sandbox;

/// The `--help` text of the subcommand.
pub const LONG_ABOUT: &str = "Manage a provider's compile cache directory (its --cache-dir).\n\n\
        prune DIR removes the entries and lock files of other engine configurations (left by \
        earlier host versions; this host would never load them) and temporary files older than \
        an hour, and keeps this host's entries. An exec that has an entry mapped keeps it \
        until it exits. Each removed file is printed.\n\n\
        Exit status: 0 pruned, 2 the directory is unusable (missing, not owned by this user, \
        writable by others).";

/// Arguments of `cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CacheAction,
}

/// The `cache` actions.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Remove other host versions' entries and stale temporary files.
    Prune {
        /// The cache directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Runs `cache`.
pub fn main(args: &CacheArgs) -> ExitCode {
    let CacheAction::Prune { dir } = &args.action;
    if !dir.is_dir() {
        return usage_error(
            "cache",
            &format!("{} is not a directory", dir.display()),
            EXIT_USAGE,
        );
    }
    let sandbox = match Sandbox::new() {
        Ok(sandbox) => sandbox,
        Err(e) => return usage_error("cache", &e.to_string(), EXIT_USAGE),
    };
    let pruned = CompileCache::open(dir, sandbox.engine())
        .map_err(|e| e.to_string())
        .and_then(|cache| {
            cache
                .prune()
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))
        });
    match pruned {
        Ok(pruned) => {
            let mut out = std::io::stdout().lock();
            for name in &pruned.removed {
                let _ = writeln!(out, "removed {}", dir.join(name).display());
            }
            let _ = writeln!(
                out,
                "{}: {} removed, {} entr{} of this host kept",
                dir.display(),
                pruned.removed.len(),
                pruned.kept_entries,
                if pruned.kept_entries == 1 { "y" } else { "ies" }
            );
            ExitCode::from(EXIT_YES)
        }
        Err(message) => usage_error("cache", &message, EXIT_USAGE),
    }
}
