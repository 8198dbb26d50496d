//! Bounded reads of the files a deployment and its stations are handed
//! (credentials, TLS certificates and keys, certificate authorities, exports,
//! contents, scripts): each kind has a size limit, and a file over it, or an
//! endless one (a device, a pipe), is refused naming the limit, never read
//! into memory whole.

use std::io::Read;
use std::path::Path;

/// A PEM file: a certificate chain, a private key or a certificate authority.
pub const MAX_PEM_BYTES: u64 = 1 << 20;
/// The credentials file (token hashes and roles).
pub const MAX_CREDENTIALS_BYTES: u64 = 16 << 20;
/// A small marker or witness file.
pub const MAX_MARKER_BYTES: u64 = 4096;

/// Reads `path` whole if it holds at most `limit` bytes. A longer file is an
/// `InvalidData` error whose message names the limit and `what` the file is.
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("larger than {limit} bytes, the limit for {what}")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_limit_is_read_one_over_it_and_an_endless_one_are_refused_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [7u8; 10]).unwrap();
        assert_eq!(read_bounded(&path, 10, "a test file").unwrap(), vec![7u8; 10]);
        let over = read_bounded(&path, 9, "a test file").unwrap_err();
        assert_eq!(over.to_string(), "larger than 9 bytes, the limit for a test file");
        let endless = read_bounded(Path::new("/dev/zero"), 1 << 16, "a test file").unwrap_err();
        assert!(endless.to_string().contains("larger than 65536 bytes"), "{endless}");
        assert_eq!(read_bounded(&dir.path().join("missing"), 10, "x").unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
