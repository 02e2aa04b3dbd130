//! The kubelet's config decoding vectors through every subcommand that reads a config: each
//! file gets the kubelet's verdict from `check-config`, `simulate`, `match --config` and
//! `install --dry-run`, and a refused file the kubelet's exact error text.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/config-decoding-vectors.json"
);

/// Where `install` puts the config on the node (its default `--config-dir`).
const NODE_CONFIG_DIR: &str = "/etc/kubernetes/credential-providers.d";

struct Case {
    id: String,
    file: String,
    text: String,
    accept: bool,
    error: Option<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(VECTORS).expect("read the config decoding vectors");
    let vectors: Value = serde_json::from_str(&text).expect("vectors are JSON");
    vectors["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            id: c["id"].as_str().unwrap().to_owned(),
            file: c["file"].as_str().unwrap().to_owned(),
            text: c["text"].as_str().unwrap().to_owned(),
            accept: c["kubelet"] == "accept",
            error: c["kubeletError"].as_str().map(str::to_owned),
        })
        .collect()
}

/// The kubelet's error for the file as `path` instead of the vector's file name.
fn error_for(case: &Case, path: &Path) -> String {
    let error = case
        .error
        .clone()
        .expect("a refused case has the kubelet's error");
    error.replace(
        &format!("\"{}\"", case.file),
        &format!("\"{}\"", path.display()),
    )
}

#[test]
fn every_decoding_vector_gets_the_kubelet_s_verdict_and_text_from_every_tool() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(&case.file);
        std::fs::write(&path, &case.text).unwrap();
        let path_str = path.to_str().unwrap();
        let mut fail =
            |tool: &str, why: String| failures.push(format!("{} ({tool}): {why}", case.id));

        // check-config: the verdict, the kubelet's text on stdout.
        let check = exec(&["check-config", path_str, "--output", "json"], b"");
        let report: Value = serde_json::from_str(&check.stdout).unwrap_or(Value::Null);
        let verdict_ok = if case.accept {
            check.status.code() == Some(0) && report["kubeletError"].is_null()
        } else {
            check.status.code() == Some(1)
                && report["kubeletError"].as_str() == Some(error_for(&case, &path).as_str())
        };
        if !verdict_ok {
            fail(
                "check-config",
                format!("{:?} {}", check.status.code(), check.stdout),
            );
        }
        let text = exec(&["check-config", path_str], b"");
        if !case.accept && !text.stdout.contains(&error_for(&case, &path)) {
            fail("check-config text", text.stdout.clone());
        }

        // simulate: a stub bin dir with an executable for every provider (as the vectors were
        // made), and an image no provider is likely to match.
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for name in report["providers"].as_array().into_iter().flatten() {
            let stub = bin.join(name.as_str().unwrap());
            std::fs::write(&stub, "#!/bin/sh\nexit 1\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let simulate = exec(
            &[
                "simulate",
                "--config",
                path_str,
                "--bin-dir",
                bin.to_str().unwrap(),
                "unmatched.invalid/x",
            ],
            b"",
        );
        let ok = if case.accept {
            simulate.status.code() == Some(0)
        } else {
            simulate.status.code() == Some(1) && simulate.stderr.contains(&error_for(&case, &path))
        };
        if !ok {
            fail(
                "simulate",
                format!("{:?} {}", simulate.status.code(), simulate.stderr),
            );
        }

        // match --config: a refused config is unusable input (2), with the kubelet's text.
        let matched = exec(&["match", "unmatched.invalid/x", "--config", path_str], b"");
        let ok = if case.accept {
            matches!(matched.status.code(), Some(0 | 1))
        } else {
            matched.status.code() == Some(2) && matched.stderr.contains(&error_for(&case, &path))
        };
        if !ok {
            fail(
                "match",
                format!("{:?} {}", matched.status.code(), matched.stderr),
            );
        }

        // install --dry-run: the file as the kubelet will read it on the node.
        let root = dir.path().join("node");
        std::fs::create_dir(&root).unwrap();
        let install = exec(
            &[
                "install",
                "--dry-run",
                "--root",
                root.to_str().unwrap(),
                "--config",
                path_str,
                "--config-name",
                &case.file,
            ],
            b"",
        );
        let refused_for_config = install.stderr.contains("the kubelet refuses to start");
        let ok = if case.accept {
            !refused_for_config
        } else {
            let on_node = Path::new(NODE_CONFIG_DIR).join(&case.file);
            install.status.code() == Some(1)
                && refused_for_config
                && install.stderr.contains(&error_for(&case, &on_node))
        };
        if !ok {
            fail(
                "install --dry-run",
                format!("{:?} {}", install.status.code(), install.stderr),
            );
        }
        // Nothing was written on a refusal (a dry run never writes).
        if std::fs::read_dir(&root).unwrap().next().is_some() {
            fail("install --dry-run", "wrote beneath the root".into());
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
