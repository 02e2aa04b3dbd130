//! Transparency log entries: the Merkle inclusion proof and its signed checkpoint, the signed
//! entry timestamp (SET, Rekor v1's inclusion promise), and the time the log vouches for.

use super::bundle::{BundleVersion, TlogEntry};
use super::checkpoint::{CheckpointError, verify_checkpoint};
use super::keys::encode_base64;
use super::merkle::{ProofError, leaf_hash, verify_inclusion};
use super::trusted_root::TrustedRoot;

/// Why an entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// The bundle's version requires a proof or promise the entry lacks.
    #[error("log entry {index}: {what}")]
    Missing {
        /// The entry's log index.
        index: i64,
        /// What is missing.
        what: &'static str,
    },
    /// The inclusion proof fails.
    #[error("log entry {index}: inclusion proof: {source}")]
    Proof {
        /// The entry's log index.
        index: i64,
        /// Why.
        source: ProofError,
    },
    /// The checkpoint fails.
    #[error("log entry {index}: {source}")]
    Checkpoint {
        /// The entry's log index.
        index: i64,
        /// Why.
        source: CheckpointError,
    },
    /// The checkpoint is for another tree than the proof.
    #[error("log entry {index}: the checkpoint's tree is not the inclusion proof's")]
    CheckpointMismatch {
        /// The entry's log index.
        index: i64,
    },
    /// The signed entry timestamp does not verify, or the log's key was not trusted then.
    #[error("log entry {index}: the signed entry timestamp does not verify")]
    BadPromise {
        /// The entry's log index.
        index: i64,
    },
    /// The log says it integrated the entry after now.
    #[error("log entry {index}: integrated time {time} is in the future")]
    FutureTime {
        /// The entry's log index.
        index: i64,
        /// The integrated time.
        time: i64,
    },
}

/// What checking one entry established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryOutcome {
    /// The entry is from a log the trusted root does not know: it proves nothing.
    UnknownLog,
    /// The entry is in a trusted log; with a verified promise, the log vouches for the time.
    Verified {
        /// The integrated time the SET signs, if there is one.
        signed_time: Option<i64>,
    },
}

/// Checks `entry`'s inclusion proof, checkpoint and promise against `root` (the body's
/// consistency with the bundle is checked by the caller). `now` is Unix seconds.
pub fn verify_entry(
    entry: &TlogEntry,
    version: BundleVersion,
    root: &TrustedRoot,
    now: i64,
) -> Result<EntryOutcome, TlogError> {
    let index = entry.log_index;
    let Some(log) = root.tlog(&entry.log_id) else {
        return Ok(EntryOutcome::UnknownLog);
    };
    // Rekor v2 writes hashedrekord and dsse 0.0.2; intoto 0.0.2 is a Rekor v1 kind.
    let rekor_v2 = entry.version == "0.0.2" && entry.kind != "intoto";
    // A v0.1 bundle may carry a proof without a checkpoint, which proves nothing and is
    // ignored; from v0.2 on (and for every Rekor v2 entry) a proof with checkpoint is required.
    let proof = match &entry.inclusion_proof {
        Some(proof) if proof.checkpoint.is_some() => Some(proof),
        _ if version == BundleVersion::V0_1 && !rekor_v2 => None,
        Some(_) => {
            return Err(TlogError::Missing {
                index,
                what: "the inclusion proof has no checkpoint",
            });
        }
        None => {
            return Err(TlogError::Missing {
                index,
                what: "no inclusion proof",
            });
        }
    };
    if let Some(proof) = proof {
        let leaf = leaf_hash(&entry.body);
        verify_inclusion(
            proof.log_index as u64,
            proof.tree_size as u64,
            leaf,
            &proof.hashes,
            &proof.root_hash,
        )
        .map_err(|source| TlogError::Proof { index, source })?;
        let note = proof.checkpoint.as_deref().unwrap_or_default();
        let checkpoint = verify_checkpoint(note, &log.key, &log.log_id)
            .map_err(|source| TlogError::Checkpoint { index, source })?;
        if checkpoint.root_hash != proof.root_hash || checkpoint.size != proof.tree_size as u64 {
            return Err(TlogError::CheckpointMismatch { index });
        }
    }
    if entry.integrated_time > now {
        return Err(TlogError::FutureTime {
            index,
            time: entry.integrated_time,
        });
    }
    let signed_time = match &entry.inclusion_promise {
        Some(set) if !rekor_v2 => {
            let time = entry.integrated_time;
            if time <= 0 || !log.valid.contains(time) {
                return Err(TlogError::BadPromise { index });
            }
            let canonical = format!(
                "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
                serde_json::Value::String(encode_base64(&entry.body)),
                time,
                serde_json::Value::String(hex::encode(&entry.log_id)),
                index
            );
            log.key
                .verify(log.key.default_hash(), canonical.as_bytes(), set)
                .map_err(|_| TlogError::BadPromise { index })?;
            Some(time)
        }
        _ if version == BundleVersion::V0_1 => {
            return Err(TlogError::Missing {
                index,
                what: "a v0.1 bundle needs an inclusion promise",
            });
        }
        _ => None,
    };
    Ok(EntryOutcome::Verified { signed_time })
}
