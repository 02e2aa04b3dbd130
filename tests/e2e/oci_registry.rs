//! `push` and `pull` against a real registry (Debian's `docker-registry`, TLS with a test CA,
//! htpasswd auth, see `registry.rs`), with signatures made in the test (`oci_sigstore.rs`):
//! cosign keyed signatures, keyless and keyed Sigstore bundles as referrers, every refusal
//! (exit 1, one line, nothing written), credentials from auth files and credential helpers,
//! and a module laid out by another tool (an OCI layout copied with skopeo).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::docker_helper::{GRANT, HelperDir, NAME as HELPER_NAME, path_with};
use crate::oci_sigstore::*;
use crate::registry::{OciLayout, PASSWORD, Registry, TokenServer, USER, digest, skopeo};
use crate::support::*;

/// One run of the host with a controlled environment: no auth-file variables or HOME from
/// the tester, then `env`.
fn run(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut command = Command::new(HOST);
    command
        .args(args)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .env("HOME", "/nonexistent-home")
        .env(KUBELET_SECRET_NAME, KUBELET_SECRET_VALUE);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run the host");
    Outcome {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: std::time::Duration::ZERO,
    }
}

/// A node's scratch directory with an auth file for `registry`.
struct Node {
    dir: tempfile::TempDir,
    authfile: PathBuf,
    ca: String,
}

impl Node {
    fn new(registry: &Registry) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let authfile = registry.write_authfile(dir.path(), "auth.json", PASSWORD);
        Node {
            authfile,
            ca: registry.ca_file().display().to_string(),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    /// `push MODULE REF` with this node's auth file; returns the manifest digest.
    fn push(&self, module: &Path, reference: &str) -> String {
        let out = run(
            &[
                "push",
                module.to_str().unwrap(),
                reference,
                "--authfile",
                self.authfile.to_str().unwrap(),
                "--ca-file",
                &self.ca,
            ],
            &[],
        );
        assert!(out.status.success(), "push {reference}: {}", out.stderr);
        let digest = out.stdout.lines().last().expect("a digest line").to_owned();
        assert!(
            digest.starts_with("sha256:") && digest.len() == 71,
            "{}",
            out.stdout
        );
        digest
    }

    /// `pull REF -o OUT` with `trust`, this node's auth file and CA.
    fn pull(&self, reference: &str, out: &Path, trust: &[&str]) -> Outcome {
        let mut args = vec!["pull", reference, "-o", out.to_str().unwrap()];
        args.extend_from_slice(trust);
        args.extend([
            "--authfile",
            self.authfile.to_str().unwrap(),
            "--ca-file",
            &self.ca,
        ]);
        run(&args, &[])
    }
}

/// Asserts a pull refusal: exit 1, nothing on stdout, one line naming `needle`, no file, no
/// secret.
fn assert_refused(out: &Outcome, output: &Path, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
    assert!(
        lines[0].starts_with("wasm-credential-provider: pull: ") && lines[0].contains(needle),
        "expected {needle:?} in {:?}",
        lines[0]
    );
    assert!(!output.exists(), "{} was written", output.display());
    assert_no_secret(out);
}

fn assert_no_secret(out: &Outcome) {
    for secret in [PASSWORD, KUBELET_SECRET_VALUE] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "secret in output"
        );
    }
}

/// Asserts a pull success: the file holds `module`, its digest is the last stdout line, and
/// stderr names `signer`.
fn assert_pulled(out: &Outcome, output: &Path, module: &[u8], signer: &str) {
    assert!(out.status.success(), "pull failed: {}", out.stderr);
    assert_eq!(std::fs::read(output).expect("the pulled module"), module);
    assert_eq!(out.stdout.lines().last(), Some(digest(module).as_str()));
    assert!(
        out.stderr.contains(signer),
        "signer {signer:?} in {}",
        out.stderr
    );
    assert_no_secret(out);
}

