//! The compile cache and precompiled modules: hits, misses, corrupt or foreign entries,
//! untrusted directories, module replacement, concurrency, and `.cwasm` rules.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::support::*;

fn run_cached(module: &Path, cache: &Path) -> Outcome {
    exec(
        &[
            "--module",
            module.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &v1_request(),
    )
}

/// The one entry in the cache directory (its lock files, `.lock-<entry>`, aside: there must be
/// exactly one).
fn only_entry(cache: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".lock-")
        })
        .collect();
    assert_eq!(entries.len(), 1, "one cache entry, found {entries:?}");
    entries.into_iter().next().unwrap()
}

fn echo_module(dir: &Path, target: Target) -> PathBuf {
    let module = dir.join("provider.wasm");
    std::fs::copy(test_artifacts::guest("echo_request", target), &module).unwrap();
    module
}

#[test]
fn miss_then_hit() {
    for target in Target::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let module = echo_module(tmp.path(), target);
        let first = run_cached(&module, &cache);
        let expected = first.json();
        assert_eq!(first.stderr, "", "a miss is silent");
        let entry = only_entry(&cache);
        let inode = std::fs::metadata(&entry).unwrap().ino();
        assert_eq!(
            std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let second = run_cached(&module, &cache);
        assert_eq!(second.json(), expected);
        assert_eq!(second.stderr, "");
        // A hit does not rewrite the entry.
        assert_eq!(
            std::fs::metadata(only_entry(&cache)).unwrap().ino(),
            inode,
            "{target}"
        );
    }
}

#[test]
fn corrupt_entry_is_recompiled_never_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P2);
    let expected = run_cached(&module, &cache).json();
    let entry = only_entry(&cache);
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();

    let out = run_cached(&module, &cache);
    assert_eq!(out.json(), expected);
    assert!(
        out.stderr.contains("warning: cache entry") && out.stderr.contains("corrupt or foreign"),
        "{}",
        out.stderr
    );
    // Replaced by a good entry: the next run is a silent hit.
    let again = run_cached(&module, &cache);
    assert_eq!(again.json(), expected);
    assert_eq!(again.stderr, "");

    // Garbage of the right name.
    std::fs::write(only_entry(&cache), b"not compiled code").unwrap();
    let out = run_cached(&module, &cache);
    assert_eq!(out.json(), expected);
    assert!(out.stderr.contains("corrupt or foreign"));
}

#[test]
fn untrusted_directory_or_entry_falls_back_to_compiling() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P1);
    let expected = run_cached(&module, &cache).json();

    // An entry others can write is not loaded.
    let entry = only_entry(&cache);
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = run_cached(&module, &cache);
    assert_eq!(out.json(), expected);
    assert!(
        out.stderr.contains("writable by group or others"),
        "{}",
        out.stderr
    );

    // A directory others can write is not used at all.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run_cached(&module, &cache);
    assert_eq!(out.json(), expected);
    assert!(
        out.stderr.contains("warning: cache directory") && out.stderr.contains("not trusting it"),
        "{}",
        out.stderr
    );
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();

    // An entry owned by another user is not loaded (needs root to arrange).
    if rustix::process::geteuid().is_root() {
        let entry = only_entry(&cache);
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&entry, Some(65534), Some(65534)).unwrap();
        let out = run_cached(&module, &cache);
        assert_eq!(out.json(), expected);
        assert!(out.stderr.contains("owned by uid 65534"), "{}", out.stderr);

        std::os::unix::fs::chown(&cache, Some(65534), Some(65534)).unwrap();
        let out = run_cached(&module, &cache);
        assert_eq!(out.json(), expected);
        assert!(
            out.stderr.contains("cache directory") && out.stderr.contains("owned by uid 65534")
        );
    }
}

#[test]
fn replaced_module_with_the_same_name_is_not_served_from_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P2);
    let echoed = run_cached(&module, &cache).json();
    assert_eq!(only_credential(&echoed).1, "stdin");
    std::fs::copy(test_artifacts::guest("report_env", Target::P2), &module).unwrap();
    let reported = run_cached(&module, &cache).json();
    assert_eq!(only_credential(&reported).1, "env", "the new module ran");
}

