//! Loading a provider module from disk: size cap, digest pin, format detection.
//!
//! Everything here happens before the engine sees a byte, so a tampered or wrong file is refused
//! before anything is compiled or instantiated.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::limits::MAX_MODULE_BYTES;
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
}

/// A module file read into memory, its digest checked and its format known.
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
        let read_error = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ModuleError::NotFound(path.to_owned())
            } else {
                ModuleError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut bytes = Vec::new();
        file.take(MAX_MODULE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_MODULE_BYTES {
            return Err(ModuleError::TooLarge {
                path: path.to_owned(),
            });
        }
        let digest = Sha256Digest::of(&bytes);
        if let Some(expected) = pin.filter(|expected| **expected != digest) {
            return Err(ModuleError::DigestMismatch {
                path: path.to_owned(),
                actual: digest,
                expected: *expected,
            });
        }
        let format = ModuleFormat::detect(&bytes).ok_or_else(|| ModuleError::NotWasm {
            path: path.to_owned(),
        })?;
        Ok(ModuleBytes {
            path: path.to_owned(),
            bytes,
            digest,
            format,
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