/// The manifest bytes at `reference`, as skopeo reads them.
fn raw_manifest(registry: &Registry, reference: &str) -> Vec<u8> {
    let out = skopeo(
        registry,
        &[
            "inspect",
            "--raw",
            "--creds",
            &registry.creds(),
            "--cert-dir",
            registry.cert_dir().to_str().unwrap(),
            &format!("docker://{}/{reference}", registry.host()),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Pushes `module` with a byte appended to `repository:v1`, signs it with `key`, then changes
/// the layer's stored bytes in the registry's storage (tampering after signing); returns the
/// reference.
fn push_signed_then_tampered(
    registry: &Registry,
    node: &Node,
    key: &TestKey,
    module: &[u8],
    repository: &str,
) -> String {
    let mut bytes = module.to_vec();
    bytes.extend_from_slice(b"\x01");
    let host = registry.host();
    let reference = format!("{host}/{repository}:v1");
    let manifest = node.push(&node.write("tampered.wasm", &bytes), &reference);
    let payload = simple_signing_payload(&format!("{host}/{repository}"), &manifest);
    push_cosign_signature(
        registry,
        repository,
        &manifest,
        &payload,
        &key.sign(&payload),
    );
    let blob = registry.blob_file(&digest(&bytes));
    let mut stored = std::fs::read(&blob).expect("the stored layer");
    let last = stored.len() - 1;
    stored[last] ^= 0xff;
    std::fs::write(&blob, &stored).unwrap();
    reference
}

fn module_bytes() -> Vec<u8> {
    std::fs::read(test_artifacts::plugin("static-credentials", Target::P2)).expect("module")
}

#[test]
fn oci_push_writes_the_wasm_artifact_layout_other_tools_read() {
    let Some(registry) =
        Registry::start("oci_push_writes_the_wasm_artifact_layout_other_tools_read")
    else {
        return;
    };
    let node = Node::new(&registry);
    let module = node.write("static-credentials.wasm", &module_bytes());
    let reference = format!("{}/plugins/static-credentials:v1", registry.host());
    let manifest_digest = node.push(&module, &reference);
    let raw = raw_manifest(&registry, "plugins/static-credentials:v1");
    assert_eq!(digest(&raw), manifest_digest);
    let manifest: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(
        manifest["layers"][0]["digest"],
        json!(digest(&module_bytes()))
    );
    // A second push of the same module is the same manifest.
    assert_eq!(node.push(&module, &reference), manifest_digest);
    // Not a module: refused before any request.
    let text = node.write("notes.txt", b"not wasm");
    let out = run(
        &[
            "push",
            text.to_str().unwrap(),
            &reference,
            "--authfile",
            node.authfile.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("not a WebAssembly module"),
        "{}",
        out.stderr
    );
}

#[test]
fn oci_pull_with_a_cosign_key_and_each_refusal() {
    let Some(registry) = Registry::start("oci_pull_with_a_cosign_key_and_each_refusal") else {
        return;
    };
    let node = Node::new(&registry);
    let key = TestKey::generate();
    let other_key = TestKey::generate();
    let key_file = key.write_public(node.dir.path(), "cosign.pub");
    let other_file = other_key.write_public(node.dir.path(), "other.pub");
    let key_arg = key_file.to_str().unwrap();
    let other_arg = other_file.to_str().unwrap();
    let module = module_bytes();
    let module_file = node.write("m.wasm", &module);
    let host = registry.host();
    let v1 = format!("{host}/plugins/m:v1");
    let d1 = node.push(&module_file, &v1);
    let out_file = node.path("pulled.wasm");

    // Unsigned: refused.
    assert_refused(
        &node.pull(&v1, &out_file, &["--key", key_arg]),
        &out_file,
        "no signature",
    );

    // Signed with the key: pulls, by tag and by digest, with that key among others.
    let payload = simple_signing_payload(&format!("{host}/plugins/m"), &d1);
    push_cosign_signature(&registry, "plugins/m", &d1, &payload, &key.sign(&payload));
    assert_pulled(
        &node.pull(&v1, &out_file, &["--key", key_arg]),
        &out_file,
        &module,
        "cosign signature by key sha256:",
    );
    std::fs::remove_file(&out_file).unwrap();
    let by_digest = format!("{host}/plugins/m@{d1}");
    assert_pulled(
        &node.pull(
            &by_digest,
            &out_file,
            &["--key", other_arg, "--key", key_arg],
        ),
        &out_file,
        &module,
        "cosign signature",
    );
    std::fs::remove_file(&out_file).unwrap();

    // Another key: refused.
    assert_refused(
        &node.pull(&v1, &out_file, &["--key", other_arg]),
        &out_file,
        "does not verify",
    );

    // A signature over another digest, filed under this one's tag: refused.
    let mut other_module = module.clone();
    other_module.extend_from_slice(b"\0");
    let v2 = format!("{host}/plugins/m:v2");
    let d2 = node.push(&node.write("m2.wasm", &other_module), &v2);
    push_cosign_signature(&registry, "plugins/m", &d2, &payload, &key.sign(&payload));
    assert_refused(
        &node.pull(&v2, &out_file, &["--key", key_arg]),
        &out_file,
        "another manifest",
    );

    // --allow-unsigned takes it anyway, and says so.
    let out = node.pull(&v2, &out_file, &["--allow-unsigned"]);
    assert_pulled(&out, &out_file, &other_module, "UNVERIFIED");
    std::fs::remove_file(&out_file).unwrap();

    // A layer whose stored bytes no longer match its digest (the registry's storage
    // tampered with after signing): refused.
    let v3 = push_signed_then_tampered(&registry, &node, &key, &module, "plugins/tampered");
    assert_refused(
        &node.pull(&v3, &out_file, &["--key", key_arg]),
        &out_file,
        "does not match its digest",
    );

    // A manifest that is not a Wasm artifact (the registry's container image): refused.
    assert_refused(
        &node.pull(
            &format!("{host}/team/app:v1"),
            &out_file,
            &["--key", key_arg],
        ),
        &out_file,
        "not a Wasm artifact",
    );

    // A digest reference the registry does not have: refused.
    let missing = format!("{host}/plugins/m@sha256:{}", "0".repeat(64));
    assert_refused(
        &node.pull(&missing, &out_file, &["--key", key_arg]),
        &out_file,
        "not found",
    );

    // Usage: no trust choice, or two.
    for trust in [
        &[][..],
        &["--key", key_arg, "--allow-unsigned"][..],
        &["--certificate-identity", IDENTITY][..],
    ] {
        let out = node.pull(&v1, &out_file, trust);
        assert_eq!(out.status.code(), Some(2), "{trust:?}: {}", out.stderr);
        assert!(!out_file.exists());
    }
}

#[test]
fn oci_pull_keyless_and_keyed_sigstore_bundles_from_referrers() {
    let Some(registry) =
        Registry::start("oci_pull_keyless_and_keyed_sigstore_bundles_from_referrers")
    else {
        return;
    };
    let node = Node::new(&registry);
    let sigstore = TestSigstore::new();
    let root = node.write("trusted_root.json", sigstore.trusted_root().as_bytes());
    let root_arg = root.to_str().unwrap();
    let host = registry.host();
    let module = module_bytes();
    let out_file = node.path("pulled.wasm");

    // A keyless bundle for IDENTITY/ISSUER.
    let reference = format!("{host}/plugins/keyless:v1");
    let d = node.push(&node.write("k.wasm", &module), &reference);
    let manifest = raw_manifest(&registry, "plugins/keyless:v1");
    let bundle = sigstore.keyless_bundle(&manifest, BundleOptions::default());
    push_bundle_referrer(&registry, "plugins/keyless", &d, manifest.len(), &bundle);
    let keyless = |identity: &str, issuer: &str, root: Option<&str>| {
        let mut trust = vec![
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ];
        if let Some(root) = root {
            trust.extend(["--trusted-root", root]);
        }
        node.pull(&reference, &out_file, &trust)
    };
    assert_pulled(
        &keyless(IDENTITY, ISSUER, Some(root_arg)),
        &out_file,
        &module,
        &format!("identity {IDENTITY}"),
    );
    std::fs::remove_file(&out_file).unwrap();
    // The same bundle through verify-bundle, against the manifest digest.
    let bundle_file = node.write("bundle.json", &bundle);
    let out = run(
        &[
            "verify-bundle",
            "--bundle",
            bundle_file.to_str().unwrap(),
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            root_arg,
            &d,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
    // Another identity, another issuer, the public-good root: refused.
    let other_identity =
        "https://github.com/someone-else/plugins/.github/workflows/release.yml@refs/heads/main";
    assert_refused(
        &keyless(other_identity, ISSUER, Some(root_arg)),
        &out_file,
        "not the required identity",
    );
    assert_refused(
        &keyless(IDENTITY, "https://accounts.google.com", Some(root_arg)),
        &out_file,
        "not the required issuer",
    );
    assert_refused(
        &keyless(IDENTITY, ISSUER, None),
        &out_file,
        "no transparency log entry from a log in the trusted root",
    );

    // An expired certificate, and a log entry for another artifact: refused.
    for (repo, options, needle) in [
        (
            "expired",
            BundleOptions {
                expired_certificate: true,
                ..Default::default()
            },
            "not valid at the verified time",
        ),
        (
            "mislogged",
            BundleOptions {
                log_other_digest: true,
                ..Default::default()
            },
            "different artifact digest",
        ),
    ] {
        let reference = format!("{host}/plugins/{repo}:v1");
        let d = node.push(&node.write("x.wasm", &module), &reference);
        let manifest = raw_manifest(&registry, &format!("plugins/{repo}:v1"));
        let bundle = sigstore.keyless_bundle(&manifest, options);
        push_bundle_referrer(
            &registry,
            &format!("plugins/{repo}"),
            &d,
            manifest.len(),
            &bundle,
        );
        let out = node.pull(
            &reference,
            &out_file,
            &[
                "--certificate-identity",
                IDENTITY,
                "--certificate-oidc-issuer",
                ISSUER,
                "--trusted-root",
                root_arg,
            ],
        );
        assert_refused(&out, &out_file, needle);
    }

    // A keyed bundle: pulls with its key, refused with another.
    let key = TestKey::generate();
    let key_file = key.write_public(node.dir.path(), "bundle-key.pub");
    let other_file = TestKey::generate().write_public(node.dir.path(), "other.pub");
    let reference = format!("{host}/plugins/keyed:v1");
    let d = node.push(&node.write("keyed.wasm", &module), &reference);
    let manifest = raw_manifest(&registry, "plugins/keyed:v1");
    push_bundle_referrer(
        &registry,
        "plugins/keyed",
        &d,
        manifest.len(),
        &sigstore.keyed_bundle(&manifest, &key),
    );
    let out = node.pull(
        &reference,
        &out_file,
        &[
            "--key",
            key_file.to_str().unwrap(),
            "--trusted-root",
            root_arg,
        ],
    );
    assert_pulled(&out, &out_file, &module, "Sigstore bundle by key sha256:");
    std::fs::remove_file(&out_file).unwrap();
    let out = node.pull(
        &reference,
        &out_file,
        &[
            "--key",
            other_file.to_str().unwrap(),
            "--trusted-root",
            root_arg,
        ],
    );
    assert_refused(&out, &out_file, "with any of the given keys");
}

#[test]
fn oci_credentials_from_auth_files_and_credential_helpers() {
    let Some(registry) = Registry::start("oci_credentials_from_auth_files_and_credential_helpers")
    else {
        return;
    };
    let node = Node::new(&registry);
    let module = module_bytes();
    let reference = format!("{}/plugins/auth:v1", registry.host());
    node.push(&node.write("a.wasm", &module), &reference);
    let out_file = node.path("pulled.wasm");
    let pull = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "pull",
            reference.as_str(),
            "-o",
            out_file.to_str().unwrap(),
            "--allow-unsigned",
            "--ca-file",
            &node.ca,
        ];
        args.extend_from_slice(extra);
        run(&args, env)
    };
    let pulled = |out: &Outcome, source: &str| {
        assert_pulled(out, &out_file, &module, source);
        std::fs::remove_file(&out_file).unwrap();
    };

    // No credentials anywhere: anonymous, which this registry refuses.
    assert_refused(&pull(&[], &[]), &out_file, "unauthorized");
    // --authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, ~/.docker/config.json.
    pulled(
        &pull(&["--authfile", node.authfile.to_str().unwrap()], &[]),
        "auths[",
    );
    pulled(
        &pull(
            &[],
            &[("REGISTRY_AUTH_FILE", node.authfile.to_str().unwrap())],
        ),
        "auth.json",
    );
    let docker_config = node.path("docker-config");
    std::fs::create_dir(&docker_config).unwrap();
    registry.write_authfile(&docker_config, "config.json", PASSWORD);
    pulled(
        &pull(&[], &[("DOCKER_CONFIG", docker_config.to_str().unwrap())]),
        "docker-config/config.json",
    );
    let home = node.path("home");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    registry.write_authfile(&home.join(".docker"), "config.json", PASSWORD);
    pulled(
        &pull(&[], &[("HOME", home.to_str().unwrap())]),
        ".docker/config.json",
    );
    // --authfile wins over the environment's files.
    let wrong = registry.write_authfile(node.dir.path(), "wrong.json", "not-the-password-5d1");
    let out = pull(
        &["--authfile", wrong.to_str().unwrap()],
        &[("REGISTRY_AUTH_FILE", node.authfile.to_str().unwrap())],
    );
    assert_refused(&out, &out_file, "unauthorized");
    assert!(!out.stderr.contains("not-the-password-5d1"));
    // A named auth file that does not exist.
    assert_refused(
        &pull(&["--authfile", "/nonexistent/auth.json"], &[]),
        &out_file,
        "/nonexistent/auth.json",
    );

    // credHelpers: this host's own docker credential front, running static-credentials.wasm.
    let helper = HelperDir::new(&GRANT);
    let helper_auth = node.write(
        "helpers.json",
        json!({"credHelpers": {registry.host(): HELPER_NAME}})
            .to_string()
            .as_bytes(),
    );
    let path = path_with(helper.path());
    let env = [
        ("PATH", path.to_str().unwrap()),
        ("REGISTRY_USERNAME", USER),
        ("REGISTRY_PASSWORD", PASSWORD),
    ];
    pulled(
        &pull(&["--authfile", helper_auth.to_str().unwrap()], &env),
        &format!("docker-credential-{HELPER_NAME}"),
    );
    let env = [
        ("PATH", path.to_str().unwrap()),
        ("REGISTRY_USERNAME", USER),
        ("REGISTRY_PASSWORD", "helper-wrong-7f2"),
    ];
    let out = pull(&["--authfile", helper_auth.to_str().unwrap()], &env);
    assert_refused(&out, &out_file, "unauthorized");
    assert!(!out.stderr.contains("helper-wrong-7f2"));
}

#[test]
fn oci_a_module_laid_out_by_another_tool_pulls() {
    let Some(registry) = Registry::start("oci_a_module_laid_out_by_another_tool_pulls") else {
        return;
    };
    let node = Node::new(&registry);
    let module = module_bytes();
    // The Wasm OCI artifact layout as wkg writes it, in an OCI image layout, copied by skopeo.
    let layout_dir = node.path("layout");
    let mut layout = OciLayout::new(&layout_dir);
    let mut layer = layout.blob("application/wasm", &module);
    layer["annotations"] = json!({"org.opencontainers.image.title": "static-credentials.wasm"});
    let config = json!({
        "created": "2026-01-01T00:00:00Z", "architecture": "wasm", "os": "wasip2",
        "layerDigests": [digest(&module)],
        "component": {"exports": ["wasi:cli/run@0.2.0"], "imports": ["wasi:cli/stdin@0.2.0"]}
    })
    .to_string();
    let config = layout.blob("application/vnd.wasm.config.v0+json", config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.wasm.config.v0+json",
        "config": config, "layers": [layer],
        "annotations": {"org.opencontainers.image.version": "1.0.0"}
    })
    .to_string();
    let manifest_digest = layout.tag(
        "1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    );
    let layout_dir = layout.finish();
    registry.skopeo_push_layout(
        &layout_dir,
        "1.0.0",
        "vendor/static-credentials:1.0.0",
        false,
    );
    let key = TestKey::generate();
    let payload = simple_signing_payload(
        &format!("{}/vendor/static-credentials", registry.host()),
        &manifest_digest,
    );
    push_cosign_signature(
        &registry,
        "vendor/static-credentials",
        &manifest_digest,
        &payload,
        &key.sign(&payload),
    );
    let out_file = node.path("pulled.wasm");
    let key_file = key.write_public(node.dir.path(), "vendor.pub");
    let out = node.pull(
        &format!("{}/vendor/static-credentials:1.0.0", registry.host()),
        &out_file,
        &["--key", key_file.to_str().unwrap()],
    );
    assert_pulled(&out, &out_file, &module, "cosign signature");
}

#[test]
fn oci_the_registrys_bearer_token_challenge_is_followed() {
    let token = TokenServer::start();
    let Some(registry) = Registry::start_with(
        "oci_the_registrys_bearer_token_challenge_is_followed",
        Some(&token),
    ) else {
        return;
    };
    let node = Node::new(&registry);
    // --ca-file holds both CAs: the registry's and the token service's.
    let cas = node.write(
        "cas.pem",
        format!(
            "{}{}",
            std::fs::read_to_string(registry.ca_file()).unwrap(),
            std::fs::read_to_string(&token.ca_file).unwrap()
        )
        .as_bytes(),
    );
    let node = Node {
        ca: cas.display().to_string(),
        ..node
    };
    let module = module_bytes();
    let reference = format!("{}/plugins/bearer:v1", registry.host());
    node.push(&node.write("b.wasm", &module), &reference);
    let out_file = node.path("pulled.wasm");
    assert_pulled(
        &node.pull(&reference, &out_file, &["--allow-unsigned"]),
        &out_file,
        &module,
        "UNVERIFIED",
    );
    let seen = token.requests.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|r| r.contains("repository%3Aplugins%2Fbearer%3Apull")
                || r.contains("repository:plugins/bearer:pull"))
            && seen.iter().all(|r| r.ends_with("authorized=true")),
        "token requests: {seen:?}"
    );
    // Without credentials the token service refuses, and so the pull.
    std::fs::remove_file(&out_file).unwrap();
    let out = run(
        &[
            "pull",
            &reference,
            "-o",
            out_file.to_str().unwrap(),
            "--allow-unsigned",
            "--ca-file",
            &node.ca,
        ],
        &[],
    );
    assert_refused(&out, &out_file, "");
}

/// The config of `install --module static-credentials=oci://...`: the provider's args do not
/// pin the module (`pin` adds one that does).
fn install_config(pin: Option<&str>) -> String {
    let pin = pin.map_or(String::new(), |hex| format!("      - --sha256={hex}\n"));
    format!(
        "apiVersion: kubelet.config.k8s.io/v1\n\
         kind: CredentialProviderConfig\n\
         providers:\n  \
           - name: static-credentials\n    \
             matchImages: [\"registry.example.com\"]\n    \
             defaultCacheDuration: 10m\n    \
             apiVersion: {V1}\n    \
             args:\n{pin}      \
               - --env=REGISTRY_USERNAME\n      \
               - --env=REGISTRY_PASSWORD\n    \
             env:\n      \
               - {{name: REGISTRY_USERNAME, value: robot}}\n      \
               - {{name: REGISTRY_PASSWORD, value: example-password}}\n"
    )
}

/// `install --module NAME=oci://REF` pulls and verifies with the same trust flags as `pull`,
/// writes the module, pins the provider to the verified digest in the installed config (or
/// checks the pin it has), records what came from where, and changes nothing on a re-run;
/// an unsigned, wrongly signed, tampered or differently pinned module installs nothing (the
/// keyless identity checks are `pull`'s, the same code: see the Sigstore bundle test). The run mode
/// refuses a registry reference.
#[test]
fn oci_install_from_a_registry_pins_and_records_the_verified_module() {
    let Some(registry) = Registry::start("oci_install_from_a_registry") else {
        return;
    };
    let node = Node::new(&registry);
    let key = TestKey::generate();
    let key_file = key.write_public(node.dir.path(), "cosign.pub");
    let other_file = TestKey::generate().write_public(node.dir.path(), "other.pub");
    let module = module_bytes();
    let hex = digest(&module).trim_start_matches("sha256:").to_owned();
    let host = registry.host();
    let reference = format!("{host}/plugins/static:v1");
    let manifest = node.push(&node.write("m.wasm", &module), &reference);
    let payload = simple_signing_payload(&format!("{host}/plugins/static"), &manifest);
    push_cosign_signature(
        &registry,
        "plugins/static",
        &manifest,
        &payload,
        &key.sign(&payload),
    );
    let unsigned = format!("{host}/plugins/static:unsigned");
    let mut other_module = module.clone();
    other_module.extend_from_slice(b"\0");
    node.push(&node.write("m2.wasm", &other_module), &unsigned);

    let tampered = push_signed_then_tampered(&registry, &node, &key, &module, "plugins/tampered");

    let binary = node.write("host-stand-in", b"\x7fELF\x02\x01\x01\0stand-in host");
    let install = |root: &Path, config: &str, reference: &str, key: &Path| {
        std::fs::create_dir_all(root).unwrap();
        let config_file = node.write("config.yaml", config.as_bytes());
        run(
            &[
                "install",
                "--root",
                root.to_str().unwrap(),
                "--config",
                config_file.to_str().unwrap(),
                "--module",
                &format!("static-credentials=oci://{reference}"),
                "--key",
                key.to_str().unwrap(),
                "--authfile",
                node.authfile.to_str().unwrap(),
                "--ca-file",
                &node.ca,
                "--binary",
                binary.to_str().unwrap(),
            ],
            &[],
        )
    };
    let root = node.path("root");
    let bin = root.join("usr/libexec/kubernetes/credential-providers");
    let config_dir = root.join("etc/kubernetes/credential-providers.d");
    let out = install(&root, &install_config(None), &reference, &key_file);
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert_no_secret(&out);
    assert_eq!(
        std::fs::read(bin.join("static-credentials.wasm")).unwrap(),
        module
    );
    let installed =
        std::fs::read_to_string(config_dir.join("wasm-credential-provider.yaml")).unwrap();
    assert!(
        installed.contains(&format!("      - \"--sha256={hex}\"\n")),
        "the pin in the installed config:\n{installed}"
    );
    let record: Value = serde_json::from_slice(
        &std::fs::read(config_dir.join("wasm-credential-provider.installed")).unwrap(),
    )
    .unwrap();
    let entry = &record["installed"][0];
    assert_eq!(entry["provider"], "static-credentials");
    assert_eq!(entry["digest"], format!("sha256:{hex}"));
    assert_eq!(entry["reference"], format!("oci://{reference}"));
    assert!(
        entry["signer"]
            .as_str()
            .unwrap()
            .contains("cosign signature by key"),
        "{record}"
    );
    // The installed provider runs the pinned module, offline.
    let answer = exec(
        &[
            "--module",
            bin.join("static-credentials.wasm").to_str().unwrap(),
            "--sha256",
            &hex,
            "--env=REGISTRY_USERNAME=robot",
            "--env=REGISTRY_PASSWORD=example-password",
        ],
        &v1_request(),
    );
    assert!(answer.status.success(), "{}", answer.stderr);

    // A re-run changes nothing.
    let again = install(&root, &install_config(None), &reference, &key_file);
    assert!(again.status.success(), "{}", again.stderr);
    for line in again.stdout.lines().filter(|l| {
        l.contains(": ")
            && !l.starts_with("node root")
            && !l.starts_with("kubelet flags")
            && !l.contains(" file")
    }) {
        assert!(
            line.contains("unchanged") || line.contains("native provider"),
            "{line}\n{}",
            again.stdout
        );
    }
    // A pin already there is checked, and kept.
    let pinned = install_config(Some(&hex));
    let out = install(&node.path("root-pinned"), &pinned, &reference, &key_file);
    assert!(out.status.success(), "{}", out.stderr);

    // Refused, with nothing written: another key, an unsigned module, a pin for another module.
    let other_pin = "0".repeat(64);
    for (name, config, reference, key, needle) in [
        (
            "other-key",
            install_config(None),
            reference.clone(),
            other_file.clone(),
            "does not verify",
        ),
        (
            "unsigned",
            install_config(None),
            unsigned.clone(),
            key_file.clone(),
            "no signature",
        ),
        (
            "tampered",
            install_config(None),
            tampered.clone(),
            key_file.clone(),
            "does not match its digest",
        ),
        (
            "pinned-elsewhere",
            install_config(Some(&other_pin)),
            reference.clone(),
            key_file.clone(),
            "pins sha256:0000",
        ),
    ] {
        let root = node.path(name);
        let out = install(&root, &config, &reference, &key);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(out.stderr.contains(needle), "{name}: {}", out.stderr);
        assert_eq!(
            std::fs::read_dir(&root).unwrap().count(),
            0,
            "{name}: something was written"
        );
        assert_no_secret(&out);
    }

    // Unusable trust flags are bad usage (exit 2), as for `pull`, and write nothing.
    let config_file = node.write("config.yaml", install_config(None).as_bytes());
    let usage_root = node.path("two-trusts");
    std::fs::create_dir_all(&usage_root).unwrap();
    let out = run(
        &[
            "install",
            "--root",
            usage_root.to_str().unwrap(),
            "--config",
            config_file.to_str().unwrap(),
            "--module",
            &format!("static-credentials=oci://{reference}"),
            "--key",
            key_file.to_str().unwrap(),
            "--allow-unsigned",
            "--binary",
            binary.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("choose exactly one trust"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_dir(&usage_root).unwrap().count(), 0);

    // The run mode never touches a registry.
    let out = exec(&["--module", &format!("oci://{reference}")], &v1_request());
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("a registry reference is install-time only"),
        "{}",
        out.stderr
    );
}
