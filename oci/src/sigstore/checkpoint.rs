//! Signed checkpoints (tree heads) in the signed-note format Rekor v1 and v2 write: a body of
//! origin, tree size, base64 root hash and optional extension lines, a blank line, then one
//! `— <name> <base64(key hint || signature)>` line per signer (the log and any witnesses).
//!
//! Written here because the format is a few lines of text and no maintained Rust crate of this
//! field parses Rekor's notes with their key-hint rules.

use super::keys::{PublicKey, decode_base64};

/// Longest checkpoint accepted (a body and a few signatures are well under 1 KiB).
pub const MAX_CHECKPOINT_BYTES: usize = 64 * 1024;

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root_hash: Vec<u8>,
}

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note's layout is wrong.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature line carries the log's key hint.
    #[error("the checkpoint has no signature from the log")]
    NoLogSignature,
    /// The log's signature does not verify.
    #[error("the checkpoint's log signature does not verify")]
    BadSignature,
}

/// Parses `note` and checks that the log (its key and `log_id`, whose first four bytes are
/// the key hint) signed it. Signatures of other signers (witnesses' cosignatures) are ignored.
pub fn verify_checkpoint(
    note: &str,
    log_key: &PublicKey,
    log_id: &[u8],
) -> Result<Checkpoint, CheckpointError> {
    if note.len() > MAX_CHECKPOINT_BYTES {
        return Err(CheckpointError::Malformed("too long"));
    }
    let Some((body, signatures)) = note.split_once("\n\n") else {
        return Err(CheckpointError::Malformed(
            "no blank line before the signatures",
        ));
    };
    if signatures.contains("\n\n") {
        return Err(CheckpointError::Malformed("more than one blank line"));
    }
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(CheckpointError::Malformed(
            "the signature block is empty or does not end with a newline",
        ));
    }
    // What is signed: the body with its final newline.
    let signed = &note[..body.len() + 1];
    let mut lines = body.split('\n');
    let origin = lines.next().unwrap_or_default();
    if origin.is_empty() {
        return Err(CheckpointError::Malformed("empty origin"));
    }
    let size: u64 = lines
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(CheckpointError::Malformed("no tree size"))?;
    let root_hash = lines
        .next()
        .and_then(decode_base64)
        .filter(|h| h.len() == 32)
        .ok_or(CheckpointError::Malformed("no root hash"))?;
    let hint = log_id.get(..4).ok_or(CheckpointError::NoLogSignature)?;
    let mut found_hint = false;
    for line in signatures.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(CheckpointError::Malformed(
                "a signature line does not start with an em dash",
            ));
        };
        let Some((_name, encoded)) = rest.split_once(' ') else {
            return Err(CheckpointError::Malformed(
                "a signature line has no signature",
            ));
        };
        let raw = decode_base64(encoded)
            .ok_or(CheckpointError::Malformed("a signature is not base64"))?;
        if raw.len() < 5 {
            return Err(CheckpointError::Malformed("a signature is too short"));
        }
        if &raw[..4] != hint {
            continue;
        }
        found_hint = true;
        if log_key
            .verify(log_key.default_hash(), signed.as_bytes(), &raw[4..])
            .is_ok()
        {
            return Ok(Checkpoint {
                origin: origin.to_owned(),
                size,
                root_hash,
            });
        }
    }
    Err(if found_hint {
        CheckpointError::BadSignature
    } else {
        CheckpointError::NoLogSignature
    })
}
