//! Module files: digest pinning, missing files, files that are not wasm.

use sha2::{Digest, Sha256};

use crate::support::*;

fn digest_of(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn matching_digest_runs() {
    for target in Target::ALL {
        let module = test_artifacts::guest("echo_request", target);
        let digest = digest_of(&module);
        let pinned = format!("sha256:{digest}");
        for pin in [digest.as_str(), pinned.as_str()] {
            let out = exec(
                &["--module", module.to_str().unwrap(), "--sha256", pin],
                &v1_request(),
            );
            out.json();
        }
    }
}

#[test]
fn tampered_module_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let original = test_artifacts::guest("echo_request", Target::P2);
    let digest = digest_of(&original);
    let mut bytes = std::fs::read(&original).unwrap();
    // Flip one byte in a custom-section-free tail: still plausible wasm framing, other digest.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = dir.path().join("echo_request.wasm");
    std::fs::write(&tampered, &bytes).unwrap();
    let out = exec(
        &["--module", tampered.to_str().unwrap(), "--sha256", &digest],
        &v1_request(),
    );
    out.assert_refused("echo_request", "refusing to run it");
    assert!(out.stderr.contains(&digest), "names the pinned digest");
}

#[test]
fn missing_module_is_refused() {
    let out = exec(&["--module", "/nonexistent/provider.wasm"], &v1_request());
    out.assert_refused(
        "provider",
        "module /nonexistent/provider.wasm does not exist",
    );
}

#[test]
fn non_wasm_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "this is not wasm").unwrap();
    let out = exec(&["--module", text.to_str().unwrap()], &v1_request());
    out.assert_refused("notes", "is not a WebAssembly module or component");

    let native = dir.path().join("native");
    std::fs::copy("/bin/true", &native).unwrap();
    let out = exec(&["--module", native.to_str().unwrap()], &v1_request());
    out.assert_refused("native", "is not a WebAssembly module or component");

    // Right magic, garbage after it.
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"\0asm\x01\0\0\0\xff\xff\xff").unwrap();
    let out = exec(&["--module", broken.to_str().unwrap()], &v1_request());
    out.assert_refused("broken", "module does not compile");

    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, b"").unwrap();
    let out = exec(&["--module", empty.to_str().unwrap()], &v1_request());
    out.assert_refused("empty", "is not a WebAssembly module or component");
}

#[test]
fn a_directory_is_not_a_module() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("provider.wasm");
    std::fs::create_dir(&sub).unwrap();
    let out = exec(&["--module", sub.to_str().unwrap()], &v1_request());
    out.assert_refused("provider", "is a directory, not a regular file");
}

/// Writes `text` (wasm text format: a core module or a component) as a binary module file.
fn module_from_text(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(text).unwrap()).unwrap();
    path
}

#[test]
fn a_core_module_importing_what_the_host_does_not_link_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    // Would print a (valid-looking) response at once if it ever started.
    let module = module_from_text(
        dir.path(),
        "greedy.wasm",
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
            (import "env" "host_secret" (func))
            (import "wasi_snapshot_preview1" "fd_bogus" (func))
            (import "env" "host_secret" (func))
            (memory (export "memory") 1)
            (data (i32.const 16) "started\n")
            (func (export "_start")
                (i32.store (i32.const 0) (i32.const 16))
                (i32.store (i32.const 4) (i32.const 8))
                (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
    );
    let out = exec(&["--module", module.to_str().unwrap()], &v1_request());
    out.assert_refused(
        "greedy",
        "module imports what this host does not provide, so it was not started: \
         env::host_secret, wasi_snapshot_preview1::fd_bogus",
    );
}

#[test]
fn a_component_importing_what_the_host_does_not_link_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    // wasmtime alone would accept these imports (instances with no exports need nothing);
    // the host's import policy names every interface it links and refuses the rest.
    let component = module_from_text(
        dir.path(),
        "vault.wasm",
        r#"(component
            (import "wasi:cli/stdout@0.2.6" (instance))
            (import "acme:secrets/vault" (instance))
            (import "wasi:keyvalue/store@0.2.0-draft" (instance))
            (import "wasi:http/incoming-handler@0.2.6" (instance)))"#,
    );
    let out = exec(&["--module", component.to_str().unwrap()], &v1_request());
    out.assert_refused(
        "vault",
        "so it was not started: acme:secrets/vault, wasi:keyvalue/store@0.2.0-draft, \
         wasi:http/incoming-handler@0.2.6",
    );
}

