//! Loading a provider module from disk: size cap, digest pin, format detection.
//!
//! Everything here happens before the engine sees a byte, so a tampered or wrong file is refused
//! before anything is compiled or instantiated.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::limits::MAX_MODULE_BYTES;
use crate::regular_file::{OpenError, Symlinks, open_regular};
use crate::units::format_size;

/// What kind of WebAssembly binary a module file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleFormat {
    /// A component (`wasm32-wasip2`): gets WASI preview 2 interfaces.
    Component,
    /// A core module (`wasm32-wasip1`): gets WASI preview 1 (stdio, clocks, random).
    CoreModule,
    /// A component compiled ahead of time to native code (`compile`); runs only with
    /// `--allow-precompiled`.
    PrecompiledComponent,
    /// A core module compiled ahead of time to native code; runs only with `--allow-precompiled`.
    PrecompiledModule,
}

impl ModuleFormat {
    /// Detects the format from the binary's preamble (`\0asm` magic and version/layer).
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        match bytes.get(..8)? {
            [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00] => Some(ModuleFormat::CoreModule),
            [0x00, 0x61, 0x73, 0x6d, _, _, 0x01, 0x00] => Some(ModuleFormat::Component),
            _ => match wasmtime::Engine::detect_precompiled(bytes)? {
                wasmtime::Precompiled::Component => Some(ModuleFormat::PrecompiledComponent),
                wasmtime::Precompiled::Module => Some(ModuleFormat::PrecompiledModule),
            },
        }
    }

    /// Human name for messages and `inspect`.
    pub fn describe(self) -> &'static str {
        match self {
            ModuleFormat::Component => "component (wasm32-wasip2)",
            ModuleFormat::CoreModule => "core module (wasm32-wasip1)",
            ModuleFormat::PrecompiledComponent => "precompiled component (native code)",
            ModuleFormat::PrecompiledModule => "precompiled core module (native code)",
        }
    }
}

/// A SHA-256 digest, written as 64 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Parses 64 hex digits, optionally prefixed by `sha256:`, in either case.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex_digits = text.strip_prefix("sha256:").unwrap_or(text);
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut out)
            .map_err(|_| format!("{text:?} is not a sha256 digest (64 hex digits)"))?;
        Ok(Sha256Digest(out))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

/// Why a module file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    /// The file does not exist.
    #[error("module {0} does not exist")]
    NotFound(PathBuf),
    /// The path names a FIFO, device, directory or socket: only regular files are read (a
    /// FIFO would block the run forever).
    #[error("module {path} is a {kind}, not a regular file: point --module at the module file")]
    NotRegular {
        /// The module path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file could not be opened or read.
    #[error("cannot read module {path}: {source}")]
    Read {
        /// The module path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_MODULE_BYTES`].
    #[error("module {path} is larger than {}", format_size(MAX_MODULE_BYTES))]
    TooLarge {
        /// The module path.
        path: PathBuf,
    },
    /// The file's digest differs from the pinned one.
    #[error("module {path} has digest {actual}, but --sha256 pins {expected}: refusing to run it")]
    DigestMismatch {
        /// The module path.
        path: PathBuf,
        /// The digest of the file.
        actual: Sha256Digest,
        /// The pinned digest.
        expected: Sha256Digest,
    },
    /// The file is not a WebAssembly binary.
    #[error("{path} is not a WebAssembly module or component")]
    NotWasm {
        /// The module path.
        path: PathBuf,
    },
    /// The file was rewritten between hashing it and reading it to compile.
    #[error("module {path} changed while it was being loaded; refusing to run it")]
    Changed {
        /// The module path.
        path: PathBuf,
    },
}

impl ModuleError {
    /// The error for an I/O failure on `path` (a missing file has its own variant).
    fn read(path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            ModuleError::NotFound(path.to_owned())
        } else {
            ModuleError::Read {
                path: path.to_owned(),
                source,
            }
        }
    }
}

/// A module file opened to run: size-capped, its digest checked against the pin, its format
/// known. Its bytes are hashed as they stream past and not kept: a warm start needs only the
/// digest (the compile cache's key), and not holding 0.2-0.5 MiB saves a page fault per 4 KiB on
/// every exec. [`ModuleFile::bytes`] reads them again, from the same open file and against the
/// same digest, when they must be compiled; precompiled code is mapped from the same open file
/// ([`ModuleFile::file`]), and [`ModuleFile::unchanged`] tells whether it was written since.
#[derive(Debug)]
pub struct ModuleFile {
    /// Where it was opened.
    pub path: PathBuf,
    /// SHA-256 of the contents.
    pub digest: Sha256Digest,
    /// Component, core module, or precompiled.
    pub format: ModuleFormat,
    /// Whether its digest was checked against a `--sha256` pin.
    pub pinned: bool,
    hashed: bool,
    file: std::fs::File,
    len: u64,
    opened: FileIdentity,
}

