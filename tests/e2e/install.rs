//! `install` through the built binary, against a temporary directory standing for a node's
//! root: what lands where with which modes, that the kubelet-side checks pass and the installed
//! provider answers, and that a wrong digest or a planted symlink changes nothing it should not.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::support::*;

const BIN_DIR: &str = "/usr/libexec/kubernetes/credential-providers";
const CONFIG_DIR: &str = "/etc/kubernetes/credential-providers.d";
const CONFIG_NAME: &str = "wasm-credential-provider.yaml";
const PROVIDER: &str = "static-credentials";

/// A node root, the image's side (config and modules), and the paths between them.
struct Node {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    modules: PathBuf,
    /// A stand-in for the host binary where the test does not exec it (the debug build is
    /// hundreds of MiB).
    small_binary: PathBuf,
}

impl Node {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("node");
        std::fs::create_dir(&root).expect("node root");
        let modules = tmp.path().join("image/modules");
        std::fs::create_dir_all(&modules).expect("modules dir");
        std::fs::copy(
            test_artifacts::plugin(PROVIDER, Target::P2),
            modules.join(format!("{PROVIDER}.wasm")),
        )
        .expect("copy module");
        let small_binary = tmp.path().join("image/small-host");
        std::fs::write(&small_binary, b"\x7fELF\x02\x01\x01\0stand-in host").expect("binary");
        let config = tmp.path().join("image/credential-providers.yaml");
        let node = Node {
            root,
            config,
            modules,
            small_binary,
            _tmp: tmp,
        };
        node.write_config(&node.module_digest());
        node
    }

    fn module(&self) -> PathBuf {
        self.modules.join(format!("{PROVIDER}.wasm"))
    }

    fn module_digest(&self) -> String {
        sha256_of(&self.module())
    }

    fn write_config(&self, pin: &str) {
        std::fs::write(&self.config, config_text(pin)).expect("write config");
    }

    /// A path on the node, beneath the root.
    fn path(&self, node_path: &str) -> PathBuf {
        self.root.join(node_path.trim_start_matches('/'))
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.path(BIN_DIR).join(name)
    }

    fn installed_config(&self) -> PathBuf {
        self.path(CONFIG_DIR).join(CONFIG_NAME)
    }

    /// Runs `install` for this node with `extra` args.
    fn install(&self, extra: &[&str]) -> Outcome {
        let mut args = vec![
            "install",
            "--root",
            self.root.to_str().unwrap(),
            "--config",
            self.config.to_str().unwrap(),
            "--modules",
            self.modules.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        exec(&args, b"")
    }

    fn install_small(&self) -> Outcome {
        self.install(&["--binary", self.small_binary.to_str().unwrap()])
    }
}

fn config_text(pin: &str) -> String {
    format!(
        "apiVersion: kubelet.config.k8s.io/v1\n\
         kind: CredentialProviderConfig\n\
         providers:\n\
         - name: {PROVIDER}\n  \
           matchImages: [\"registry.example.com\"]\n  \
           defaultCacheDuration: 10m\n  \
           apiVersion: {V1}\n  \
           args:\n  \
           - --sha256={pin}\n  \
           - --env=REGISTRY_USERNAME\n  \
           - --env=REGISTRY_PASSWORD\n  \
           - --allow-auth-key=registry.example.com\n  \
           - --memory=32Mi\n  \
           - --timeout=10s\n  \
           env:\n  \
           - {{name: REGISTRY_USERNAME, value: robot}}\n  \
           - {{name: REGISTRY_PASSWORD, value: example-password}}\n"
    )
}

fn sha256_of(path: &Path) -> String {
    let out = exec(&["inspect", path.to_str().unwrap()], b"");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("sha256:"))
        .map(|rest| rest.trim().trim_start_matches("sha256:").to_owned())
        .unwrap_or_else(|| panic!("no sha256 line: {}{}", out.stdout, out.stderr))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

/// (inode, bytes) of every file the installation consists of, to show nothing changed.
fn snapshot(node: &Node) -> Vec<(PathBuf, u64, Vec<u8>)> {
    [
        node.bin("wasm-credential-provider"),
        node.bin(&format!("{PROVIDER}.wasm")),
        node.installed_config(),
    ]
    .into_iter()
    .map(|path| {
        let meta = std::fs::metadata(&path).expect("installed file");
        let bytes = std::fs::read(&path).expect("read");
        (path, meta.ino(), bytes)
    })
    .collect()
}