#[test]
fn proposals_the_host_turns_off_do_not_compile() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "two_memories",
            "(module (memory 1) (memory 1) (func (export \"_start\")))",
        ),
        (
            "memory64",
            "(module (memory i64 1) (func (export \"_start\")))",
        ),
    ] {
        let module = module_from_text(dir.path(), &format!("{name}.wasm"), text);
        let out = exec(&["--module", module.to_str().unwrap()], &v1_request());
        out.assert_refused(name, "module does not compile");
    }
}

/// A core module of `functions` empty `() -> ()` functions, each declaring `locals` i32 locals
/// (written directly: the text form of the hostile one would be gigabytes).
fn many_functions(functions: u32, locals: u32) -> Vec<u8> {
    busy_functions(functions, locals, 0)
}

/// Like [`many_functions`], each body doing `adds` additions of its locals (`locals` > `adds`+2).
fn busy_functions(functions: u32, locals: u32, adds: u32) -> Vec<u8> {
    fn leb(mut n: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(payload.len() as u32, out);
        out.extend_from_slice(payload);
    }
    let mut body = vec![1];
    leb(locals, &mut body);
    body.push(0x7f);
    for i in 0..adds {
        // local.get i; local.get i+1; i32.add; local.set i+2
        body.push(0x20);
        leb(i, &mut body);
        body.push(0x20);
        leb(i + 1, &mut body);
        body.push(0x6a);
        body.push(0x21);
        leb(i + 2, &mut body);
    }
    body.push(0x0b);
    let mut funcs = Vec::new();
    leb(functions, &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, functions as usize));
    let mut code = Vec::new();
    leb(functions, &mut code);
    for _ in 0..functions {
        leb(body.len() as u32, &mut code);
        code.extend_from_slice(&body);
    }
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut out);
    section(3, &funcs, &mut out);
    section(10, &code, &mut out);
    out
}

/// 30,000 functions of 50,000 locals each (240 KB) took 52 s to compile; 400,000 empty ones 61 s
/// and 2.2 GB. Both are refused before the compiler sees them, naming the bound, every time
/// and with or without a cache; a module of a real plugin's shape compiles.
#[test]
fn modules_too_costly_to_compile_are_refused_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, bound) in [
        (
            "locals",
            many_functions(30_000, 50_000),
            "the number of locals in all functions is 1500000000, over the limit of 4000000",
        ),
        (
            "functions",
            many_functions(400_000, 0),
            "the number of functions is 400000, over the limit of 60000",
        ),
    ] {
        let path = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        let cache = dir.path().join("cache");
        for args in [vec![], vec!["--cache-dir", cache.to_str().unwrap()]] {
            let mut all = vec!["--module", path.to_str().unwrap()];
            all.extend(args);
            let out = exec(&all, &v1_request());
            out.assert_refused(name, "module is too costly to compile");
            assert!(out.stderr.contains(bound), "{}", out.stderr);
        }
        let out = exec_program(
            std::path::Path::new(HOST),
            &["compile", path.to_str().unwrap(), "-o", "/dev/null"],
            b"",
            &[],
        );
        assert!(!out.status.success());
        assert!(out.stderr.contains(bound), "{}", out.stderr);
    }
    let fine = dir.path().join("fine.wasm");
    std::fs::write(&fine, many_functions(2_000, 20)).unwrap();
    let out = exec_program(
        std::path::Path::new(HOST),
        &[
            "compile",
            fine.to_str().unwrap(),
            "-o",
            dir.path().join("fine.cwasm").to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
}

/// A module within every complexity bound that still takes long to compile (50,000 busy
/// functions: about 15 s here) is stopped at `--timeout`, compiling included, with or without a
/// cache, and says so.
#[test]
fn compiling_counts_against_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.wasm");
    std::fs::write(&path, busy_functions(50_000, 60, 50)).unwrap();
    let cache = dir.path().join("cache");
    for args in [vec![], vec!["--cache-dir", cache.to_str().unwrap()]] {
        let mut all = vec!["--module", path.to_str().unwrap(), "--timeout", "1s"];
        all.extend(args);
        let out = exec(&all, &v1_request());
        out.assert_refused("slow", "module did not compile within the 1s time limit");
        assert!(
            out.elapsed < std::time::Duration::from_secs(4),
            "ran {:?}",
            out.elapsed
        );
    }
}

/// A FIFO as `--module` would block the open forever: it is refused at once, by what it is.
#[test]
fn a_module_path_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.wasm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let out = exec(
        &["--module", fifo.to_str().unwrap(), "--timeout", "2s"],
        &v1_request(),
    );
    out.assert_refused("fifo", "is a FIFO, not a regular file");
    let out = exec(&["--module", "/dev/zero"], &v1_request());
    out.assert_refused("zero", "is a character device, not a regular file");
}
