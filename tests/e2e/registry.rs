//! A real registry and a real client, both from Debian's packages (`docker-registry`, the CNCF
//! distribution registry 2.8, and `skopeo`): the registry runs on 127.0.0.1 with TLS (a CA made
//! at test time) and htpasswd auth, a small image written here as an OCI layout is pushed with
//! `skopeo copy`, and credentials obtained through the host (`simulate`, running the wasm
//! `static-credentials` plugin) must pull it; a plugin answering a wrong password must not.
//!
//! Without the two binaries these tests skip with a message, unless `CI_REQUIRE_REGISTRY=1`
//! (set by `.ci/run`, which installs them), where their absence fails the tests.
//!
//! [`Registry`] and [`skopeo`] are shared with the docker credential-helper tests.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::*;

/// The registry's one user.
pub const USER: &str = "registry-robot";
/// That user's password.
pub const PASSWORD: &str = "correct-horse-7c1e";
/// The repository and tag pushed to every registry.
pub const REPO_TAG: &str = "team/app:v1";

/// Finds an executable by name on `PATH` (and in /usr/bin, where Debian installs both).
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `docker-registry` and `skopeo`, or `None` (after saying why) when the test must skip.
/// Panics instead when `CI_REQUIRE_REGISTRY=1`.
pub fn tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let registry = find_tool("docker-registry");
    let skopeo = find_tool("skopeo");
    if let (Some(registry), Some(skopeo)) = (&registry, &skopeo) {
        return Some((registry.clone(), skopeo.clone()));
    }
    let missing: Vec<&str> = [("docker-registry", &registry), ("skopeo", &skopeo)]
        .into_iter()
        .filter(|(_, found)| found.is_none())
        .map(|(name, _)| name)
        .collect();
    let message = format!(
        "{test}: {} not installed (apt-get install docker-registry skopeo)",
        missing.join(" and ")
    );
    if std::env::var("CI_REQUIRE_REGISTRY").as_deref() == Ok("1") {
        panic!("{message}, and CI_REQUIRE_REGISTRY=1 requires them");
    }
    eprintln!("SKIPPED {message}");
    None
}

/// A `docker-registry serve` on 127.0.0.1 with TLS and htpasswd auth, killed on drop.
pub struct Registry {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Config, certificates, htpasswd, storage and logs.
    pub dir: tempfile::TempDir,
    /// `skopeo`.
    pub skopeo: PathBuf,
    child: Child,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts a registry with [`USER`]/[`PASSWORD`] and pushes [`REPO_TAG`] to it, or returns
    /// `None` when the tools are absent (see [`tools`]).
    pub fn start(test: &str) -> Option<Registry> {
        Registry::start_with(test, None)
    }