/// What changes when a file is written in place: its inode's size, modification and change
/// times (the change time cannot be set back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileIdentity {
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileIdentity {
    fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// What a chunked read of a module file saw.
struct Scan {
    digest: Sha256Digest,
    len: u64,
    head: Vec<u8>,
}

/// The first bytes of a module that say what it is (wasm preamble; ELF magic of `.cwasm`).
const HEAD_LEN: usize = 8;

impl ModuleFile {
    /// Opens `path` and hashes it (at most [`MAX_MODULE_BYTES`]), refuses it if `pin` is given
    /// and differs, and detects its format.
    pub fn open(path: &Path, pin: Option<&Sha256Digest>) -> Result<Self, ModuleError> {
        Self::open_hashing(path, pin, true)
    }

    /// Like [`ModuleFile::open`], for the run mode: an unpinned precompiled file is not hashed
    /// (nothing needs its digest: its seal's checksum covers its code), so that loading it
    /// costs what a cache hit costs. Its [`ModuleFile::digest`] is then all zeros.
    pub fn open_to_run(path: &Path, pin: Option<&Sha256Digest>) -> Result<Self, ModuleError> {
        Self::open_hashing(path, pin, false)
    }

    fn open_hashing(
        path: &Path,
        pin: Option<&Sha256Digest>,
        always_hash: bool,
    ) -> Result<Self, ModuleError> {
        let read_error = |source: std::io::Error| ModuleError::read(path, source);
        let (file, meta) = open_regular(path, Symlinks::Follow).map_err(|e| match e {
            OpenError::Io(source) => read_error(source),
            OpenError::NotRegular(kind) => ModuleError::NotRegular {
                path: path.to_owned(),
                kind,
            },
        })?;
        let skip_hash = !always_hash && pin.is_none() && {
            use std::os::unix::fs::FileExt;
            let mut head = [0u8; 4];
            file.read_exact_at(&mut head, 0).is_ok() && head == *b"\x7fELF"
        };
        let scan = if skip_hash {
            Scan {
                digest: Sha256Digest([0; 32]),
                len: meta.len(),
                head: b"\x7fELF".to_vec(),
            }
        } else {
            scan(&file).map_err(read_error)?
        };
        if scan.len > MAX_MODULE_BYTES {
            return Err(ModuleError::TooLarge {
                path: path.to_owned(),
            });
        }
        if let Some(expected) = pin.filter(|expected| **expected != scan.digest) {
            return Err(ModuleError::DigestMismatch {
                path: path.to_owned(),
                actual: scan.digest,
                expected: *expected,
            });
        }
        let mut module = ModuleFile {
            path: path.to_owned(),
            digest: scan.digest,
            format: ModuleFormat::CoreModule,
            pinned: pin.is_some(),
            hashed: !skip_hash,
            file,
            len: scan.len,
            opened: FileIdentity::of(&meta),
        };
        module.format =
            match ModuleFormat::detect(&scan.head) {
                Some(format) => format,
                // Too short to tell, or precompiled: telling a `.cwasm`'s kind reads its ELF headers.
                None if scan.head.starts_with(b"\x7fELF") => module
                    .detect_precompiled()?
                    .ok_or_else(|| ModuleError::NotWasm {
                        path: path.to_owned(),
                    })?,
                None => {
                    return Err(ModuleError::NotWasm {
                        path: path.to_owned(),
                    });
                }
            };
        Ok(module)
    }

    /// The kind of a precompiled file, read through `/proc/self/fd` (this very open file), or
    /// from its bytes where `/proc` is missing.
    fn detect_precompiled(&self) -> Result<Option<ModuleFormat>, ModuleError> {
        use std::os::fd::AsRawFd;
        let kind = |found: Option<wasmtime::Precompiled>| {
            found.map(|kind| match kind {
                wasmtime::Precompiled::Component => ModuleFormat::PrecompiledComponent,
                wasmtime::Precompiled::Module => ModuleFormat::PrecompiledModule,
            })
        };
        let via_proc = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        match wasmtime::Engine::detect_precompiled_file(&via_proc) {
            Ok(found) => Ok(kind(found)),
            Err(_) => Ok(kind(wasmtime::Engine::detect_precompiled(&self.bytes()?))),
        }
    }

    /// The open file (for mapping precompiled code in place).
    pub fn file(&self) -> &std::fs::File {
        &self.file
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the open file is still as it was when opened and hashed: not written in place
    /// since (checked after precompiled code was mapped from it).
    pub fn unchanged(&self) -> bool {
        self.file
            .metadata()
            .is_ok_and(|meta| FileIdentity::of(&meta) == self.opened)
    }

    /// The module's contents: read again from the open file and checked against the digest
    /// (a file rewritten since it was opened is refused).
    pub fn bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>, ModuleError> {
        use std::os::unix::fs::FileExt;
        let len = usize::try_from(self.len).unwrap_or(usize::MAX);
        let mut bytes = vec![0u8; len];
        self.file
            .read_exact_at(&mut bytes, 0)
            .map_err(|e| ModuleError::read(&self.path, e))?;
        if self.hashed && Sha256Digest::of(&bytes) != self.digest {
            return Err(ModuleError::Changed {
                path: self.path.clone(),
            });
        }
        Ok(bytes.into())
    }
}

/// Hashes a file in chunks, keeping only its first [`HEAD_LEN`] bytes. Reads at most one chunk
/// past [`MAX_MODULE_BYTES`], so a huge file is refused without being read whole.
fn scan(mut file: &std::fs::File) -> std::io::Result<Scan> {
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(HEAD_LEN);
    let mut buffer = [0u8; 16 * 1024];
    let mut len = 0u64;
    while len <= MAX_MODULE_BYTES {
        let n = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buffer[..n];
        if head.len() < HEAD_LEN {
            let take = (HEAD_LEN - head.len()).min(n);
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(chunk);
        len += n as u64;
    }
    Ok(Scan {
        digest: Sha256Digest(hasher.finalize().into()),
        len,
        head,
    })
}

/// A module file read into memory, its digest checked and its format known (for the tools;
/// the run mode uses [`ModuleFile`]).
#[derive(Clone, Debug)]
pub struct ModuleBytes {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's contents.
    pub bytes: Vec<u8>,
    /// SHA-256 of the contents.
    pub digest: Sha256Digest,
    /// Component or core module.
    pub format: ModuleFormat,
}

impl ModuleBytes {
    /// Reads `path` (at most [`MAX_MODULE_BYTES`]), refuses it if `pin` is given and differs, and
    /// detects its format.
    pub fn load(path: &Path, pin: Option<&Sha256Digest>) -> Result<Self, ModuleError> {
        let module = ModuleFile::open(path, pin)?;
        let bytes = module.bytes()?.into_owned();
        Ok(ModuleBytes {
            path: module.path,
            bytes,
            digest: module.digest,
            format: module.format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(
            ModuleFormat::detect(b"\0asm\x01\0\0\0rest"),
            Some(ModuleFormat::CoreModule)
        );
        assert_eq!(
            ModuleFormat::detect(b"\0asm\x0d\0\x01\0rest"),
            Some(ModuleFormat::Component)
        );
        assert_eq!(ModuleFormat::detect(b"\x7fELF\x02\x01\x01\0"), None);
        assert_eq!(ModuleFormat::detect(b"\0asm"), None);
    }

    #[test]
    fn module_file_hashes_in_chunks_and_rereads_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m.wasm");
        // Several read chunks long, with a core-module preamble.
        let mut content = b"\0asm\x01\0\0\0".to_vec();
        content.extend((0..100_000u32).map(|i| (i % 251) as u8));
        std::fs::write(&path, &content).unwrap();
        let digest = Sha256Digest::of(&content);

        let module = ModuleFile::open(&path, Some(&digest)).unwrap();
        assert_eq!(module.digest, digest);
        assert_eq!(module.format, ModuleFormat::CoreModule);
        assert_eq!(&*module.bytes().unwrap(), &content[..]);

        // Rewritten in place after it was hashed: reading it to compile refuses it.
        let mut changed = content.clone();
        changed[50_000] ^= 1;
        std::fs::write(&path, &changed).unwrap();
        assert!(matches!(module.bytes(), Err(ModuleError::Changed { .. })));

        let wrong = Sha256Digest::of(b"other");
        assert!(matches!(
            ModuleFile::open(&path, Some(&wrong)),
            Err(ModuleError::DigestMismatch { .. })
        ));
        std::fs::write(&path, b"\0asm").unwrap();
        assert!(matches!(
            ModuleFile::open(&path, None),
            Err(ModuleError::NotWasm { .. })
        ));
        assert!(matches!(
            ModuleFile::open(&tmp.path().join("missing.wasm"), None),
            Err(ModuleError::NotFound(_))
        ));
    }

    /// A FIFO would block the open (and the run) forever: it is refused at once, by what it is.
    #[test]
    fn non_regular_module_paths_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("m.wasm");
        crate::regular_file::make_fifo(&fifo);
        let err = ModuleFile::open(&fifo, None).unwrap_err();
        assert!(
            matches!(err, ModuleError::NotRegular { kind: "FIFO", .. }),
            "{err}"
        );
        assert!(matches!(
            ModuleFile::open(tmp.path(), None),
            Err(ModuleError::NotRegular {
                kind: "directory",
                ..
            })
        ));
    }

    #[test]
    fn parses_digests() {
        let hex_digits = "ab".repeat(32);
        let d = Sha256Digest::parse(&hex_digits).unwrap();
        assert_eq!(
            Sha256Digest::parse(&format!("sha256:{hex_digits}")).unwrap(),
            d
        );
        assert_eq!(Sha256Digest::parse(&hex_digits.to_uppercase()).unwrap(), d);
        assert!(Sha256Digest::parse("abc").is_err());
        assert!(Sha256Digest::parse(&"zz".repeat(32)).is_err());
        assert_eq!(d.to_string(), format!("sha256:{hex_digits}"));
    }
}