/// No temporary file is left in a destination directory.
fn assert_no_temp_files(node: &Node) {
    for dir in [node.path(BIN_DIR), node.path(CONFIG_DIR)] {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                !name.contains(".tmp-"),
                "left over: {}/{name}",
                dir.display()
            );
        }
    }
}

/// The error contract: exit 1, nothing written on stdout, one line on stderr containing `needle`.
fn assert_refused(out: &Outcome, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    // A config the kubelet refuses: one line saying so, then the kubelet's own text verbatim
    // (it may span lines, as its YAML errors do).
    if lines.len() > 1 && lines[0].ends_with("the kubelet refuses to start with this config:") {
        assert!(lines[0].starts_with("wasm-credential-provider: install: "));
        assert!(
            lines[1..].join("\n").contains(needle),
            "expected {needle:?} in {:?}",
            out.stderr
        );
        return;
    }
    assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
    assert!(
        lines[0].starts_with("wasm-credential-provider: install: ") && lines[0].contains(needle),
        "expected {needle:?} in {:?}",
        lines[0]
    );
}

#[test]
fn installs_a_provider_the_kubelet_can_run_and_reruns_change_nothing() {
    let node = Node::new();
    let out = node.install(&[]);
    assert!(out.status.success(), "install failed: {}", out.stderr);
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout.contains(&format!(
            "{BIN_DIR}/{PROVIDER}.wasm: installed (from {}, sha256:{} matches",
            node.module().display(),
            node.module_digest()
        )),
        "{}",
        out.stdout
    );

    // The binary, a copy of the one under test; the module; the link; the config, verbatim.
    let binary = node.bin("wasm-credential-provider");
    assert_eq!(mode(&binary), 0o755);
    assert!(same_contents(&binary, Path::new(HOST)));
    let module = node.bin(&format!("{PROVIDER}.wasm"));
    assert_eq!(mode(&module), 0o644);
    assert_eq!(
        std::fs::read(&module).unwrap(),
        std::fs::read(node.module()).unwrap()
    );
    let link = node.bin(PROVIDER);
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        PathBuf::from("wasm-credential-provider")
    );
    assert_eq!(mode(&node.installed_config()), 0o600);
    assert_eq!(
        std::fs::read(node.installed_config()).unwrap(),
        std::fs::read(&node.config).unwrap()
    );
    assert_no_temp_files(&node);

    // The kubelet's checks: the config directory and the bin dir as the kubelet gets them.
    let check = exec(
        &[
            "check-config",
            node.path(CONFIG_DIR).to_str().unwrap(),
            "--bin-dir",
            node.path(BIN_DIR).to_str().unwrap(),
        ],
        b"",
    );
    assert!(check.status.success(), "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains(": valid (1 file"), "{}", check.stdout);
    assert!(
        check.stdout.contains(&format!(
            "runs wasm-credential-provider: module {} (sha256:{})",
            module.display(),
            node.module_digest()
        )),
        "{}",
        check.stdout
    );
    assert!(!check.stdout.contains("warning"), "{}", check.stdout);

    // The kubelet execs <bin-dir>/<name> with the provider's args and env.
    let args = [
        format!("--sha256={}", node.module_digest()),
        "--env=REGISTRY_USERNAME".into(),
        "--env=REGISTRY_PASSWORD".into(),
        "--allow-auth-key=registry.example.com".into(),
        "--memory=32Mi".into(),
        "--timeout=10s".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let answer = exec_program(
        &link,
        &args,
        &request(V1, "registry.example.com/team/app:v1"),
        &[
            ("REGISTRY_USERNAME", "robot"),
            ("REGISTRY_PASSWORD", "example-password"),
        ],
    );
    assert_eq!(
        only_credential(&answer.json()),
        (
            "registry.example.com".to_owned(),
            "robot".to_owned(),
            "example-password".to_owned()
        )
    );

    // Again: every file is already right, so nothing is rewritten.
    let before = snapshot(&node);
    let again = node.install(&[]);
    assert!(again.status.success(), "{}", again.stderr);
    let states: Vec<&str> = again
        .stdout
        .lines()
        .filter(|l| l.starts_with('/') && !l.contains("config hash"))
        .collect();
    assert_eq!(states.len(), 4, "{}", again.stdout);
    assert!(
        states.iter().all(|l| l.contains(": unchanged")),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot(&node), before);
    assert_no_temp_files(&node);
    // The config hash the kubelet will export is the one check-config computes.
    let hash_line = |text: &str| {
        text.lines()
            .find(|l| l.contains("config hash"))
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_owned())
    };
    assert_eq!(hash_line(&again.stdout), hash_line(&out.stdout));
    let hash = hash_line(&out.stdout).expect("config hash line");
    assert!(check.stdout.contains(&hash), "{}", check.stdout);
}

/// Whether two (possibly large) files have the same bytes, compared in chunks.
fn same_contents(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut a, mut b) = (
        std::fs::File::open(a).expect("open"),
        std::fs::File::open(b).expect("open"),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x).expect("read");
        let mut m = 0;
        while m < n {
            let k = b.read(&mut y[m..n]).expect("read");
            if k == 0 {
                return false;
            }
            m += k;
        }
        if x[..n] != y[..n] {
            return false;
        }
        if n == 0 {
            return b.read(&mut y).expect("read") == 0;
        }
    }
}

