//! Writing the installation: destination directories opened beneath the node's root, files
//! written to a temporary file and renamed into place, never through a symlink.

use super::*;

/// Opens (creating it, unless a dry run) the destination directory `rel` beneath the root.
/// `cap-std` refuses a path that leads outside the root (an absolute symlink, `..`).
pub(super) fn open_dest(
    root: &Dir,
    rel: &Path,
    shown: &Path,
    flag: &str,
    dry_run: bool,
) -> Result<Option<Dir>, InstallError> {
    let write_error = |e: std::io::Error| {
        InstallError::Write(
            anyhow::Error::new(e).context(format!("cannot open {}", shown.display())),
        )
    };
    let opened = if dry_run {
        match root.open_dir(rel) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other,
        }
    } else {
        root.create_dir_all(rel).and_then(|()| root.open_dir(rel))
    };
    opened.map(Some).map_err(|err| match symlink_out_of_root(root, rel) {
        Some((link, target)) => InstallError::Refused(format!(
            "cannot open {flag} {}: {} is a symlink to {}, which leads out of the node's root (--root), and install writes only beneath it: give the real directory as {flag}",
            shown.display(),
            Path::new("/").join(&link).display(),
            target.display(),
        )),
        None => write_error(err),
    })
}

/// The first component of `rel` (beneath `root`) that is a symlink leaving the root, and its
/// target: absolute, or climbing out with `..`. cap-std refuses to follow such links.
fn symlink_out_of_root(root: &Dir, rel: &Path) -> Option<(PathBuf, PathBuf)> {
    let mut prefix = PathBuf::new();
    for component in rel.components() {
        prefix.push(component);
        let meta = root.symlink_metadata(&prefix).ok()?;
        if meta.is_symlink() {
            let target = root.read_link_contents(&prefix).ok()?;
            let escapes = target.is_absolute()
                || target
                    .components()
                    .any(|c| matches!(c, Component::ParentDir));
            return escapes.then_some((prefix, target));
        }
        if !meta.is_dir() {
            return None;
        }
    }
    None
}

/// Reads at most `limit` bytes of `path`; a longer file is an error.
pub(super) fn read_limited(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    anyhow::ensure!(bytes.len() as u64 <= limit, "larger than {limit} bytes");
    Ok(bytes)
}

/// A unique temporary name in a destination directory. Its extension is never one the kubelet
/// reads from a config directory.
fn temp_name(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `dir/name` is a regular file (not a symlink) with exactly `bytes` and `mode`.
fn file_is(dir: &Dir, name: &str, bytes: &[u8], mode: u32) -> bool {
    let mut options = OpenOptions::new();
    options.read(true).follow(FollowSymlinks::No);
    let Ok(file) = dir.open_with(name, &options) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if !meta.is_file()
        || meta.len() != bytes.len() as u64
        || meta.permissions().mode() & 0o7777 != mode
    {
        return false;
    }
    let mut existing = Vec::with_capacity(bytes.len());
    file.into_std()
        .take(bytes.len() as u64 + 1)
        .read_to_end(&mut existing)
        .is_ok()
        && existing == bytes
}

/// Puts `bytes` at `dir/name` with `mode`: a temporary file created in `dir` (never through a
/// symlink), synced, then renamed over `name` (replacing whatever is there, a symlink included).
pub(super) fn put_file(dir: &Dir, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<Change> {
    if file_is(dir, name, bytes, mode) {
        return Ok(Change::Unchanged);
    }
    let existed = dir.symlink_metadata(name).is_ok();
    let temp = temp_name(name);
    let mut options = OpenOptions::new();
    options
        .write(true)
        .create_new(true)
        .mode(mode)
        .follow(FollowSymlinks::No);
    let result = (|| {
        let mut file = dir.open_with(&temp, &options)?;
        file.write_all(bytes)?;
        // The umask may have cleared bits of `mode`.
        file.set_permissions(cap_std::fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        dir.rename(&temp, dir, name)
    })();
    if result.is_err() {
        let _ = dir.remove_file(&temp);
    }
    result.map(|()| {
        if existed {
            Change::Replaced
        } else {
            Change::Installed
        }
    })
}

/// Makes `dir/name` a symlink to `target` (a name in the same directory): a temporary link,
/// renamed over `name`.
pub(super) fn put_symlink(dir: &Dir, name: &str, target: &str) -> std::io::Result<Change> {
    let existing = dir.symlink_metadata(name).ok();
    if existing.as_ref().is_some_and(|m| m.is_symlink())
        && dir
            .read_link_contents(name)
            .is_ok_and(|contents| contents == Path::new(target))
    {
        return Ok(Change::Unchanged);
    }
    let temp = temp_name(name);
    let result = dir
        .symlink(target, &temp)
        .and_then(|()| dir.rename(&temp, dir, name));
    if result.is_err() {
        let _ = dir.remove_file(&temp);
    }
    result.map(|()| {
        if existing.is_some() {
            Change::Replaced
        } else {
            Change::Installed
        }
    })
}

/// Best effort: makes the renames in `dir` durable.
pub(super) fn sync_dir(dir: &Dir) {
    if let Ok(clone) = dir.try_clone() {
        let _ = clone.into_std_file().sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_replace_symlinks_without_following_them() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("f")).unwrap();
        let dir = Dir::open_ambient_dir(&dest, cap_std::ambient_authority()).unwrap();
        assert_eq!(
            put_file(&dir, "f", b"new", 0o644).unwrap(),
            Change::Replaced
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"new");
        assert_eq!(
            put_file(&dir, "f", b"new", 0o644).unwrap(),
            Change::Unchanged
        );
        assert_eq!(
            put_file(&dir, "f", b"new", 0o600).unwrap(),
            Change::Replaced
        );
        assert_eq!(put_symlink(&dir, "l", "f").unwrap(), Change::Installed);
        assert_eq!(put_symlink(&dir, "l", "f").unwrap(), Change::Unchanged);
        assert_eq!(std::fs::read(dest.join("l")).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }
}
