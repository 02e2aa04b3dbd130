//! What a guest may import: the exact WASI interfaces (components) and functions (core modules)
//! this host links, each with the capability it stands for and what the host grants of it.
//!
//! Linking is explicit: before a guest starts, every import it names is looked up here, and a
//! guest importing anything else is refused with the whole list of what is missing, rather than
//! failing on the first name inside wasmtime. `inspect` reports from the same table, so what it
//! says a module can use is what the run mode links.

/// A capability a module can import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// stdin, stdout, stderr, terminals.
    Stdio,
    /// Environment variables and arguments.
    Environment,
    /// Wall and monotonic clocks, `poll_oneoff`.
    Clocks,
    /// Random bytes.
    Random,
    /// Exiting with a status.
    Exit,
    /// Streams and polling (plumbing for the other interfaces).
    Io,
    /// Files and directories.
    Filesystem,
    /// TCP, UDP, name lookup.
    Sockets,
    /// Outgoing HTTP (`wasi:http`).
    Http,
    /// Anything this host does not link: a guest importing it is refused before it starts.
    Unknown,
}

/// Whether this host gives a capability to a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Available as imported.
    Granted,
    /// Linked, but every operation is refused or sees nothing.
    Refused,
    /// Available only to what the provider's args allow.
    Limited,
    /// Not provided: the module is refused before it starts.
    Missing,
}

impl Capability {
    /// Name for output.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Stdio => "stdio",
            Capability::Environment => "environment",
            Capability::Clocks => "clocks",
            Capability::Random => "random",
            Capability::Exit => "exit",
            Capability::Io => "io",
            Capability::Filesystem => "filesystem",
            Capability::Sockets => "sockets",
            Capability::Http => "http",
            Capability::Unknown => "unknown",
        }
    }

    /// What this host grants, and what that means.
    pub fn grant(self) -> (Grant, &'static str) {
        match self {
            Capability::Stdio => (
                Grant::Granted,
                "stdin is the request, stdout the response; stderr goes to the kubelet's log",
            ),
            Capability::Environment => (
                Grant::Granted,
                "empty unless the provider's args pass --env NAME or --arg VALUE",
            ),
            Capability::Clocks | Capability::Random | Capability::Exit | Capability::Io => {
                (Grant::Granted, "granted")
            }
            Capability::Filesystem => (
                Grant::Refused,
                "NOT GRANTED: no directory is preopened, every path operation fails",
            ),
            Capability::Sockets => (
                Grant::Refused,
                "NOT GRANTED: every TCP, UDP and name-lookup operation is refused",
            ),
            Capability::Http => (
                Grant::Limited,
                "LIMITED: only origins allowed with --allow-http; without it every request is refused",
            ),
            Capability::Unknown => (
                Grant::Missing,
                "NOT PROVIDED: the host refuses to start the module",
            ),
        }
    }
}

/// The WASI 0.2 interfaces the component linker defines (`package/interface`, any `0.2.x`).
pub const COMPONENT_INTERFACES: &[(&str, Capability)] = &[
    ("cli/environment", Capability::Environment),
    ("cli/exit", Capability::Exit),
    ("cli/stdin", Capability::Stdio),
    ("cli/stdout", Capability::Stdio),
    ("cli/stderr", Capability::Stdio),
    ("cli/terminal-input", Capability::Stdio),
    ("cli/terminal-output", Capability::Stdio),
    ("cli/terminal-stdin", Capability::Stdio),
    ("cli/terminal-stdout", Capability::Stdio),
    ("cli/terminal-stderr", Capability::Stdio),
    ("clocks/monotonic-clock", Capability::Clocks),
    ("clocks/wall-clock", Capability::Clocks),
    ("random/random", Capability::Random),
    ("random/insecure", Capability::Random),
    ("random/insecure-seed", Capability::Random),
    ("io/error", Capability::Io),
    ("io/poll", Capability::Io),
    ("io/streams", Capability::Io),
    ("filesystem/types", Capability::Filesystem),
    ("filesystem/preopens", Capability::Filesystem),
    ("sockets/network", Capability::Sockets),
    ("sockets/instance-network", Capability::Sockets),
    ("sockets/tcp", Capability::Sockets),
    ("sockets/tcp-create-socket", Capability::Sockets),
    ("sockets/udp", Capability::Sockets),
    ("sockets/udp-create-socket", Capability::Sockets),
    ("sockets/ip-name-lookup", Capability::Sockets),
    ("http/types", Capability::Http),
    ("http/outgoing-handler", Capability::Http),
];