#[test]
fn a_digest_mismatch_is_refused_and_the_previous_installation_stays() {
    let node = Node::new();
    let first = node.install_small();
    assert!(first.status.success(), "{}", first.stderr);
    let before = snapshot(&node);

    // A new module in the image that the config does not pin.
    std::fs::copy(test_artifacts::plugin(PROVIDER, Target::P1), node.module()).unwrap();
    let out = node.install_small();
    assert_refused(&out, "but the provider's --sha256 pins");
    assert!(out.stderr.contains("nothing installed"), "{}", out.stderr);
    assert_eq!(snapshot(&node), before);
    assert_no_temp_files(&node);

    // With the new pin in the config as well, the upgrade goes through, atomically replaced.
    node.write_config(&node.module_digest());
    let out = node.install_small();
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("{BIN_DIR}/{PROVIDER}.wasm: replaced")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("{CONFIG_DIR}/{CONFIG_NAME}: replaced")),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(node.bin(&format!("{PROVIDER}.wasm"))).unwrap(),
        std::fs::read(node.module()).unwrap()
    );
}

#[test]
fn symlinks_planted_in_the_destination_are_replaced_not_written_through() {
    let node = Node::new();
    let outside = node.root.parent().unwrap().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let victims = ["module", "binary", "link", "config"].map(|name| {
        let path = outside.join(name);
        std::fs::write(&path, format!("{name} victim")).unwrap();
        path
    });
    std::fs::create_dir_all(node.path(BIN_DIR)).unwrap();
    std::fs::create_dir_all(node.path(CONFIG_DIR)).unwrap();
    let planted = [
        node.bin(&format!("{PROVIDER}.wasm")),
        node.bin("wasm-credential-provider"),
        node.bin(PROVIDER),
        node.installed_config(),
    ];
    for (link, victim) in planted.iter().zip(&victims) {
        std::os::unix::fs::symlink(victim, link).unwrap();
    }

    let out = node.install_small();
    assert!(out.status.success(), "{}", out.stderr);
    for (victim, name) in victims.iter().zip(["module", "binary", "link", "config"]) {
        assert_eq!(
            std::fs::read_to_string(victim).unwrap(),
            format!("{name} victim")
        );
    }
    for path in &planted[..2] {
        assert!(
            std::fs::symlink_metadata(path).unwrap().is_file(),
            "{} is a file now",
            path.display()
        );
    }
    assert!(std::fs::symlink_metadata(&planted[3]).unwrap().is_file());
    assert_eq!(
        std::fs::read_link(&planted[2]).unwrap(),
        PathBuf::from("wasm-credential-provider")
    );
    assert_eq!(
        std::fs::read(&planted[0]).unwrap(),
        std::fs::read(node.module()).unwrap()
    );
    assert_no_temp_files(&node);
}

