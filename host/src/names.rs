//! The names the binary answers to, and how `argv[0]` selects a front end.
//!
//! One executable serves three ways: as `wasm-credential-provider` (any mode), under a
//! provider's name (a symlink in the kubelet's bin dir: the run mode for `<name>.wasm` beside
//! it), and as `docker-credential-<name>` (the docker credential-helper protocol). Every
//! module that prints the binary's name or tells these apart takes it from here.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The binary's own name; invoked under any other name it acts as that provider.
pub const BINARY_NAME: &str = "wasm-credential-provider";

/// The prefix of an executable name that selects the docker credential-helper front:
/// `docker-credential-<name>`.
pub const HELPER_PREFIX: &str = "docker-credential-";

/// How the binary was invoked, read from the file name of `argv[0]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// As `wasm-credential-provider` (or an empty or unreadable name).
    Direct,
    /// Under a provider's name: run mode for that provider.
    Provider {
        /// The provider's name (the file name, without `.exe`).
        name: String,
    },
    /// As `docker-credential-<name>`.
    DockerHelper {
        /// The helper's name (after the prefix; never empty).
        name: String,
    },
}

impl Invocation {
    /// Reads the invocation from `argv0`'s file name. Pure: no file system, no environment.
    pub fn of(argv0: &Path) -> Invocation {
        let Some(file_name) = argv0.file_name().and_then(OsStr::to_str) else {
            return Invocation::Direct;
        };
        if let Some(name) = file_name.strip_prefix(HELPER_PREFIX)
            && !name.is_empty()
        {
            return Invocation::DockerHelper {
                name: name.to_owned(),
            };
        }
        let stem = file_name.strip_suffix(".exe").unwrap_or(file_name);
        if stem == BINARY_NAME || stem.is_empty() {
            Invocation::Direct
        } else {
            Invocation::Provider {
                name: stem.to_owned(),
            }
        }
    }

    /// Whether `name` would select this host's run mode or helper front instead of naming a
    /// provider it can serve under: the binary's own name, or a helper name.
    pub fn is_reserved_provider_name(name: &str) -> bool {
        !matches!(Invocation::of(Path::new(name)), Invocation::Provider { .. })
    }
}

/// The directory the binary was invoked from, where its provider module (`<name>.wasm`) and
/// helper args file live: `argv0`'s parent when it has one (the kubelet always execs
/// `<bin-dir>/<name>`); else, for a name found through `PATH` (as docker runs helpers), the
/// first absolute `PATH` directory holding that file; else the directory of the running
/// executable (`current_exe`); else `.`.
pub fn invoked_dir(argv0: &Path, path_var: Option<&OsStr>, current_exe: Option<&Path>) -> PathBuf {
    if let Some(parent) = argv0.parent()
        && !parent.as_os_str().is_empty()
    {
        return parent.to_owned();
    }
    if let (Some(file_name), Some(path)) = (argv0.file_name(), path_var) {
        for dir in std::env::split_paths(path) {
            if dir.is_absolute() && dir.join(file_name).is_file() {
                return dir;
            }
        }
    }
    current_exe
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_by_file_name() {
        let of = |p: &str| Invocation::of(Path::new(p));
        assert_eq!(of("/usr/bin/wasm-credential-provider"), Invocation::Direct);
        assert_eq!(of("wasm-credential-provider.exe"), Invocation::Direct);
        assert_eq!(of(""), Invocation::Direct);
        assert_eq!(
            of("/opt/credprov/static-credentials"),
            Invocation::Provider {
                name: "static-credentials".into()
            }
        );
        assert_eq!(
            of("docker-credential-ecr"),
            Invocation::DockerHelper { name: "ecr".into() }
        );
        // A bare prefix names a provider called so, not a helper without a name.
        assert_eq!(
            of("docker-credential-"),
            Invocation::Provider {
                name: "docker-credential-".into()
            }
        );
        assert!(Invocation::is_reserved_provider_name(
            "wasm-credential-provider"
        ));
        assert!(Invocation::is_reserved_provider_name("docker-credential-x"));
        assert!(!Invocation::is_reserved_provider_name(
            "ecr-credential-provider"
        ));
    }

    #[test]
    fn invoked_dir_prefers_argv0_then_path_then_the_executable() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("docker-credential-x"), "").unwrap();
        assert_eq!(
            invoked_dir(Path::new("/a/b/p"), None, None),
            PathBuf::from("/a/b")
        );
        let path =
            std::env::join_paths(["relative", "/nonexistent", bin.to_str().unwrap()]).unwrap();
        assert_eq!(
            invoked_dir(
                Path::new("docker-credential-x"),
                Some(&path),
                Some(Path::new("/exe/dir/host"))
            ),
            bin
        );
        assert_eq!(
            invoked_dir(
                Path::new("other"),
                Some(&path),
                Some(Path::new("/exe/dir/host"))
            ),
            PathBuf::from("/exe/dir")
        );
        assert_eq!(
            invoked_dir(Path::new("other"), None, None),
            PathBuf::from(".")
        );
    }
}