#[test]
fn planted_symlink_cannot_redirect_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P2);
    let expected = run_cached(&module, &cache).json();
    let entry = only_entry(&cache);
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"do not overwrite").unwrap();
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&victim, &entry).unwrap();
    let out = run_cached(&module, &cache);
    assert_eq!(out.json(), expected);
    assert_eq!(std::fs::read(&victim).unwrap(), b"do not overwrite");
    assert!(
        !std::fs::symlink_metadata(&entry)
            .unwrap()
            .file_type()
            .is_symlink(),
        "entry replaced by a real file"
    );
}

#[test]
fn thirty_two_concurrent_cold_execs_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P2);
    let expected = exec(&["--module", module.to_str().unwrap()], &v1_request()).json();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|_| scope.spawn(|| run_cached(&module, &cache)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in outcomes {
        assert_eq!(out.json(), expected);
        assert_eq!(out.stderr, "", "no warnings from concurrent writers");
    }
    only_entry(&cache);
}

#[test]
fn precompiled_module_needs_permission_and_this_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let module = test_artifacts::guest("echo_request", Target::P2);
    let cwasm = tmp.path().join("provider.cwasm");
    let out = exec(
        &[
            "compile",
            module.to_str().unwrap(),
            "-o",
            cwasm.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("sha256:"));

    let refused = exec(&["--module", cwasm.to_str().unwrap()], &v1_request());
    refused.assert_refused("provider", "pass --allow-precompiled");

    let expected = exec(&["--module", module.to_str().unwrap()], &v1_request()).json();
    let allowed = exec(
        &["--module", cwasm.to_str().unwrap(), "--allow-precompiled"],
        &v1_request(),
    );
    assert_eq!(allowed.json(), expected);

    // Core modules too.
    let core = test_artifacts::guest("echo_request", Target::P1);
    let core_cwasm = tmp.path().join("core.cwasm");
    assert!(
        exec(
            &[
                "compile",
                core.to_str().unwrap(),
                "-o",
                core_cwasm.to_str().unwrap()
            ],
            b""
        )
        .status
        .success()
    );
    let allowed = exec(
        &[
            "--module",
            core_cwasm.to_str().unwrap(),
            "--allow-precompiled",
        ],
        &v1_request(),
    );
    assert_eq!(allowed.json(), expected);

    // Compiled by an engine with another configuration: refused.
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(false).wasm_component_model(true);
    let other = wasmtime::Engine::new(&config).unwrap();
    let foreign = other
        .precompile_component(&std::fs::read(&module).unwrap())
        .unwrap();
    let foreign_path = tmp.path().join("foreign.cwasm");
    std::fs::write(&foreign_path, foreign).unwrap();
    let out = exec(
        &[
            "--module",
            foreign_path.to_str().unwrap(),
            "--allow-precompiled",
        ],
        &v1_request(),
    );
    out.assert_refused("foreign", "not made by this host's engine configuration");
}