#[test]
fn a_bin_dir_leading_outside_the_root_is_refused() {
    let node = Node::new();
    let outside = node.root.parent().unwrap().join("elsewhere");
    std::fs::create_dir(&outside).unwrap();
    let bin_dir = node.path(BIN_DIR);
    std::fs::create_dir_all(bin_dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&outside, &bin_dir).unwrap();

    let out = node.install_small();
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    // Not `File exists (os error 17)`: what the link is, and what to do.
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "wasm-credential-provider: install: cannot open --bin-dir {BIN_DIR}: {BIN_DIR} is a symlink to {}, which leads out of the node's root (--root), and install writes only beneath it: give the real directory as --bin-dir",
            outside.display()
        )
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // --dry-run says the same, and writes nothing either.
    let out = node.install(&["--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("is a symlink to"), "{}", out.stderr);
}

#[test]
fn unpinned_invalid_or_clashing_configs_are_refused_before_anything_is_written() {
    let node = Node::new();

    // No --sha256: the hint carries the digest to pin.
    let unpinned = config_text("x").replace("  - --sha256=x\n", "");
    std::fs::write(&node.config, unpinned).unwrap();
    let out = node.install_small();
    assert_refused(
        &out,
        &format!(
            "no --sha256 pin for the module (add --sha256={})",
            node.module_digest()
        ),
    );
    assert!(!node.root.join("usr").exists() && !node.root.join("etc").exists());

    // The kubelet's own rules.
    let invalid = config_text(&node.module_digest()).replace("10m", "-1h");
    std::fs::write(&node.config, invalid).unwrap();
    let out = node.install_small();
    assert_refused(&out, "providers.defaultCacheDuration: Invalid value");

    // Args run mode would refuse.
    let bad_args = config_text(&node.module_digest()).replace("--memory=32Mi", "--memory=lots");
    std::fs::write(&node.config, bad_args).unwrap();
    assert_refused(
        &node.install_small(),
        "its args: invalid arguments: --memory",
    );

    // A provider of the same name already in another file of the config directory.
    node.write_config(&node.module_digest());
    std::fs::create_dir_all(node.path(CONFIG_DIR)).unwrap();
    std::fs::write(
        node.path(CONFIG_DIR).join("00-other.yaml"),
        config_text(&node.module_digest()),
    )
    .unwrap();
    let out = node.install_small();
    assert_refused(&out, "duplicate provider name");
    assert!(!node.root.join("usr").exists());

    // A native provider in the config must already be installed.
    std::fs::remove_file(node.path(CONFIG_DIR).join("00-other.yaml")).unwrap();
    let with_native = format!(
        "{}- name: hub-mirror\n  matchImages: [docker.io]\n  defaultCacheDuration: 1m\n  apiVersion: {V1}\n",
        config_text(&node.module_digest())
    );
    std::fs::write(&node.config, with_native).unwrap();
    assert_refused(
        &node.install_small(),
        &format!(
            "provider \"hub-mirror\" has no module to install and {BIN_DIR}/hub-mirror is not an executable"
        ),
    );
    assert!(!node.installed_config().exists());

    // A provider installed earlier as this host, whose module is now missing from the image.
    node.write_config(&node.module_digest());
    assert!(node.install_small().status.success());
    std::fs::remove_file(node.module()).unwrap();
    assert_refused(
        &node.install_small(),
        "provider \"static-credentials\" runs wasm-credential-provider",
    );

    // Bad usage is status 2.
    let out = node.install(&["--bin-dir", "relative/bin"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
}

#[test]
fn dry_run_checks_everything_and_writes_nothing() {
    let node = Node::new();
    let out = node.install(&["--dry-run"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("{BIN_DIR}/{PROVIDER}.wasm: would write")),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_dir(&node.root).unwrap().count(), 0);
}

#[test]
fn versioned_module_names_keep_the_old_module_for_a_kubelet_not_yet_restarted() {
    let node = Node::new();
    let v1_digest = node.module_digest();
    let versioned = |version: &str, pin: &str| {
        config_text(pin).replace(
            "  - --sha256=",
            &format!("  - --module={BIN_DIR}/{PROVIDER}-{version}.wasm\n  - --sha256="),
        )
    };
    std::fs::write(&node.config, versioned("v1", &v1_digest)).unwrap();
    let v1_source = node.module();
    let module_arg = format!("{PROVIDER}={}", v1_source.display());
    let out = node.install(&["--module", &module_arg]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("{BIN_DIR}/{PROVIDER}-v1.wasm: installed")),
        "{}",
        out.stdout
    );

    // v2: another module, another file, the config pointing at it.
    let v2_source = node.modules.join("v2.wasm");
    std::fs::copy(test_artifacts::plugin(PROVIDER, Target::P1), &v2_source).unwrap();
    let v2_digest = sha256_of(&v2_source);
    std::fs::write(&node.config, versioned("v2", &v2_digest)).unwrap();
    let module_arg = format!("{PROVIDER}={}", v2_source.display());
    let out = node.install(&["--module", &module_arg]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        std::fs::read(node.bin(&format!("{PROVIDER}-v1.wasm"))).unwrap(),
        std::fs::read(&v1_source).unwrap()
    );
    assert_eq!(
        std::fs::read(node.bin(&format!("{PROVIDER}-v2.wasm"))).unwrap(),
        std::fs::read(&v2_source).unwrap()
    );
    // The config names node paths: checked with --root, they are found beneath it.
    let check = exec(
        &[
            "check-config",
            CONFIG_DIR,
            "--bin-dir",
            BIN_DIR,
            "--root",
            node.root.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        check.stdout,
        check.stderr
    );
    assert!(
        check.stdout.contains(&format!(
            "module {BIN_DIR}/{PROVIDER}-v2.wasm (sha256:{v2_digest})"
        )),
        "{}",
        check.stdout
    );

    // A kubelet started with the v1 config still execs the v1 module, whose pin holds.
    let v1_module = node.bin(&format!("{PROVIDER}-v1.wasm"));
    let module_flag = format!("--module={}", v1_module.display());
    let pin_flag = format!("--sha256={v1_digest}");
    let answer = exec_program(
        &node.bin(PROVIDER),
        &[
            &module_flag,
            &pin_flag,
            "--env=REGISTRY_USERNAME",
            "--env=REGISTRY_PASSWORD",
        ],
        &request(V1, "registry.example.com/team/app"),
        &[("REGISTRY_USERNAME", "robot"), ("REGISTRY_PASSWORD", "pw")],
    );
    assert_eq!(only_credential(&answer.json()).1, "robot");

    // A --module outside the bin dir is not install's to write.
    let elsewhere = config_text(&v1_digest).replace(
        "  - --sha256=",
        "  - --module=/opt/modules/x.wasm\n  - --sha256=",
    );
    std::fs::write(&node.config, elsewhere).unwrap();
    assert_refused(
        &node.install_small(),
        &format!(
            "its --module /opt/modules/x.wasm is not a .wasm or .cwasm file directly in {BIN_DIR}"
        ),
    );
}

/// `deploy/daemonset.yaml` hangs together: the init container's `install` command, run against
/// a node root with the Secret's config (its pin replaced by this build's module digest) and the
/// image's layout, installs a config `check-config` accepts; and the hostPath volumes are the
/// directories the command writes, mounted at their place beneath `--root`.
#[test]
fn the_deploy_manifest_installs_what_its_flags_say() {
    use serde_yaml_ng::Value;
    let text = include_str!("../../deploy/daemonset.yaml");
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("YAML document"))
        .collect();
    let kind = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} in deploy/daemonset.yaml"))
    };
    let secret = kind("Secret");
    let daemonset = kind("DaemonSet");
    let pod = &daemonset["spec"]["template"]["spec"];
    let init = &pod["initContainers"][0];
    let command: Vec<String> = init["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect();
    assert_eq!(command[1], "install");
    let flag = |name: &str| {
        command
            .iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")))
            .unwrap_or_else(|| panic!("--{name} in {command:?}"))
            .to_owned()
    };
    let (root, bin_dir, config_dir) = (flag("root"), flag("bin-dir"), flag("config-dir"));

    // Each hostPath volume is mounted at root + its own path, and together they are the two
    // directories install writes.
    let mounts = init["volumeMounts"].as_sequence().expect("mounts");
    let mut host_dirs = Vec::new();
    for volume in pod["volumes"].as_sequence().expect("volumes") {
        let Some(path) = volume["hostPath"]["path"].as_str() else {
            continue;
        };
        let mount = mounts
            .iter()
            .find(|m| m["name"] == volume["name"])
            .expect("hostPath volume mounted");
        assert_eq!(
            mount["mountPath"].as_str().unwrap(),
            format!("{root}{path}")
        );
        host_dirs.push(path.to_owned());
    }
    host_dirs.sort();
    let mut expected = vec![bin_dir.clone(), config_dir.clone()];
    expected.sort();
    assert_eq!(host_dirs, expected);

    // The config the Secret carries, where the init container reads it.
    let config_flag = flag("config");
    let (secret_dir, secret_key) = config_flag.rsplit_once('/').unwrap();
    let secret_mount = mounts
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(secret_dir))
        .expect("secret mounted where --config points");
    let secret_volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == secret_mount["name"])
        .unwrap();
    assert_eq!(
        secret_volume["secret"]["secretName"],
        secret["metadata"]["name"]
    );
    let config = secret["stringData"][secret_key].as_str().expect("config");

    // Run the command with this build's binary and module, against a temporary node root.
    let node = Node::new();
    let pinned = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("- --sha256="))
        .expect("a --sha256 pin");
    std::fs::write(&node.config, config.replace(pinned, &node.module_digest())).unwrap();
    let args: Vec<String> = command[1..]
        .iter()
        .map(|a| match a.split_once('=') {
            Some(("--root", _)) => format!("--root={}", node.root.display()),
            Some(("--config", _)) => format!("--config={}", node.config.display()),
            Some(("--modules", _)) => format!("--modules={}", node.modules.display()),
            _ => a.clone(),
        })
        // The manifest's providers compile into their --cache-dir at install: that needs a
        // real host (this build), compiling in-process as the image's binary would.
        .chain(["--binary".into(), HOST.to_owned()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = exec(&args, b"");
    assert!(out.status.success(), "{}", out.stderr);
    let check = exec(
        &[
            "check-config",
            node.path(&config_dir).to_str().unwrap(),
            "--bin-dir",
            node.path(&bin_dir).to_str().unwrap(),
        ],
        b"",
    );
    assert!(check.status.success(), "{}{}", check.stdout, check.stderr);
    assert!(!check.stdout.contains("warning"), "{}", check.stdout);
}

#[test]
fn install_help_has_an_example_and_the_exit_statuses() {
    let out = exec(&["install", "--help"], b"");
    assert!(out.status.success(), "{}", out.stderr);
    for needle in [
        "Example",
        "Exit status",
        "--root",
        "--bin-dir",
        "--config-dir",
    ] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }
    assert!(exec(&["--help"], b"").stdout.contains("install"));
}

