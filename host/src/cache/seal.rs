//! The seal on compiled code this host wrote: a trailer after wasmtime's artifact naming the
//! module it was compiled from, the engine configuration that compiled it, and a checksum of
//! the artifact. Cache entries and `.cwasm` files (`compile -o`) carry the same seal, so both
//! are checked the same way and both can be mapped in place (wasmtime reads the artifact's ELF
//! section table and ignores bytes after it).
//!
//! The checksum (XXH3-128) catches torn or corrupted files, not attackers: what makes sealed
//! code trustworthy is who may write it (see [`crate::cache`]).

use std::os::unix::fs::FileExt;

use xxhash_rust::xxh3::Xxh3;

use crate::module::Sha256Digest;

/// Version of the layout; bump when it changes.
const MAGIC: &[u8; 8] = b"WCPCACH2";
/// Trailer: module digest, engine hash, payload checksum, payload length, magic.
pub const TRAILER_LEN: usize = 32 + 32 + 16 + 8 + 8;

/// Why sealed code was refused.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// No seal: not written by this host (or too short to hold one).
    #[error("it carries no seal of this host's `compile`")]
    Missing,
    /// Sealed by another engine configuration (another host version).
    #[error("it was compiled by another engine configuration (another host version)")]
    OtherEngine,
    /// Sealed for another module.
    #[error("it was compiled from another module")]
    OtherModule,
    /// The artifact does not match its checksum.
    #[error("its code does not match its checksum (torn or corrupted)")]
    Corrupt,
    /// Reading it failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The trailer sealing `compiled`, compiled from `module` by the engine with `engine_hash`.
pub fn trailer(
    engine_hash: &[u8; 32],
    module: &Sha256Digest,
    compiled: &[u8],
) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    let fields: [&[u8]; 5] = [
        &module.0,
        engine_hash,
        &xxhash_rust::xxh3::xxh3_128(compiled).to_le_bytes(),
        &(compiled.len() as u64).to_le_bytes(),
        MAGIC,
    ];
    let mut at = 0;
    for field in fields {
        out[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    out
}

/// `compiled` with its seal appended.
pub fn sealed(engine_hash: &[u8; 32], module: &Sha256Digest, compiled: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(compiled.len() + TRAILER_LEN);
    out.extend_from_slice(compiled);
    out.extend_from_slice(&trailer(engine_hash, module, compiled));
    out
}

/// Checks the seal of `file` (`len` bytes) for this engine (and `module`, if given) and, if
/// `verify_checksum`, the artifact against its checksum (skipped when the caller has already
/// checked the whole file's SHA-256 against a pin). Returns the artifact's length.
pub fn open(
    file: &std::fs::File,
    len: u64,
    engine_hash: &[u8; 32],
    module: Option<&Sha256Digest>,
    verify_checksum: bool,
) -> Result<u64, SealError> {
    let payload_len = len
        .checked_sub(TRAILER_LEN as u64)
        .ok_or(SealError::Missing)?;
    let mut trailer = [0u8; TRAILER_LEN];
    file.read_exact_at(&mut trailer, payload_len)?;
    let (module_digest, rest) = trailer.split_at(32);
    let (engine, rest) = rest.split_at(32);
    let (checksum, rest) = rest.split_at(16);
    let (length, magic) = rest.split_at(8);
    if magic != MAGIC || u64::from_le_bytes(length.try_into().unwrap_or_default()) != payload_len {
        return Err(SealError::Missing);
    }
    if engine != engine_hash {
        return Err(SealError::OtherEngine);
    }
    if module.is_some_and(|module| module_digest != module.0) {
        return Err(SealError::OtherModule);
    }
    let expected = u128::from_le_bytes(checksum.try_into().unwrap_or_default());
    if verify_checksum && payload_checksum(file, payload_len)? != expected {
        return Err(SealError::Corrupt);
    }
    Ok(payload_len)
}

/// XXH3-128 of the first `len` bytes of `file`, read in chunks (no mapping, no big buffer).
fn payload_checksum(file: &std::fs::File, len: u64) -> std::io::Result<u128> {
    let mut hasher = Xxh3::new();
    let mut buffer = [0u8; 16 * 1024];
    let mut offset = 0u64;
    while offset < len {
        let want = buffer
            .len()
            .min(usize::try_from(len - offset).unwrap_or(usize::MAX));
        let n = file.read_at(&mut buffer[..want], offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buffer[..n]);
        offset += n as u64;
    }
    Ok(hasher.digest128())
}
