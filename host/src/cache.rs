//! A cache of compiled guest code, so an exec deserializes native code instead of compiling.
//!
//! Loading compiled code is running native code: whoever can write a cache entry controls the
//! node. So the cache trusts a directory only if this user owns it and nobody else can write to
//! it, opens every entry through that directory's handle (cap-std) without following symlinks,
//! checks each entry's owner and mode, and checks an envelope before handing the payload to
//! wasmtime: the module's digest and the engine's configuration hash (an entry for another
//! module or engine is "foreign"), and a SHA-256 of the payload (a torn or corrupted entry).
//! Entries are written to a temporary file and renamed into place, so concurrent execs only ever
//! see whole entries. Any problem falls back to compiling, with a warning: never a failure.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, MetadataExt, OpenOptions, OpenOptionsExt};
use sha2::{Digest, Sha256};
use wasmtime::Engine;

use crate::module::Sha256Digest;

/// Version of the entry layout; bump when it changes.
const FORMAT_MAGIC: &[u8; 8] = b"WCPCACH1";
/// Header: magic, module digest, engine hash, payload digest.
const HEADER_LEN: usize = 8 + 32 + 32 + 32;
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
    let me = rustix::process::geteuid().as_raw();
    let problem = if uid != me {
        Some(format!("owned by uid {uid}, not by this user (uid {me})"))
    } else if mode & 0o022 != 0 {
        Some(format!(
            "writable by group or others (mode {:o})",
            mode & 0o7777
        ))
    } else {
        None
    };
    match problem {
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
        format!(
            "{}-{}.cwasm",
            module.to_hex(),
            &hex::encode(self.engine_hash)[..16]
        )
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
        if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES || meta.len() < HEADER_LEN as u64 {
            return Err(CacheError::BadEntry(name));
        }
        check_owner_and_mode(&format!("cache entry {name}"), meta.uid(), meta.mode())?;
        let map = map_file(file.into_std()).map_err(io)?;
        if !self.envelope_holds(module, &map) {
            return Err(CacheError::BadEntry(name));
        }
        Ok(Some(CachedCode { map }))
    }

    /// Stores compiled code for `module`: written to a private temporary file, then renamed over
    /// the entry, so a concurrent reader sees the old entry, the new one, or none.
    pub fn put(&self, module: &Sha256Digest, compiled: &[u8]) -> Result<(), CacheError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = self.entry_name(module);
        let temp = format!(
            ".tmp-{}-{}-{}",
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
            file.write_all(&self.envelope(module, compiled))?;
            file.sync_all()?;
            self.dir.rename(&temp, &self.dir, &name)
        })();
        if result.is_err() {
            let _ = self.dir.remove_file(&temp);
        }
        result.map_err(io)
    }

    fn envelope(&self, module: &Sha256Digest, compiled: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + compiled.len());
        out.extend_from_slice(FORMAT_MAGIC);
        out.extend_from_slice(&module.0);
        out.extend_from_slice(&self.engine_hash);
        out.extend_from_slice(&Sha256::digest(compiled));
        out.extend_from_slice(compiled);
        out
    }

    /// Whether an entry's header names this module and engine and its payload digest holds.
    fn envelope_holds(&self, module: &Sha256Digest, entry: &[u8]) -> bool {
        let (Some(header), Some(payload)) = (entry.get(..HEADER_LEN), entry.get(HEADER_LEN..))
        else {
            return false;
        };
        let (magic, rest) = header.split_at(8);
        let (module_digest, rest) = rest.split_at(32);
        let (engine, payload_digest) = rest.split_at(32);
        magic == FORMAT_MAGIC
            && module_digest == module.0
            && engine == self.engine_hash
            && Sha256::digest(payload).as_slice() == payload_digest
    }
}

/// A checked cache entry, mapped read-only (mapping rather than reading halves the cost of a
/// warm start: the payload is copied once, by wasmtime, instead of twice).
pub struct CachedCode {
    map: memmap2::Mmap,
}

impl CachedCode {
    /// The compiled code (wasmtime's precompiled format).
    pub fn code(&self) -> &[u8] {
        self.map.get(HEADER_LEN..).unwrap_or_default()
    }
}

/// Maps a cache entry read-only.
///
/// Mapping a file is `unsafe` because another process could change it underneath us. The
/// entry was opened through the trusted directory handle and checked to be a regular file owned
/// by this user and writable by no one else, and entries are only ever replaced by rename
/// (never written in place), so the mapped contents cannot change.
#[allow(unsafe_code)]
fn map_file(file: std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: per the function doc, nobody else can modify the mapped file.
    unsafe { memmap2::Mmap::map(&file) }
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
            cache.get(&module).unwrap().unwrap().code(),
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
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&entry, &bytes).unwrap();
        assert!(matches!(cache.get(&module), Err(CacheError::BadEntry(_))));

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
        assert_eq!(cache.get(&module).unwrap().unwrap().code(), b"code");
    }
}
