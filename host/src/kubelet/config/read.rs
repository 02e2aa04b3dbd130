//! Which files a config path names, and the kubelet's config hash over them.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ConfigProblem;
use crate::kubelet::field::go_quote;
use crate::limits::MAX_CONFIG_FILE_BYTES;

/// The files the kubelet reads for `path`: the path itself if it is not a directory; otherwise
/// every entry directly inside it that is not a directory and whose name ends in `.json`,
/// `.yaml` or `.yml` (case-sensitive), sorted lexicographically. No such file is an error.
pub fn config_files(path: &Path) -> Result<Vec<PathBuf>, ConfigProblem> {
    let shown = go_quote(path.display().to_string());
    if path.as_os_str().is_empty() {
        return Err(ConfigProblem::general(
            "credential provider config path is empty",
        ));
    }
    let metadata = std::fs::metadata(path).map_err(|err| {
        ConfigProblem::general(format!(
            "unable to access path {shown}: stat {}: {}",
            path.display(),
            go_io_error(&err)
        ))
    })?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let entries = std::fs::read_dir(path).map_err(|err| {
        ConfigProblem::general(format!(
            "unable to read directory {shown}: open {}: {}",
            path.display(),
            go_io_error(&err)
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries.flatten() {
        // Like Go's DirEntry.IsDir: the entry's own type, a symlink is not a directory.
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let name = entry.file_name();
        // Go's filepath.Ext: from the last dot of the name (so ".yaml" itself counts).
        let lossy = name.to_string_lossy();
        let ext = lossy.rfind('.').map(|i| &lossy[i..]);
        if !is_dir && matches!(ext, Some(".json" | ".yaml" | ".yml")) {
            files.push(path.join(name));
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ConfigProblem::general(format!(
            "no configuration files found in directory {shown}"
        )));
    }
    Ok(files)
}

/// One config file's bytes, as `os.ReadFile` gives them to the kubelet, or the text after
/// `unable to read file "<path>": ` (Go's `open <path>: <errno>`). Files above
/// [`MAX_CONFIG_FILE_BYTES`] are refused (the kubelet has no bound; we will not read a disk
/// image named by mistake into memory).
pub fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let open_error =
        |err: std::io::Error| format!("open {}: {}", path.display(), go_io_error(&err));
    let file = std::fs::File::open(path).map_err(open_error)?;
    let mut data = Vec::new();
    file.take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|err| format!("read {}: {}", path.display(), go_io_error(&err)))?;
    if data.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(format!(
            "the file is larger than {MAX_CONFIG_FILE_BYTES} bytes, this tool's limit for a config"
        ));
    }
    Ok(data)
}

/// The kubelet's `kubelet_credential_provider_config_info` hash: `sha256:` and the hex SHA-256
/// over, for each file in load order, its length as 8 big-endian bytes and its bytes.
pub fn config_hash(contents: &[Vec<u8>]) -> String {
    let mut hasher = Sha256::new();
    for data in contents {
        hasher.update((data.len() as u64).to_be_bytes());
        hasher.update(data);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// An I/O error the way Go's `syscall.Errno` prints it (`no such file or directory`).
pub(crate) fn go_io_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        std::io::ErrorKind::NotADirectory => "not a directory".into(),
        _ => {
            let text = err.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_rules() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yaml", "a.json", "c.yml", "d.txt", "e.YAML", ".yaml"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();
        let files = config_files(dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        // Go's filepath.Ext(".yaml") is ".yaml": the kubelet reads that file too.
        assert_eq!(names, [".yaml", "a.json", "b.yaml", "c.yml"]);
    }

    #[test]
    fn empty_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = config_files(dir.path()).unwrap_err();
        assert!(
            err.message
                .starts_with("no configuration files found in directory")
        );
    }

    #[test]
    fn missing_path_is_an_error() {
        let err = config_files(Path::new("/nonexistent/credprov.yaml")).unwrap_err();
        assert_eq!(
            err.message,
            "unable to access path \"/nonexistent/credprov.yaml\": stat /nonexistent/credprov.yaml: no such file or directory"
        );
    }

    #[test]
    fn hash_is_length_prefixed() {
        let one = config_hash(&[b"ab".to_vec(), b"c".to_vec()]);
        let two = config_hash(&[b"a".to_vec(), b"bc".to_vec()]);
        assert_ne!(one, two);
        assert!(one.starts_with("sha256:") && one.len() == 7 + 64);
    }
}