    /// Like [`Registry::start`], with the registry's token authentication (the bearer
    /// challenge) delegated to `token` instead of htpasswd.
    pub fn start_with(test: &str, token: Option<&TokenServer>) -> Option<Registry> {
        let (registry_bin, skopeo) = tools(test)?;
        let dir = tempfile::tempdir().expect("tempdir");
        write_tls_files(dir.path());
        let htpasswd = format!(
            "{USER}:{}\n",
            bcrypt::hash(PASSWORD, 4).expect("bcrypt hash")
        );
        std::fs::write(dir.path().join("htpasswd"), htpasswd).expect("write htpasswd");
        std::fs::create_dir(dir.path().join("storage")).expect("storage dir");
        // A port taken between probing and binding makes the registry exit: try another.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            let mut text = registry_config(dir.path(), port);
            if let Some(token) = token {
                let htpasswd_auth = text.find("auth:\n").expect("auth section");
                text.truncate(htpasswd_auth);
                text.push_str(&token.registry_auth_config());
                std::fs::copy(
                    &token.ca_file,
                    dir.path().join("certs").join("token-ca.crt"),
                )
                .expect("token CA");
            }
            std::fs::write(&config, text).expect("write config");
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).expect("log file");
            let mut child = Command::new(&registry_bin)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .expect("spawn docker-registry");
            if wait_until_listening(&mut child, port) {
                let registry = Registry {
                    port,
                    dir,
                    skopeo,
                    child,
                };
                registry.push_test_image();
                return Some(registry);
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("docker-registry did not start listening:\n{last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `docker://127.0.0.1:PORT/team/app:v1`.
    pub fn image_ref(&self) -> String {
        format!("docker://{}/{REPO_TAG}", self.host())
    }

    /// The directory holding the test CA as `ca.crt` (for `--cert-dir`).
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Writes a one-layer image as an OCI layout and pushes it with `skopeo copy`.
    fn push_test_image(&self) {
        let layout = self.dir.path().join("layout");
        write_oci_layout(&layout, "v1");
        let creds = format!("{USER}:{PASSWORD}");
        let out = skopeo(
            self,
            &[
                "copy",
                "--dest-creds",
                &creds,
                "--dest-cert-dir",
                self.cert_dir().to_str().unwrap(),
                &format!("oci:{}:v1", layout.display()),
                &self.image_ref(),
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "push failed: {}\nregistry log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }
}

/// Waits up to 30 s for `port` on 127.0.0.1 to accept; `false` if `child` exits first.
fn wait_until_listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Runs `skopeo --insecure-policy ARGS` with an isolated HOME (no stray auth files) and
/// `extra_env`.
pub fn skopeo(registry: &Registry, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let home = registry.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut command = Command::new(&registry.skopeo);
    command
        .arg("--insecure-policy")
        .args(args)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("REGISTRY_AUTH_FILE")
        .stdin(Stdio::null());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command.output().expect("run skopeo")
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}

fn registry_config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {d}/storage\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: test-only-http-secret\n  tls:\n    certificate: {d}/server.crt\n    key: {d}/server.key\n\
         auth:\n  htpasswd:\n    realm: wasm-credential-provider-test\n    path: {d}/htpasswd\n"
    )
}

/// A test CA (`certs/ca.crt`, the directory skopeo's `--cert-dir` reads) and a server
/// certificate for 127.0.0.1 (`server.crt`, `server.key`).
fn write_tls_files(dir: &Path) {
    let ca = crate::http_servers::TestCa::with_names(&["127.0.0.1", "localhost"]);
    std::fs::create_dir(dir.join("certs")).unwrap();
    std::fs::copy(&ca.ca_file, dir.join("certs").join("ca.crt")).unwrap();
    std::fs::copy(&ca.server_cert_file, dir.join("server.crt")).unwrap();
    std::fs::copy(&ca.server_key_file, dir.join("server.key")).unwrap();
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The one layer of the test image: an uncompressed tar holding `hello.txt`.
pub fn test_layer() -> Vec<u8> {
    let content = b"hello from wasm-credential-provider\n";
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, "hello.txt", &content[..])
        .expect("tar entry");
    builder.into_inner().expect("tar")
}

/// [`test_layer`] as gzip (deterministic: no name, mtime 0): a registry client pushes a
/// compressed layer as it is, where it would compress an uncompressed one (changing its digest).
pub fn test_layer_gz() -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&test_layer()).expect("gzip");
    gz.finish().expect("gzip")
}

/// Writes an OCI image layout at `dir` holding one image tagged `tag` (one layer, its config
/// and manifest, each as a blob named by its sha256). Returns the manifest's digest.
pub fn write_oci_layout(dir: &Path, tag: &str) -> String {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).expect("blobs dir");
    let put_blob = |bytes: &[u8]| -> String {
        let digest = digest(bytes);
        std::fs::write(blobs.join(&digest["sha256:".len()..]), bytes).expect("write blob");
        digest
    };
    let layer = test_layer_gz();
    let layer_digest = put_blob(&layer);
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest(&test_layer())]},
    })
    .to_string();
    let config_digest = put_blob(config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    })
    .to_string();
    let manifest_digest = put_blob(manifest.as_bytes());
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    manifest_digest
}

