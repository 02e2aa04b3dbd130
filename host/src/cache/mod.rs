//! A cache of compiled guest code, so an exec loads native code instead of compiling.
//!
//! Loading compiled code is running native code: whoever can write a cache entry controls the
//! node. So the cache trusts a directory only if this user owns it and nobody else can write to
//! it, opens every entry through that directory's handle (cap-std) without following symlinks,
//! and checks each entry's owner and mode. That ownership is what makes an entry trustworthy.
//!
//! An entry is wasmtime's precompiled artifact followed by a trailer: the module's digest and
//! the engine's configuration hash (an entry for another module or engine is "foreign"), and an
//! XXH3-128 checksum of the artifact (a torn or corrupted entry). The checksum guards against
//! accidents, not attackers: anyone able to rewrite an entry could recompute any unkeyed digest,
//! SHA-256 included, so the fast one is as strong here and costs a tenth of the time.
//! Keeping the artifact first lets wasmtime map the entry file in place instead of copying it.
//!
//! Entries are written to a temporary file and renamed into place, so concurrent execs only ever
//! see whole entries, and an entry's inode never changes once written. Any problem falls back to
//! compiling, with a warning: never a failure. Concurrent misses compile once
//! ([`single_flight`]); writing an entry removes other engines' entries ([`prune`]).

mod prune;
pub mod seal;
mod single_flight;

pub use prune::Pruned;
pub use single_flight::{CompileLock, Waited};

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, MetadataExt, OpenOptions, OpenOptionsExt};
use sha2::{Digest, Sha256};
use wasmtime::Engine;

use crate::module::Sha256Digest;
use crate::regular_file::{TrustedWriter, untrusted_writer};

/// How the names of the files the cache writes begin, besides entries
/// (`<module digest>-<engine tag>.cwasm`): a lock file is this prefix and its entry's name...
const LOCK_PREFIX: &str = ".lock-";
/// ...and a file being written is this prefix and a unique part.
const TEMP_PREFIX: &str = ".tmp-";

/// Largest entry read back (compiled code of the largest module we load, with room to spare).
const MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;