/// The `wasi_snapshot_preview1` functions the core-module linker defines.
pub const CORE_FUNCTIONS: &[(&str, Capability)] = &[
    ("args_get", Capability::Environment),
    ("args_sizes_get", Capability::Environment),
    ("environ_get", Capability::Environment),
    ("environ_sizes_get", Capability::Environment),
    ("clock_res_get", Capability::Clocks),
    ("clock_time_get", Capability::Clocks),
    ("poll_oneoff", Capability::Clocks),
    ("sched_yield", Capability::Clocks),
    ("random_get", Capability::Random),
    ("proc_exit", Capability::Exit),
    ("proc_raise", Capability::Exit),
    ("fd_read", Capability::Stdio),
    ("fd_write", Capability::Stdio),
    ("fd_close", Capability::Stdio),
    ("fd_fdstat_get", Capability::Stdio),
    ("fd_fdstat_set_flags", Capability::Stdio),
    ("fd_seek", Capability::Stdio),
    ("fd_tell", Capability::Stdio),
    ("fd_sync", Capability::Stdio),
    ("fd_datasync", Capability::Stdio),
    ("fd_advise", Capability::Filesystem),
    ("fd_allocate", Capability::Filesystem),
    ("fd_fdstat_set_rights", Capability::Filesystem),
    ("fd_filestat_get", Capability::Filesystem),
    ("fd_filestat_set_size", Capability::Filesystem),
    ("fd_filestat_set_times", Capability::Filesystem),
    ("fd_pread", Capability::Filesystem),
    ("fd_prestat_get", Capability::Filesystem),
    ("fd_prestat_dir_name", Capability::Filesystem),
    ("fd_pwrite", Capability::Filesystem),
    ("fd_readdir", Capability::Filesystem),
    ("fd_renumber", Capability::Filesystem),
    ("path_create_directory", Capability::Filesystem),
    ("path_filestat_get", Capability::Filesystem),
    ("path_filestat_set_times", Capability::Filesystem),
    ("path_link", Capability::Filesystem),
    ("path_open", Capability::Filesystem),
    ("path_readlink", Capability::Filesystem),
    ("path_remove_directory", Capability::Filesystem),
    ("path_rename", Capability::Filesystem),
    ("path_symlink", Capability::Filesystem),
    ("path_unlink_file", Capability::Filesystem),
    ("sock_accept", Capability::Sockets),
    ("sock_recv", Capability::Sockets),
    ("sock_send", Capability::Sockets),
    ("sock_shutdown", Capability::Sockets),
];

/// The module name of every WASI preview 1 import.
pub const CORE_MODULE: &str = "wasi_snapshot_preview1";

/// The capability of a component's top-level import (`wasi:<package>/<interface>@<version>`):
/// [`Capability::Unknown`] unless it is one of [`COMPONENT_INTERFACES`] at a `0.2.x` version.
pub fn component_import(name: &str) -> Capability {
    let Some((path, version)) = name
        .strip_prefix("wasi:")
        .and_then(|rest| rest.split_once('@'))
    else {
        return Capability::Unknown;
    };
    if !is_wasi_0_2(version) {
        return Capability::Unknown;
    }
    COMPONENT_INTERFACES
        .iter()
        .find(|(known, _)| *known == path)
        .map_or(Capability::Unknown, |(_, capability)| *capability)
}

