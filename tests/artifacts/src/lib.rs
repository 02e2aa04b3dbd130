//! Paths of the wasm artifacts the end-to-end tests run: the hostile and helper guests
//! of `tests/guests` and the example plugins, each built by `build.rs` for
//! wasm32-wasip1 (a core module) and wasm32-wasip2 (a component).
//!
//! ```no_run
//! let module = test_artifacts::guest("read_files", test_artifacts::Target::P1);
//! let component = test_artifacts::plugin("static-credentials", test_artifacts::Target::P2);
//! ```

use std::path::PathBuf;

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// Which WASI flavour an artifact was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// wasm32-wasip1: a core wasm module importing `wasi_snapshot_preview1`.
    P1,
    /// wasm32-wasip2: a component (rustc links it with wasm-component-ld).
    P2,
}

impl Target {
    /// Both targets.
    pub const ALL: [Target; 2] = [Target::P1, Target::P2];

    /// The Rust target triple.
    pub fn triple(self) -> &'static str {
        match self {
            Target::P1 => "wasm32-wasip1",
            Target::P2 => "wasm32-wasip2",
        }
    }

    /// The first 8 bytes of every artifact of this target: the wasm magic and the
    /// version/layer of a core module (P1) or of a component (P2).
    pub fn magic(self) -> [u8; 8] {
        match self {
            Target::P1 => *b"\0asm\x01\0\0\0",
            Target::P2 => *b"\0asm\x0d\0\x01\0",
        }
    }

    fn index(self) -> usize {
        match self {
            Target::P1 => 0,
            Target::P2 => 1,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.triple())
    }
}

fn lookup(kind: &str, table: &[(&str, [&str; 2])], name: &str, target: Target) -> PathBuf {
    match table.iter().find(|(known, _)| *known == name) {
        Some((_, paths)) => PathBuf::from(paths[target.index()]),
        None => {
            let known: Vec<&str> = table.iter().map(|(known, _)| *known).collect();
            panic!("unknown {kind} {name:?}; known {kind}s: {known:?}")
        }
    }
}

/// The `.wasm` file of the test guest `name` (one of [`GUEST_NAMES`]) for `target`.
///
/// # Panics
///
/// If `name` is not a guest.
pub fn guest(name: &str, target: Target) -> PathBuf {
    lookup("guest", GUESTS, name, target)
}

/// The `.wasm` file of the example plugin `name` (one of [`PLUGIN_NAMES`]) for `target`.
///
/// # Panics
///
/// If `name` is not an example plugin.
pub fn plugin(name: &str, target: Target) -> PathBuf {
    lookup("plugin", PLUGINS, name, target)
}

/// Panics listing every guest whose name does not appear as a string literal
/// (`"name"`) in any of `test_sources`, so that no hostile guest exists without a test.
///
/// Call it from the end-to-end tests with `include_str!` of every test file, e.g.
/// `assert_every_guest_is_tested(&[include_str!("sandbox.rs"), include_str!("responses.rs")])`.
///
/// ```should_panic
/// // Mentions only one guest as a literal: panics naming all the others.
/// test_artifacts::assert_every_guest_is_tested(&[r#"run("read_files")"#]);
/// ```
pub fn assert_every_guest_is_tested(test_sources: &[&str]) {
    let untested: Vec<&str> = GUEST_NAMES
        .iter()
        .copied()
        .filter(|name| {
            let literal = format!("\"{name}\"");
            !test_sources.iter().any(|source| source.contains(&literal))
        })
        .collect();
    assert!(
        untested.is_empty(),
        "test guests without a test (no \"name\" literal in the given sources): {untested:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: PathBuf, target: Target) {
        let bytes =
            std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        assert!(
            bytes.starts_with(&target.magic()),
            "{} does not start with the {target} magic {:x?}: {:x?}",
            path.display(),
            target.magic(),
            &bytes[..bytes.len().min(8)],
        );
    }

    #[test]
    fn every_artifact_exists_with_the_right_magic() {
        for target in Target::ALL {
            for name in GUEST_NAMES {
                check(guest(name, target), target);
            }
            for name in PLUGIN_NAMES {
                check(plugin(name, target), target);
            }
        }
    }

    #[test]
    fn the_expected_guests_are_listed() {
        for name in ["read_files", "tcp_connect", "echo_request", "print_raw"] {
            assert!(
                GUEST_NAMES.contains(&name),
                "{name} missing from {GUEST_NAMES:?}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "unknown guest \"no_such_guest\"")]
    fn unknown_guest_panics() {
        guest("no_such_guest", Target::P1);
    }

    #[test]
    #[should_panic(expected = "unknown plugin")]
    fn unknown_plugin_panics() {
        plugin("no-such-plugin", Target::P2);
    }

    #[test]
    fn every_guest_is_tested_when_all_names_are_quoted() {
        let source: String = GUEST_NAMES
            .iter()
            .map(|name| format!("\"{name}\","))
            .collect();
        assert_every_guest_is_tested(&[&source]);
    }

    #[test]
    #[should_panic(expected = "test guests without a test")]
    fn an_untested_guest_is_reported() {
        // Mentioned, but not as a string literal.
        assert_every_guest_is_tested(&["read_files tcp_connect"]);
    }
}