/// Why the cache was not used. Shown as a warning; the run compiles instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The directory could not be created or opened.
    #[error("cannot open cache directory {path}: {source}")]
    Open {
        /// The cache directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory (or an entry) is owned by another user or writable by others.
    #[error("{what} is {problem}; not trusting it")]
    Untrusted {
        /// The directory or entry.
        what: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An entry exists but is corrupt, truncated, or for another module or engine.
    #[error("cache entry {0} is corrupt or foreign; recompiling")]
    BadEntry(String),
    /// Reading or writing an entry failed.
    #[error("cache entry {name}: {source}")]
    Io {
        /// The entry's file name.
        name: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// An opened, trusted cache directory bound to one engine configuration.
pub struct CompileCache {
    dir: Dir,
    path: PathBuf,
    engine_hash: [u8; 32],
}

/// Feeds a `Hash` implementation into SHA-256, giving a stable digest of the engine settings.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// A digest of everything that makes compiled code valid for an engine: wasmtime's
/// compatibility hash, plus this host's version (its engine settings live in its code).
pub fn engine_hash(engine: &Engine) -> [u8; 32] {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.0.finalize().into()
}

fn check_owner_and_mode(what: &str, uid: u32, mode: u32) -> Result<(), CacheError> {
    match untrusted_writer(uid, mode, TrustedWriter::ThisUser) {
        Some(problem) => Err(CacheError::Untrusted {
            what: what.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

impl CompileCache {
    /// Opens (creating it with mode 0700 if missing) the cache directory at `path` for `engine`,
    /// refusing a directory this user does not own or that others can write to.
    pub fn open(path: &Path, engine: &Engine) -> Result<Self, CacheError> {
        let open_error = |source| CacheError::Open {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(open_error)?;
        }
        let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(open_error)?;
        let meta = dir.dir_metadata().map_err(open_error)?;
        check_owner_and_mode(
            &format!("cache directory {}", path.display()),
            meta.uid(),
            meta.mode(),
        )?;
        Ok(CompileCache {
            dir,
            path: path.to_owned(),
            engine_hash: engine_hash(engine),
        })
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry file name for a module.
    pub fn entry_name(&self, module: &Sha256Digest) -> String {
        format!("{}-{}.cwasm", module.to_hex(), self.engine_tag())
    }

    /// The compiled code cached for `module`, if a trusted, intact entry exists.
    /// `Ok(None)` is a plain miss.
    pub fn get(&self, module: &Sha256Digest) -> Result<Option<CachedCode>, CacheError> {
        let name = self.entry_name(module);
        let io = |source| CacheError::Io {
            name: name.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).follow(FollowSymlinks::No);
        let file = match self.dir.open_with(&name, &options) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES {
            return Err(CacheError::BadEntry(name));
        }
        check_owner_and_mode(&format!("cache entry {name}"), meta.uid(), meta.mode())?;
        let file = file.into_std();
        match seal::open(&file, meta.len(), &self.engine_hash, Some(module), true) {
            Ok(payload_len) => Ok(Some(CachedCode { file, payload_len })),
            Err(seal::SealError::Io(source)) => Err(io(source)),
            Err(_) => Err(CacheError::BadEntry(name)),
        }
    }

    /// Stores compiled code for `module`: written to a private temporary file, then renamed over
    /// the entry, so a concurrent reader sees the old entry, the new one, or none.
    pub fn put(&self, module: &Sha256Digest, compiled: &[u8]) -> Result<(), CacheError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = self.entry_name(module);
        let temp = format!(
            "{TEMP_PREFIX}{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let io = |source| CacheError::Io {
            name: name.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .mode(0o600)
            .follow(FollowSymlinks::No);
        let result = (|| {
            let mut file = self.dir.open_with(&temp, &options)?;
            file.write_all(compiled)?;
            file.write_all(&seal::trailer(&self.engine_hash, module, compiled))?;
            file.sync_all()?;
            self.dir.rename(&temp, &self.dir, &name)
        })();
        if result.is_err() {
            let _ = self.dir.remove_file(&temp);
        }
        result.map_err(io)?;
        // A new entry is when an upgrade shows: the old host's entries will never load again.
        let _ = self.prune();
        Ok(())
    }
}

/// A checked cache entry: an open file whose first `payload_len` bytes are wasmtime's
/// precompiled artifact, verified against the trailer.
pub struct CachedCode {
    file: std::fs::File,
    payload_len: u64,
}

impl CachedCode {
    /// The sealed code in `file` (`len` bytes, e.g. a `.cwasm` made by `compile`), if it was
    /// sealed by `engine`; its checksum is verified only if `verify_checksum` (the caller may
    /// have checked the whole file against a SHA-256 pin already). The caller answers for who
    /// may write the file, as the cache does for its entries.
    pub fn from_sealed_file(
        file: std::fs::File,
        len: u64,
        engine: &Engine,
        verify_checksum: bool,
    ) -> Result<Self, seal::SealError> {
        let payload_len = seal::open(&file, len, &engine_hash(engine), None, verify_checksum)?;
        Ok(CachedCode { file, payload_len })
    }

    /// The entry file, for wasmtime to map in place. Safe to map: the file was opened through
    /// the trusted directory handle, is owned by this user and writable by no one else, and
    /// entries are only ever replaced by rename (never written in place), so its contents
    /// cannot change while mapped. The bytes after the artifact (the trailer) are ignored by
    /// wasmtime, which reads the artifact's ELF section table.
    pub fn file(&self) -> &std::fs::File {
        &self.file
    }

    /// A path that opens this very file (`/proc/self/fd/N`), for wasmtime APIs that take a
    /// path; `None` when `/proc` is unavailable or does not lead back to the same inode.
    pub fn reopen_path(&self) -> Option<PathBuf> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt as _;
        let path = PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()));
        let via_proc = std::fs::metadata(&path).ok()?;
        let ours = self.file.metadata().ok()?;
        (via_proc.dev() == ours.dev() && via_proc.ino() == ours.ino()).then_some(path)
    }

    /// The artifact's bytes, read into memory (when mapping in place is not possible, e.g. on
    /// a filesystem mounted `noexec`).
    pub fn read_code(&self) -> std::io::Result<Vec<u8>> {
        let mut code = vec![0u8; usize::try_from(self.payload_len).unwrap_or(usize::MAX)];
        self.file.read_exact_at(&mut code, 0)?;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_in(dir: &Path) -> CompileCache {
        let engine = Engine::default();
        CompileCache::open(&dir.join("cache"), &engine).unwrap()
    }

    #[test]
    fn round_trip_and_miss() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let module = Sha256Digest::of(b"module");
        assert!(cache.get(&module).unwrap().is_none());
        cache.put(&module, b"compiled code").unwrap();
        assert_eq!(
            cache.get(&module).unwrap().unwrap().read_code().unwrap(),
            b"compiled code"
        );
        let other = Sha256Digest::of(b"other module");
        assert!(cache.get(&other).unwrap().is_none());
    }

    #[test]
    fn new_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let mode = std::fs::metadata(cache.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        cache.put(&Sha256Digest::of(b"m"), b"x").unwrap();
        let entry = cache.path().join(cache.entry_name(&Sha256Digest::of(b"m")));
        let mode = std::fs::metadata(entry).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_and_foreign_entries_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let module = Sha256Digest::of(b"module");
        cache.put(&module, b"compiled code").unwrap();
        let entry = cache.path().join(cache.entry_name(&module));
        let good = std::fs::read(&entry).unwrap();
        use seal::TRAILER_LEN;
        // A flipped bit in the payload or in any trailer field (module, engine, checksum,
        // length, magic), or a truncated file.
        let trailer = good.len() - TRAILER_LEN;
        for at in [
            0,
            trailer + 1,
            trailer + 40,
            trailer + 70,
            trailer + 84,
            good.len() - 1,
        ] {
            let mut bytes = good.clone();
            bytes[at] ^= 1;
            std::fs::write(&entry, &bytes).unwrap();
            assert!(
                matches!(cache.get(&module), Err(CacheError::BadEntry(_))),
                "flipped byte {at}"
            );
        }
        std::fs::write(&entry, &good[1..]).unwrap();
        assert!(matches!(cache.get(&module), Err(CacheError::BadEntry(_))));
        std::fs::write(&entry, &good).unwrap();
        assert!(cache.get(&module).unwrap().is_some());

        // Another module's entry renamed into this one's place.
        let other = Sha256Digest::of(b"other");
        cache.put(&other, b"other code").unwrap();
        std::fs::rename(cache.path().join(cache.entry_name(&other)), &entry).unwrap();
        assert!(matches!(cache.get(&module), Err(CacheError::BadEntry(_))));

        std::fs::write(&entry, b"short").unwrap();
        assert!(matches!(cache.get(&module), Err(CacheError::BadEntry(_))));
    }

    #[test]
    fn writable_directory_or_entry_is_untrusted() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            CompileCache::open(&dir, &Engine::default()),
            Err(CacheError::Untrusted { .. })
        ));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let cache = CompileCache::open(&dir, &Engine::default()).unwrap();
        let module = Sha256Digest::of(b"m");
        cache.put(&module, b"x").unwrap();
        let entry = dir.join(cache.entry_name(&module));
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(
            cache.get(&module),
            Err(CacheError::Untrusted { .. })
        ));
    }

    #[test]
    fn symlinked_entry_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let module = Sha256Digest::of(b"m");
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"planted").unwrap();
        std::os::unix::fs::symlink(&outside, cache.path().join(cache.entry_name(&module))).unwrap();
        assert!(cache.get(&module).is_err());
        // A write goes to the cache directory, never through the link.
        cache.put(&module, b"code").unwrap();
        assert_eq!(std::fs::read(&outside).unwrap(), b"planted");
        assert_eq!(
            cache.get(&module).unwrap().unwrap().read_code().unwrap(),
            b"code"
        );
    }
}