/// A `.cwasm` is checked and loaded as a cache entry is: its owner and mode, this engine's seal
/// and the code's checksum (unless a `--sha256` pin covered every byte), then mapped in place.
#[test]
fn precompiled_modules_are_checked_like_cache_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let cwasm = precompiled_guest("echo_request", Target::P2, tmp.path());
    let cwasm_arg = cwasm.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["--module", cwasm_arg, "--allow-precompiled"];
        args.extend_from_slice(extra);
        exec_with_stats(&args, &v1_request())
    };
    let out = run(&[]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(stats_field(&out, "code"), "precompiled");
    assert_eq!(mode_of(&cwasm), 0o644);

    std::fs::set_permissions(&cwasm, std::fs::Permissions::from_mode(0o664)).unwrap();
    let out = run(&[]);
    assert!(
        out.stderr.contains("is writable by group or others"),
        "{}",
        out.stderr
    );
    std::fs::set_permissions(&cwasm, std::fs::Permissions::from_mode(0o644)).unwrap();

    // One flipped bit in the code: refused by its checksum, or by the pin when there is one.
    let mut bytes = std::fs::read(&cwasm).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&cwasm, &bytes).unwrap();
    let out = run(&[]);
    assert!(
        out.stderr.contains("does not match its checksum"),
        "{}",
        out.stderr
    );
    bytes[middle] ^= 1;
    std::fs::write(&cwasm, &bytes).unwrap();
    let pin = sha256_hex(&bytes);
    let out = run(&["--sha256", &pin]);
    assert!(out.status.success(), "{}", out.stderr);
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// SHA-256 of `bytes`, in hex (the `--sha256` value).
fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the module with the cache and the stats line on; returns the outcome and where its code
/// came from (`compiled`, `cache`, `precompiled`).
fn run_reporting_code(module: &Path, cache: &Path) -> (Outcome, String) {
    let out = exec_with_stats(
        &[
            "--module",
            module.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &v1_request(),
    );
    let code = stats_field(&out, "code").to_owned();
    (out, code)
}

/// 16 execs missing the same entry at once (a node starting many pods) compile it once: the
/// first takes the entry's lock, the others wait for it and load the entry.
#[test]
fn sixteen_concurrent_cold_execs_compile_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P2);
    let codes: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| scope.spawn(|| run_reporting_code(&module, &cache)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let (out, code) = h.join().unwrap();
                assert!(out.status.success(), "{}", out.stderr);
                code
            })
            .collect()
    });
    let compiled = codes.iter().filter(|c| *c == "compiled").count();
    assert_eq!(compiled, 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "cache").count(),
        15,
        "{codes:?}"
    );
    only_entry(&cache);
}

/// `compile --cache-dir` fills a provider's cache, so its next exec loads the code; doing it
/// again finds the entry and leaves it.
#[test]
fn compile_fills_a_cache_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P2);
    let fill = || {
        exec(
            &[
                "compile",
                module.to_str().unwrap(),
                "--cache-dir",
                cache.to_str().unwrap(),
            ],
            b"",
        )
    };
    let first = fill();
    assert!(first.status.success(), "{}", first.stderr);
    assert!(first.stdout.contains("(compiled, "), "{}", first.stdout);
    let entry = only_entry(&cache);
    let inode = std::fs::metadata(&entry).unwrap().ino();
    let (out, code) = run_reporting_code(&module, &cache);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(code, "cache");
    let again = fill();
    assert!(
        again.stdout.contains("(already cached)"),
        "{}",
        again.stdout
    );
    assert_eq!(std::fs::metadata(&entry).unwrap().ino(), inode);
    let neither = exec(&["compile", module.to_str().unwrap()], b"");
    assert!(!neither.status.success());
}

/// Entries of another engine configuration (an earlier host version) never load again: writing
/// a new entry removes them, and so does `cache prune`, which keeps this host's entries.
#[test]
fn other_host_versions_entries_are_pruned() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let module = echo_module(tmp.path(), Target::P1);
    let plant = |name: &str| {
        std::fs::write(cache.join(name), b"old code").unwrap();
        std::fs::set_permissions(cache.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    let old = format!("{}-{}.cwasm", "ab".repeat(32), "0".repeat(16));
    plant(&old);
    plant(&format!(".lock-{old}"));
    plant("operator-notes.txt");
    // A miss writes this host's entry and removes the old one.
    assert!(run_cached(&module, &cache).status.success());
    assert!(!cache.join(&old).exists());
    assert!(!cache.join(format!(".lock-{old}")).exists());
    assert!(cache.join("operator-notes.txt").exists());
    // `cache prune` does the same on its own, and says what it removed.
    plant(&old);
    let out = exec(&["cache", "prune", cache.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("removed {}", cache.join(&old).display())),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("1 removed, 1 entry of this host kept\n"),
        "{}",
        out.stdout
    );
    assert!(!cache.join(&old).exists());
    assert_eq!(run_reporting_code(&module, &cache).1, "cache");
    let bad = exec(
        &["cache", "prune", tmp.path().join("none").to_str().unwrap()],
        b"",
    );
    assert_eq!(bad.status.code(), Some(2));
}