/// The credentials `simulate` shows for the registry's image, with the `static-credentials`
/// plugin (this host under that name, wasm32-wasip2) configured to answer `password`.
fn credentials_through_simulate(registry: &Registry, password: &str) -> (String, String, String) {
    let node = tempfile::tempdir().expect("tempdir");
    let bin = node.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    std::os::unix::fs::symlink(HOST, bin.join("static-credentials")).expect("symlink");
    std::fs::copy(
        test_artifacts::plugin("static-credentials", Target::P2),
        bin.join("static-credentials.wasm"),
    )
    .expect("copy module");
    let config = node.path().join("credential-providers.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: kubelet.config.k8s.io/v1\n\
             kind: CredentialProviderConfig\n\
             providers:\n\
             - name: static-credentials\n  \
               matchImages: [\"{host}\"]\n  \
               defaultCacheDuration: 1m\n  \
               apiVersion: {V1}\n  \
               args: [--env=REGISTRY_USERNAME, --env=REGISTRY_PASSWORD]\n  \
               env:\n  \
               - {{name: REGISTRY_USERNAME, value: {USER}}}\n  \
               - {{name: REGISTRY_PASSWORD, value: {password}}}\n",
            host = registry.host()
        ),
    )
    .expect("write config");
    let image = format!("{}/{REPO_TAG}", registry.host());
    let out = exec(
        &[
            "simulate",
            "--output",
            "json",
            "--show-secrets",
            "--config",
            config.to_str().unwrap(),
            "--bin-dir",
            bin.to_str().unwrap(),
            &image,
        ],
        b"",
    );
    assert!(out.status.success(), "simulate failed:\n{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("simulate's JSON");
    let credentials = report["images"][0]["credentials"]
        .as_array()
        .expect("credentials");
    assert_eq!(credentials.len(), 1, "one credential in {report}");
    let field = |name: &str| credentials[0][name].as_str().expect(name).to_owned();
    assert_eq!(field("provider"), "static-credentials");
    (field("key"), field("username"), field("password"))
}

/// How skopeo authenticates a pull.
pub enum PullAuth<'a> {
    /// `USER:PASSWORD` given on the command line.
    Creds(&'a str),
    /// An `auth.json` (for its `credHelpers`).
    AuthFile(&'a Path),
}

/// Pulls the test image: `skopeo inspect`, then `skopeo copy` into an OCI layout whose layer
/// must be the one pushed. Returns whether both succeeded (and skopeo's stderr).
pub fn pull(registry: &Registry, auth: PullAuth<'_>, env: &[(&str, &str)]) -> (bool, String) {
    let cert_dir = registry.cert_dir();
    let cert_dir = cert_dir.to_str().unwrap();
    let (inspect_auth, copy_auth): ([&str; 2], [&str; 2]) = match auth {
        PullAuth::Creds(creds) => (["--creds", creds], ["--src-creds", creds]),
        PullAuth::AuthFile(path) => {
            let path = path.to_str().unwrap();
            (["--authfile", path], ["--authfile", path])
        }
    };
    let image = registry.image_ref();
    let inspect = skopeo(
        registry,
        &[
            &["inspect"],
            &inspect_auth[..],
            &["--cert-dir", cert_dir, &image],
        ]
        .concat(),
        env,
    );
    let out_dir = tempfile::tempdir().expect("tempdir");
    let destination = format!("oci:{}:pulled", out_dir.path().display());
    let copy = skopeo(
        registry,
        &[
            &["copy"],
            &copy_auth[..],
            &["--src-cert-dir", cert_dir, &image, &destination],
        ]
        .concat(),
        env,
    );
    let stderr = format!(
        "{}{}",
        String::from_utf8_lossy(&inspect.stderr),
        String::from_utf8_lossy(&copy.stderr)
    );
    assert_eq!(
        inspect.status.success(),
        copy.status.success(),
        "inspect and copy agree: {stderr}"
    );
    if copy.status.success() {
        let layer = digest(&test_layer_gz());
        let pulled = out_dir
            .path()
            .join("blobs/sha256")
            .join(&layer["sha256:".len()..]);
        assert_eq!(
            std::fs::read(&pulled).expect("the pulled layer"),
            test_layer_gz()
        );
        let inspected: Value = serde_json::from_slice(&inspect.stdout).expect("inspect JSON");
        assert_eq!(inspected["Layers"], json!([layer]), "{inspected}");
    }
    (copy.status.success(), stderr)
}

#[test]
fn oci_layout_blobs_are_named_by_their_digests() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_oci_layout(dir.path(), "v1");
    let blobs = dir.path().join("blobs/sha256");
    let mut count = 0;
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let entry = entry.unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        assert_eq!(
            digest(&bytes),
            format!("sha256:{}", entry.file_name().to_str().unwrap())
        );
        count += 1;
    }
    assert_eq!(count, 3, "layer, config and manifest");
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], json!(manifest));
    // The layer is a gzip of a tar, the same bytes every time (its digest is compared).
    let layer = test_layer();
    assert_eq!(layer.len() % 512, 0);
    assert_eq!(&layer[257..263], b"ustar\0");
    let gz = test_layer_gz();
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(gz, test_layer_gz());
}