/// A provider with `--cache-dir` gets its module compiled at install, by the host being
/// installed (here another path to this build, so install execs the installed binary), so the
/// kubelet's first exec is a cache hit; a re-run finds the entry and leaves it.
#[test]
fn install_compiles_into_the_providers_cache_so_the_first_exec_is_a_hit() {
    let node = Node::new();
    let pin = node.module_digest();
    std::fs::write(
        &node.config,
        config_text(&pin).replace(
            "- --timeout=10s\n",
            "- --timeout=10s\n  - --cache-dir=/var/cache/wcp\n",
        ),
    )
    .unwrap();
    let image_host = node.small_binary.with_file_name("host");
    std::fs::hard_link(HOST, &image_host).unwrap();
    let install = || node.install(&["--binary", image_host.to_str().unwrap()]);
    let out = install();
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("/var/cache/wcp: {PROVIDER}.wasm compiled, ")),
        "{}",
        out.stdout
    );
    let cache = node.path("/var/cache/wcp");
    assert_eq!(mode(&cache) & 0o777, 0o700);
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".cwasm") && !name.starts_with('.'))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    // The first exec, as the kubelet makes it, loads the entry.
    let first = exec_with_stats(
        &[
            "--module",
            node.bin(&format!("{PROVIDER}.wasm")).to_str().unwrap(),
            "--sha256",
            &pin,
            "--cache-dir",
            cache.to_str().unwrap(),
            "--env=REGISTRY_USERNAME=robot",
            "--env=REGISTRY_PASSWORD=example-password",
        ],
        &v1_request(),
    );
    assert!(first.status.success(), "{}", first.stderr);
    assert_eq!(stats_field(&first, "code"), "cache");
    let again = install();
    assert!(again.status.success(), "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains(&format!("/var/cache/wcp: {PROVIDER}.wasm already cached")),
        "{}",
        again.stdout
    );
}
