//! A provider's `args`, parsed and checked into a [`RunConfig`](crate::run::RunConfig): the
//! layer between the front ends and the run.
//!
//! The kubelet executes `<bin-dir>/<name>` with only the provider's `args` and its
//! environment, so run mode, `check-config`, `install`, `simulate --root` and the docker helper
//! all need the same answer to "what would this exec run, with which limits and grants?". It
//! is computed here from inputs passed in (the args, the environment the provider runs with,
//! the node root), never from this process's own state behind the caller's back: run mode
//! passes the process environment, the tools pass the provider's.

mod check;
mod parse;
mod root;
mod run_args;

pub use check::{
    ExecEnv, locate_module, module_stem, provider_run_config, run_config, runs_this_host,
};
pub use parse::{
    MODE_NAMES, RUN_ABOUT, describe_clap_error, names_a_mode, parse_run_args, run_only_command,
};
pub use root::{reroot_args, rooted, strip_root};
pub use run_args::{DurationArg, PATH_OPTIONS, RunArgs, SizeArg, TokenCacheArg};

/// Why a provider's args do not make a run configuration: every problem found, each one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError {
    /// The problems, in the order of the options.
    pub problems: Vec<String>,
}

impl ArgsError {
    /// A single problem.
    pub fn one(problem: impl Into<String>) -> Self {
        ArgsError {
            problems: vec![problem.into()],
        }
    }
}

impl std::fmt::Display for ArgsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problems.join("; "))
    }
}

impl std::error::Error for ArgsError {}

impl From<ArgsError> for crate::Error {
    fn from(err: ArgsError) -> Self {
        crate::Error::Usage(err.to_string())
    }
}