#[test]
fn registry_pull_with_credentials_from_simulate() {
    let Some(registry) = Registry::start("registry_pull_with_credentials_from_simulate") else {
        return;
    };
    // Without credentials the registry refuses: auth is really on.
    let anonymous = skopeo(
        &registry,
        &[
            "inspect",
            "--no-creds",
            "--cert-dir",
            registry.cert_dir().to_str().unwrap(),
            &registry.image_ref(),
        ],
        &[],
    );
    assert!(
        !anonymous.status.success(),
        "an anonymous pull must be refused"
    );

    let (key, username, password) = credentials_through_simulate(&registry, PASSWORD);
    assert_eq!(key, registry.host());
    assert_eq!((username.as_str(), password.as_str()), (USER, PASSWORD));
    let (pulled, stderr) = pull(
        &registry,
        PullAuth::Creds(&format!("{username}:{password}")),
        &[],
    );
    assert!(
        pulled,
        "pull with the host's credentials failed:\n{stderr}\nregistry log:\n{}",
        registry.log()
    );
}

#[test]
fn registry_refuses_a_wrong_password_from_the_plugin() {
    let Some(registry) = Registry::start("registry_refuses_a_wrong_password_from_the_plugin")
    else {
        return;
    };
    let (key, username, password) = credentials_through_simulate(&registry, "not-the-password");
    assert_eq!(key, registry.host());
    assert_eq!(password, "not-the-password");
    let (pulled, stderr) = pull(
        &registry,
        PullAuth::Creds(&format!("{username}:{password}")),
        &[],
    );
    assert!(!pulled, "a wrong password must not pull");
    assert!(
        stderr.contains("unauthorized") || stderr.contains("authentication required"),
        "refused for authentication: {stderr}"
    );
}

// Helpers of the OCI tests (oci_*.rs), built only with the `oci` feature.
#[cfg_attr(not(feature = "oci"), allow(dead_code))]
impl Registry {
    /// `USER:PASSWORD`.
    pub fn creds(&self) -> String {
        format!("{USER}:{PASSWORD}")
    }

    /// The test CA's PEM file (for `--ca-file`).
    pub fn ca_file(&self) -> PathBuf {
        self.cert_dir().join("ca.crt")
    }

    /// Writes an auth file (`auths` with a base64 `auth`) for this registry with `password`, in
    /// `dir/name`, and returns its path.
    pub fn write_authfile(&self, dir: &Path, name: &str, password: &str) -> PathBuf {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
        let path = dir.join(name);
        std::fs::write(
            &path,
            json!({"auths": {self.host(): {"auth": auth}}}).to_string(),
        )
        .expect("write auth file");
        path
    }

