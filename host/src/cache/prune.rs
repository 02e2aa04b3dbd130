//! Removing what a cache directory no longer needs: entries (and their lock files) made by
//! another engine configuration, i.e. an earlier or later host version, which this host would
//! never load, and temporary files a crashed writer left behind.
//!
//! Removing is unlinking: an exec that has an entry mapped keeps its pages (the inode lives
//! until it is unmapped), so pruning never disturbs a running exec. Entries of this engine are
//! never removed, nor is anything the cache did not write.

use std::time::{Duration, SystemTime};

use super::{CompileCache, LOCK_PREFIX, TEMP_PREFIX};

/// A temporary file older than this belongs to a writer that died.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// What a prune removed and kept.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// File names removed.
    pub removed: Vec<String>,
    /// Entries of this engine left in place.
    pub kept_entries: usize,
}

/// What a cache directory's file is, by its name.
#[derive(Debug, PartialEq, Eq)]
enum Kind<'a> {
    /// `<digest>-<engine>.cwasm`, with its engine part.
    Entry(&'a str),
    /// `.lock-<entry>`, with its entry's engine part.
    Lock(&'a str),
    /// `.tmp-...`.
    Temp,
    /// Not the cache's.
    Other,
}

/// The engine part of an entry name, if it is one.
fn engine_of(entry: &str) -> Option<&str> {
    let stem = entry.strip_suffix(".cwasm")?;
    let (digest, engine) = stem.split_once('-')?;
    let hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(digest, 64) && hex(engine, 16)).then_some(engine)
}

fn kind(name: &str) -> Kind<'_> {
    if name.starts_with(TEMP_PREFIX) {
        return Kind::Temp;
    }
    if let Some(entry) = name.strip_prefix(LOCK_PREFIX) {
        return engine_of(entry).map_or(Kind::Other, Kind::Lock);
    }
    engine_of(name).map_or(Kind::Other, Kind::Entry)
}

impl CompileCache {
    /// This engine's part of entry names.
    pub(super) fn engine_tag(&self) -> String {
        hex::encode(self.engine_hash)[..16].to_owned()
    }

    /// Removes other engines' entries and lock files, and stale temporary files. Best effort:
    /// a file that cannot be removed is left (and not reported as removed).
    pub fn prune(&self) -> std::io::Result<Pruned> {
        let ours = self.engine_tag();
        let now = SystemTime::now();
        let mut pruned = Pruned::default();
        for entry in self.dir.entries()? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let remove = match kind(&name) {
                Kind::Entry(engine) if engine == ours => {
                    pruned.kept_entries += 1;
                    false
                }
                Kind::Entry(_) => true,
                Kind::Lock(engine) => engine != ours,
                Kind::Temp => entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|modified| now.duration_since(modified.into_std()).ok())
                    .is_some_and(|age| age > STALE_TEMP_AGE),
                Kind::Other => false,
            };
            if remove && self.dir.remove_file(&name).is_ok() {
                pruned.removed.push(name);
            }
        }
        pruned.removed.sort();
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::Sha256Digest;

    #[test]
    fn names_are_told_apart() {
        let entry = format!("{}-{}.cwasm", "a".repeat(64), "b".repeat(16));
        assert_eq!(kind(&entry), Kind::Entry(&"b".repeat(16)));
        assert_eq!(kind(&format!(".lock-{entry}")), Kind::Lock(&"b".repeat(16)));
        assert_eq!(kind(".tmp-1-2-3"), Kind::Temp);
        for other in [
            "notes.txt",
            "x-y.cwasm",
            &format!("{}-{}.cwasm", "g".repeat(64), "b".repeat(16)),
        ] {
            assert_eq!(kind(other), Kind::Other, "{other}");
        }
    }

    #[test]
    fn other_engines_go_this_engines_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c");
        let cache = CompileCache::open(&dir, &wasmtime::Engine::default()).unwrap();
        let module = Sha256Digest::of(b"m");
        cache.put(&module, b"code").unwrap();
        let _lock = cache.compile_lock(&module).unwrap();
        let old_entry = format!("{}-{}.cwasm", module.to_hex(), "0".repeat(16));
        for name in [
            old_entry.as_str(),
            &format!(".lock-{old_entry}"),
            ".tmp-9-9-9",
            "notes.txt",
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let pruned = cache.prune().unwrap();
        assert_eq!(
            pruned.removed,
            [format!(".lock-{old_entry}"), old_entry.clone()]
        );
        assert_eq!(pruned.kept_entries, 1);
        // A fresh temporary file may be a write in progress; the operator's file is not ours.
        assert!(dir.join(".tmp-9-9-9").exists());
        assert!(dir.join("notes.txt").exists());
        assert!(cache.get(&module).unwrap().is_some());
        assert!(dir.join(cache.lock_name(&module)).exists());
    }
}
