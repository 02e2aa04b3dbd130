//! One compile per cache miss, however many execs miss at once.
//!
//! A node starting many pods execs the same provider many times at once; on an empty cache each
//! exec used to compile the module itself (16 execs: 16 compiles of CPU). The first exec to miss
//! takes an exclusive `flock` on a lock file beside the entry and compiles; the others wait for
//! that lock, then find the entry. The lock goes with the process, so a compiler that crashes
//! or is killed frees it at once. Waiting is bounded by the waiter (see `sandbox::load`): past
//! its bound it compiles itself rather than fail.

use std::time::{Duration, Instant};

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{OpenOptions, OpenOptionsExt};

use super::{CacheError, CompileCache, LOCK_PREFIX};
use crate::module::Sha256Digest;

/// How often a waiter tries the lock again.
const POLL: Duration = Duration::from_millis(5);

/// A lock file for one entry, held or not.
pub struct CompileLock {
    file: std::fs::File,
}

/// How a wait for another exec's compile ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// The lock is ours: no one else is compiling (any more).
    Acquired,
    /// Someone still held it at the bound.
    GaveUp,
}

impl CompileCache {
    /// The lock file name for `module`'s entry.
    pub(super) fn lock_name(&self, module: &Sha256Digest) -> String {
        format!("{LOCK_PREFIX}{}", self.entry_name(module))
    }

    /// Opens (creating it, mode 0600, never through a symlink) the lock file of `module`'s entry.
    pub fn compile_lock(&self, module: &Sha256Digest) -> Result<CompileLock, CacheError> {
        let name = self.lock_name(module);
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .follow(FollowSymlinks::No);
        let file = self
            .dir
            .open_with(&name, &options)
            .map_err(|source| CacheError::Io { name, source })?;
        Ok(CompileLock {
            file: file.into_std(),
        })
    }
}

impl CompileLock {
    /// Takes the lock if no one holds it.
    pub fn try_acquire(&self) -> bool {
        rustix::fs::flock(
            &self.file,
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        )
        .is_ok()
    }

    /// Takes the lock, waiting for whoever holds it until `until`.
    pub fn acquire_until(&self, until: Instant) -> Waited {
        loop {
            if self.try_acquire() {
                return Waited::Acquired;
            }
            let now = Instant::now();
            if now >= until {
                return Waited::GaveUp;
            }
            std::thread::sleep(POLL.min(until - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_waiters_are_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let cache =
            CompileCache::open(&tmp.path().join("c"), &wasmtime::Engine::default()).unwrap();
        let module = Sha256Digest::of(b"m");
        let first = cache.compile_lock(&module).unwrap();
        let second = cache.compile_lock(&module).unwrap();
        assert!(first.try_acquire());
        // flock locks belong to the open file description: a second open is a second party.
        assert!(!second.try_acquire());
        let start = Instant::now();
        assert_eq!(
            second.acquire_until(start + Duration::from_millis(50)),
            Waited::GaveUp
        );
        assert!(start.elapsed() >= Duration::from_millis(50));
        drop(first);
        assert_eq!(
            second.acquire_until(Instant::now() + Duration::from_secs(5)),
            Waited::Acquired
        );
    }
}