    /// Copies `tag` of the OCI layout at `layout` to `repo_tag` in this registry with skopeo
    /// (`--all` for an index), as another tool publishing there would.
    pub fn skopeo_push_layout(&self, layout: &Path, tag: &str, repo_tag: &str, all: bool) {
        let creds = self.creds();
        let cert_dir = self.cert_dir();
        let source = format!("oci:{}:{tag}", layout.display());
        let destination = format!("docker://{}/{repo_tag}", self.host());
        let mut args = vec!["copy", "--dest-creds", &creds];
        args.extend(["--dest-cert-dir", cert_dir.to_str().unwrap()]);
        if all {
            // skopeo 1.9 rewrites an index it copies (so its own digest may change; the
            // manifests it lists keep theirs).
            args.push("--all");
        } else {
            args.push("--preserve-digests");
        }
        args.extend([source.as_str(), destination.as_str()]);
        let out = skopeo(self, &args, &[]);
        assert!(
            out.status.success(),
            "skopeo copy {source} {destination}: {}\nregistry log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// The file the registry serves blob `digest` from (to tamper with its storage).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = &digest["sha256:".len()..];
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

/// An OCI image layout being written: blobs named by digest, and tagged manifests or indexes
/// in `index.json`.
#[cfg_attr(not(feature = "oci"), allow(dead_code))]
pub struct OciLayout {
    dir: PathBuf,
    tags: Vec<Value>,
}

#[cfg_attr(not(feature = "oci"), allow(dead_code))]
impl OciLayout {
    /// Starts a layout at `dir`.
    pub fn new(dir: &Path) -> OciLayout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("blobs dir");
        OciLayout {
            dir: dir.to_owned(),
            tags: Vec::new(),
        }
    }

    /// Adds a blob; returns its descriptor with `media_type`.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let digest = digest(bytes);
        std::fs::write(
            self.dir
                .join("blobs/sha256")
                .join(&digest["sha256:".len()..]),
            bytes,
        )
        .expect("write blob");
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// Adds a manifest (or index) blob tagged `tag`; returns its digest.
    pub fn tag(&mut self, tag: &str, media_type: &str, manifest: &[u8]) -> String {
        let mut descriptor = self.blob(media_type, manifest);
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.tags.push(descriptor);
        digest(manifest)
    }

    /// Writes `index.json` and `oci-layout`; returns the layout's directory.
    pub fn finish(self) -> PathBuf {
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": self.tags});
        std::fs::write(self.dir.join("index.json"), index.to_string()).expect("index.json");
        std::fs::write(
            self.dir.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("oci-layout");
        self.dir
    }
}

/// The token service of a registry using bearer-token auth (distribution's `auth: token`):
/// HTTPS on 127.0.0.1 (its own test CA), checks Basic credentials for [`USER`]/[`PASSWORD`] and
/// answers a JWT (ES256, `x5c` naming its self-signed certificate, the registry's
/// `rootcertbundle`) granting what the request's `scope` asks. Records each request's target.
#[cfg_attr(not(feature = "oci"), allow(dead_code))]
pub struct TokenServer {
    /// Its port.
    pub port: u16,
    /// The CA of its TLS certificate (PEM).
    pub ca_file: PathBuf,
    /// The certificate that signs tokens (PEM), for the registry.
    pub signer_file: PathBuf,
    /// Request targets seen, with whether credentials were right.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

#[cfg_attr(not(feature = "oci"), allow(dead_code))]
impl TokenServer {
    /// Starts the service.
    pub fn start() -> TokenServer {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = crate::http_servers::TestCa::with_names(&["127.0.0.1"]);
        let ca_file = dir.path().join("token-tls-ca.pem");
        std::fs::copy(&tls.ca_file, &ca_file).expect("copy CA");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "token signer");
        let cert = params.self_signed(&key).expect("token signer cert");
        let signer_file = dir.path().join("token-signer.pem");
        std::fs::write(&signer_file, cert.pem()).expect("write signer");
        let x5c = cert.der().to_vec();
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &ring::rand::SystemRandom::new(),
        )
        .expect("ring key");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        let config = tls.server_config();
        let signer = std::sync::Arc::new(signer);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = config.clone();
                let seen = seen.clone();
                let signer = signer.clone();
                let x5c = x5c.clone();
                std::thread::spawn(move || {
                    let Ok(connection) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    answer_token_request(&mut tls, &seen, &signer, &x5c);
                });
            }
        });
        let _ = tls;
        TokenServer {
            port,
            ca_file,
            signer_file,
            requests,
            _dir: dir,
        }
    }

    fn registry_auth_config(&self) -> String {
        format!(
            "auth:\n  token:\n    realm: https://127.0.0.1:{}/token\n    service: test-registry\n    issuer: test-token-issuer\n    rootcertbundle: {}\n",
            self.port,
            self.signer_file.display()
        )
    }
}

#[cfg_attr(not(feature = "oci"), allow(dead_code))]
fn answer_token_request(
    stream: &mut (impl std::io::Read + std::io::Write),
    seen: &std::sync::Mutex<Vec<String>>,
    signer: &ring::signature::EcdsaKeyPair,
    x5c: &[u8],
) {
    use base64::Engine as _;
    let Some(head) = crate::http_servers::read_head(stream) else {
        return;
    };
    let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
    let expected = format!(
        "basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    let authorized = head.lines().any(|line| {
        line.to_ascii_lowercase().starts_with("authorization:")
            && line[14..].trim().eq_ignore_ascii_case(&expected)
    });
    seen.lock()
        .unwrap()
        .push(format!("{target} authorized={authorized}"));
    if !authorized {
        let _ = stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let scope = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("scope="))
        .map(|s| {
            s.replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%2C", ",")
        })
        .unwrap_or_default();
    let mut parts = scope.splitn(3, ':');
    let (kind, name, actions) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let b64url = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = json!({"alg": "ES256", "typ": "JWT", "x5c": [base64::engine::general_purpose::STANDARD.encode(x5c)]});
    let claims = json!({
        "iss": "test-token-issuer", "sub": USER, "aud": "test-registry",
        "exp": now + 300, "nbf": now - 10, "iat": now - 10, "jti": format!("{now}-{name}"),
        "access": [{"type": kind, "name": name, "actions": actions.split(',').filter(|a| !a.is_empty()).collect::<Vec<_>>()}],
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = signer
        .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
        .expect("sign token");
    let token = format!("{signing_input}.{}", b64url(signature.as_ref()));
    let body = json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
}
