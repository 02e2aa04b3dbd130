//! Every cap the registry client and the verifier enforce, with the threat each answers.

use std::time::Duration;

/// Largest module pulled. The same bound as the host's own module loader: a registry that
/// answers a huge layer must not fill memory or the disk.
pub const MAX_MODULE_BYTES: u64 = 128 * 1024 * 1024;
/// Largest manifest, referrers index or signature layer read: they are a few KiB.
pub const MAX_METADATA_BYTES: u64 = 4 * 1024 * 1024;
/// Most signature candidates (referrers plus the `.sig` tag's layers) examined for one pull:
/// each costs requests and signature checks.
pub const MAX_SIGNATURE_CANDIDATES: usize = 32;
/// Largest auth file read.
pub const MAX_AUTH_FILE_BYTES: u64 = 1024 * 1024;
/// Largest answer read from a credential helper.
pub const MAX_HELPER_OUTPUT_BYTES: u64 = 64 * 1024;
/// Longest a credential helper may take to answer.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect timeout for each registry connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between bytes of a registry response.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for a whole push or pull, every request included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);
