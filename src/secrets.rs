//! Ground-floor helpers for secrets, used by configuration, authentication, the Tableau client
//! and the journal alike (so none of them has to import another for it).

use sha2::{Digest, Sha256};
use std::path::Path;

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The SHA-256 digest of `data` in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

/// A secret kept in a file of its own (a token, a PAT secret, a key), without the surrounding
/// whitespace an editor or `echo` leaves.
pub fn read_secret_file(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string())
}
