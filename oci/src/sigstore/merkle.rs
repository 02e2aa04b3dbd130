//! RFC 6962 / RFC 9162 Merkle inclusion proofs, as Rekor's logs produce them.
//!
//! Written here: the check is the twenty lines of RFC 9162 section 2.1.3.2, and the crates
//! that have it (ct-merkle, sigstore's) tie it to their own tree and proof types.

use sha2::{Digest, Sha256};

/// The hash of a log leaf: SHA-256 over `0x00 || leaf`.
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Why an inclusion proof failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf's index.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// The proof has the wrong number of hashes for this index and size.
    #[error("the proof has {got} hashes, a proof for this leaf has {want}")]
    WrongLength {
        /// Hashes given.
        got: usize,
        /// Hashes required.
        want: usize,
    },
    /// A hash is not 32 bytes.
    #[error("a proof hash is not 32 bytes")]
    BadHash,
    /// The proof leads to another root.
    #[error("the proof does not lead to the tree's root hash")]
    RootMismatch,
}

/// Checks that `leaf` (already hashed) is at `index` in the tree of `size` leaves whose root is
/// `root`, with the audit path `proof`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // The path splits into hashes below the point where the paths to `index` and to the last
    // leaf diverge ("inner"), and the left siblings on the right border above it.
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            want: inner + border,
        });
    }
    if proof.iter().any(|h| h.len() != 32) || root.len() != 32 {
        return Err(ProofError::BadHash);
    }
    let mut hash = leaf;
    for (i, sibling) in proof[..inner].iter().enumerate() {
        hash = if (index >> i) & 1 == 0 {
            node_hash(&hash, sibling)
        } else {
            node_hash(sibling, &hash)
        };
    }
    for sibling in &proof[inner..] {
        hash = node_hash(sibling, &hash);
    }
    if hash.as_slice() == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root of leaves `[lo, hi)` (RFC 9162's MTH), to check proofs against.
    fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let split = leaves.len().next_power_of_two() / 2;
        node_hash(&root(&leaves[..split]), &root(&leaves[split..]))
    }

    /// The audit path for leaf `m` (RFC 9162's PATH).
    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<Vec<u8>> {
        if leaves.len() == 1 {
            return Vec::new();
        }
        let split = leaves.len().next_power_of_two() / 2;
        if m < split {
            let mut p = path(m, &leaves[..split]);
            p.push(root(&leaves[split..]).to_vec());
            p
        } else {
            let mut p = path(m - split, &leaves[split..]);
            p.push(root(&leaves[..split]).to_vec());
            p
        }
    }

    #[test]
    fn every_leaf_of_every_small_tree_proves() {
        for size in 1..=17usize {
            let leaves: Vec<[u8; 32]> = (0..size).map(|i| leaf_hash(&[i as u8])).collect();
            let top = root(&leaves);
            for m in 0..size {
                let proof = path(m, &leaves);
                verify_inclusion(m as u64, size as u64, leaves[m], &proof, &top).unwrap();
                // Another leaf at the same place does not.
                assert_eq!(
                    verify_inclusion(m as u64, size as u64, leaf_hash(b"x"), &proof, &top),
                    Err(ProofError::RootMismatch)
                );
            }
        }
    }

    #[test]
    fn out_of_range_and_wrong_length() {
        let leaf = leaf_hash(b"a");
        assert!(matches!(
            verify_inclusion(1, 1, leaf, &[], &leaf),
            Err(ProofError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            verify_inclusion(0, 1, leaf, &[vec![0; 32]], &leaf),
            Err(ProofError::WrongLength { .. })
        ));
    }
}
