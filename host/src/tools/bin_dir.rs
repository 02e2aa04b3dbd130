//! The kubelet's start-up checks on `--image-credential-provider-bin-dir`: the directory exists
//! and each provider's `<bin-dir>/<name>` is an executable file (`exec.LookPath`).

use std::path::Path;

use crate::kubelet::config::{ConfigProblem, CredentialProvider};

/// The bin dir problem, if the directory is missing or unreadable.
pub fn check_bin_dir(bin_dir: &Path) -> Option<ConfigProblem> {
    match std::fs::metadata(bin_dir) {
        Ok(_) => None,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Some(ConfigProblem::general(format!(
                "plugin binary directory {} did not exist",
                bin_dir.display()
            )))
        }
        Err(err) => Some(ConfigProblem::general(format!(
            "error inspecting binary directory {}: {err}",
            bin_dir.display()
        ))),
    }
}

/// The problem with `<bin-dir>/<name>`, if it is not an executable file (following symlinks).
pub fn check_executable(bin_dir: &Path, provider: &CredentialProvider) -> Option<ConfigProblem> {
    let path = bin_dir.join(&provider.name);
    let shown = path.display();
    let problem = |message: String| ConfigProblem {
        provider: Some(provider.name.clone()),
        field: Some("providers.name".into()),
        message,
    };
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Some(problem(format!(
                "plugin binary executable {shown} did not exist"
            )));
        }
        Err(err) => {
            return Some(problem(format!(
                "error inspecting binary executable {shown}: {err}"
            )));
        }
    };
    if metadata.is_dir() {
        return Some(problem(format!(
            "error inspecting binary executable {shown}: exec: \"{shown}\": is a directory"
        )));
    }
    if !is_executable(&metadata) {
        return Some(problem(format!(
            "error inspecting binary executable {shown}: exec: \"{shown}\": permission denied"
        )));
    }
    None
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_checks() {
        let dir = tempfile::tempdir().unwrap();
        let provider = |name: &str| CredentialProvider {
            name: name.into(),
            ..Default::default()
        };
        assert!(check_bin_dir(dir.path()).is_none());
        assert!(
            check_bin_dir(&dir.path().join("nope"))
                .unwrap()
                .message
                .contains("did not exist")
        );
        let missing = check_executable(dir.path(), &provider("p")).unwrap();
        assert!(
            missing.message.ends_with("did not exist"),
            "{}",
            missing.message
        );
        std::fs::write(dir.path().join("p"), "#!/bin/sh\n").unwrap();
        let not_exec = check_executable(dir.path(), &provider("p")).unwrap();
        assert!(not_exec.message.ends_with("permission denied"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path().join("p"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            assert!(check_executable(dir.path(), &provider("p")).is_none());
        }
        std::fs::create_dir(dir.path().join("d")).unwrap();
        assert!(
            check_executable(dir.path(), &provider("d"))
                .unwrap()
                .message
                .contains("is a directory")
        );
    }
}
