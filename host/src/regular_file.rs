//! Opening a file the host reads as input (a module, a CA file, an args file) so that what is
//! opened can only be a regular file: a FIFO, device or socket is refused instead of blocking
//! the run forever (or reading a device), and a symlink can be refused too. And the one rule
//! for files whose contents the host trusts (native code, sandbox options): who may have
//! written them.

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Whether the last component of the path may be a symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow it (modules and CA files: operators link them into place).
    Follow,
    /// Refuse it: the file grants capabilities, so it must be this very file.
    Refuse,
}

/// Why a path did not open as a regular file.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The open itself failed (missing, permissions; a symlink under [`Symlinks::Refuse`]).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It opened, but is not a regular file.
    #[error("it is a {0}, not a regular file")]
    NotRegular(&'static str),
}

impl OpenError {
    /// Whether the path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, OpenError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Opens `path` for reading and checks, on the open descriptor, that it is a regular file.
///
/// Opened non-blocking, so that opening a FIFO with no writer returns at once rather than
/// hanging; reads from a regular file are unaffected by the flag.
pub fn open_regular(
    path: &Path,
    symlinks: Symlinks,
) -> Result<(File, std::fs::Metadata), OpenError> {
    let mut flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    if symlinks == Symlinks::Refuse {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
        .map_err(|e| {
            // O_NOFOLLOW on a symlink fails with ELOOP: say what it means.
            if symlinks == Symlinks::Refuse
                && e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
            {
                std::io::Error::other("it is a symlink, which is not followed here")
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let name = if kind.is_fifo() {
            "FIFO"
        } else if kind.is_dir() {
            "directory"
        } else if kind.is_char_device() {
            "character device"
        } else if kind.is_block_device() {
            "block device"
        } else if kind.is_socket() {
            "socket"
        } else {
            "special file"
        };
        return Err(OpenError::NotRegular(name));
    }
    Ok((file, meta))
}

/// Who may have written a file whose contents the host trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustedWriter {
    /// Only the user the host runs as (the compile cache, which that user writes itself).
    ThisUser,
    /// Root or the user the host runs as (files an installer puts in place: `.cwasm` modules,
    /// the docker helper's args file).
    RootOrThisUser,
}

/// What would let someone other than `writer` have written a file owned by `uid` with `mode`:
/// another owner, or write permission for group or others; `None` if nothing does.
pub fn untrusted_writer(uid: u32, mode: u32, writer: TrustedWriter) -> Option<String> {
    let me = rustix::process::geteuid().as_raw();
    let owner_trusted = uid == me || (writer == TrustedWriter::RootOrThisUser && uid == 0);
    if !owner_trusted {
        return Some(match writer {
            TrustedWriter::ThisUser => format!("owned by uid {uid}, not by this user (uid {me})"),
            TrustedWriter::RootOrThisUser => {
                format!("owned by uid {uid}, neither root nor this user (uid {me})")
            }
        });
    }
    (mode & 0o022 != 0).then(|| format!("writable by group or others (mode {:o})", mode & 0o7777))
}

/// Makes a FIFO at `path`, for tests of what is refused.
#[cfg(test)]
pub(crate) fn make_fifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowed_owner_and_mode_are_trusted() {
        use TrustedWriter::{RootOrThisUser, ThisUser};
        let me = rustix::process::geteuid().as_raw();
        let other = if me == 65534 { 65533 } else { 65534 };
        for writer in [ThisUser, RootOrThisUser] {
            assert_eq!(untrusted_writer(me, 0o100644, writer), None);
            assert_eq!(
                untrusted_writer(me, 0o100664, writer).as_deref(),
                Some("writable by group or others (mode 664)")
            );
        }
        assert!(
            untrusted_writer(other, 0o644, ThisUser)
                .unwrap()
                .contains("not by this user")
        );
        assert!(
            untrusted_writer(other, 0o644, RootOrThisUser)
                .unwrap()
                .contains("neither root")
        );
        assert_eq!(untrusted_writer(0, 0o644, RootOrThisUser), None);
        assert_eq!(untrusted_writer(0, 0o644, ThisUser).is_some(), me != 0);
    }

    #[test]
    fn only_regular_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(open_regular(&file, Symlinks::Refuse).is_ok());

        let fifo = dir.path().join("fifo");
        make_fifo(&fifo);
        // Returns at once (no writer would ever come), and says what it is.
        let err = open_regular(&fifo, Symlinks::Follow).unwrap_err();
        assert_eq!(err.to_string(), "it is a FIFO, not a regular file");

        assert!(matches!(
            open_regular(dir.path(), Symlinks::Follow),
            Err(OpenError::NotRegular("directory"))
        ));
        assert!(matches!(
            open_regular(Path::new("/dev/null"), Symlinks::Follow),
            Err(OpenError::NotRegular("character device"))
        ));

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(open_regular(&link, Symlinks::Follow).is_ok());
        let err = open_regular(&link, Symlinks::Refuse).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(
            open_regular(&dir.path().join("missing"), Symlinks::Follow)
                .unwrap_err()
                .is_not_found()
        );
    }
}