/// The capability of a core module's import `module::name`.
pub fn core_import(module: &str, name: &str) -> Capability {
    if module != CORE_MODULE {
        return Capability::Unknown;
    }
    CORE_FUNCTIONS
        .iter()
        .find(|(known, _)| *known == name)
        .map_or(Capability::Unknown, |(_, capability)| *capability)
}

/// `0.2.<patch>`, with an optional pre-release or build suffix on the patch (semver-compatible
/// with the 0.2 interfaces the linker defines; wasmtime type-checks the rest).
fn is_wasi_0_2(version: &str) -> bool {
    version
        .strip_prefix("0.2.")
        .and_then(|patch| patch.split(['-', '+']).next())
        .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
}

/// The imports among `names` this host does not link, deduplicated, in order of appearance.
pub fn missing<'a>(
    names: impl IntoIterator<Item = &'a str>,
    classify: impl Fn(&str) -> Capability,
) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    for name in names {
        if classify(name) == Capability::Unknown && !missing.iter().any(|m| m == name) {
            missing.push(name.to_owned());
        }
    }
    missing
}

/// Classifies a core import written `module::name`.
pub fn core_import_path(path: &str) -> Capability {
    match path.split_once("::") {
        Some((module, name)) => core_import(module, name),
        None => Capability::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_component_imports_exactly() {
        assert_eq!(component_import("wasi:cli/stdout@0.2.6"), Capability::Stdio);
        assert_eq!(
            component_import("wasi:cli/stdout@0.2.12"),
            Capability::Stdio
        );
        assert_eq!(
            component_import("wasi:cli/environment@0.2.0"),
            Capability::Environment
        );
        assert_eq!(
            component_import("wasi:filesystem/preopens@0.2.6"),
            Capability::Filesystem
        );
        assert_eq!(
            component_import("wasi:sockets/tcp@0.2.6"),
            Capability::Sockets
        );
        assert_eq!(
            component_import("wasi:http/outgoing-handler@0.2.6"),
            Capability::Http
        );
        for unknown in [
            "acme:secrets/vault",
            "wasi:cli/stdout",
            "wasi:cli/stdout@0.3.0",
            "wasi:cli/stdout@1.0.0",
            "wasi:cli/stdout@0.2.",
            "wasi:cli/bogus@0.2.6",
            "wasi:http/incoming-handler@0.2.6",
            "wasi:keyvalue/store@0.2.0-draft",
            "wasi:config/store@0.2.0-draft",
        ] {
            assert_eq!(component_import(unknown), Capability::Unknown, "{unknown}");
        }
    }

    #[test]
    fn classifies_core_imports_exactly() {
        assert_eq!(core_import(CORE_MODULE, "fd_write"), Capability::Stdio);
        assert_eq!(
            core_import(CORE_MODULE, "path_open"),
            Capability::Filesystem
        );
        assert_eq!(
            core_import(CORE_MODULE, "fd_readdir"),
            Capability::Filesystem
        );
        assert_eq!(core_import(CORE_MODULE, "sock_accept"), Capability::Sockets);
        assert_eq!(core_import(CORE_MODULE, "fd_bogus"), Capability::Unknown);
        assert_eq!(core_import("env", "host_secret"), Capability::Unknown);
        assert_eq!(
            core_import("wasi_unstable", "fd_write"),
            Capability::Unknown
        );
        assert_eq!(
            core_import_path("wasi_snapshot_preview1::fd_write"),
            Capability::Stdio
        );
        assert_eq!(core_import_path("fd_write"), Capability::Unknown);
    }

    #[test]
    fn lists_every_missing_import_once() {
        let names = [
            "wasi:cli/stdout@0.2.6",
            "acme:secrets/vault",
            "wasi:cli/bogus@0.2.6",
            "acme:secrets/vault",
        ];
        assert_eq!(
            missing(names, component_import),
            ["acme:secrets/vault", "wasi:cli/bogus@0.2.6"]
        );
    }
}
