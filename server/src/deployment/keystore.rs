//! The keystore: a deployment's master secrets, drawn once from the operating
//! system's CSPRNG by `encore init` and read only by `encore serve`.
//!
//! `DIR/keystore`, mode 0600, 201 bytes: the magic `encore-keystore-v1\n`
//! (19 bytes), five 32-byte secrets (issuer, license server, certificate,
//! device root, content root), then the first 22 bytes of blake3 over all of
//! that. Nothing here ever prints a secret: errors name the file only.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use encore_actors::Secrets;
use encore_domain::groups::CertificateKey;
use encore_domain::licensing::{IssuerSecret, LicenseServerKey};

const MAGIC: &[u8; 19] = b"encore-keystore-v1\n";
const SECRETS: usize = 5;
const CHECK_BYTES: usize = 22;
const FILE_BYTES: usize = MAGIC.len() + SECRETS * 32 + CHECK_BYTES;

/// Why the keystore could not be made or read. No variant holds key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    #[error("{path}: the operating system's random source failed: {reason}")]
    Random { path: String, reason: String },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: not an Encore keystore ({reason})")]
    Invalid { path: String, reason: String },
    #[error("{path}: readable by others (mode {mode:o}); it must be 0600")]
    TooOpen { path: String, mode: u32 },
}

/// Draws every secret from the OS CSPRNG and writes the keystore (mode 0600,
/// synced; refuses to overwrite an existing file).
pub fn create(path: &Path) -> Result<(), KeystoreError> {
    let name = path.display().to_string();
    let mut bytes = Vec::with_capacity(FILE_BYTES);
    bytes.extend_from_slice(MAGIC);
    let mut secrets = [0u8; SECRETS * 32];
    getrandom::fill(&mut secrets).map_err(|e| KeystoreError::Random { path: name.clone(), reason: e.to_string() })?;
    bytes.extend_from_slice(&secrets);
    secrets.fill(0);
    let check = blake3::hash(&bytes);
    bytes.extend_from_slice(&check.as_bytes()[..CHECK_BYTES]);
    assert_eq!(bytes.len(), FILE_BYTES, "keystore layout");
    let io = |e: std::io::Error| KeystoreError::Io { path: name.clone(), reason: e.to_string() };
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    bytes.fill(0);
    file.sync_all().map_err(io)
}

/// Reads the keystore into the runtime's secrets.
pub fn load(path: &Path) -> Result<Secrets, KeystoreError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| KeystoreError::Io { path: name.clone(), reason: e.to_string() };
    let metadata = std::fs::metadata(path).map_err(io)?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeystoreError::TooOpen { path: name, mode });
    }
    if metadata.len() != FILE_BYTES as u64 {
        return Err(KeystoreError::Invalid { path: name, reason: format!("{} bytes, not {FILE_BYTES}", metadata.len()) });
    }
    let mut bytes = std::fs::read(path).map_err(io)?;
    let result = parse(&bytes).map_err(|reason| KeystoreError::Invalid { path: name, reason: reason.to_string() });
    bytes.fill(0);
    result
}

fn parse(bytes: &[u8]) -> Result<Secrets, &'static str> {
    if bytes.len() != FILE_BYTES || !bytes.starts_with(MAGIC) {
        return Err("wrong magic or length");
    }
    let (body, check) = bytes.split_at(FILE_BYTES - CHECK_BYTES);
    if blake3::hash(body).as_bytes()[..CHECK_BYTES] != *check {
        return Err("checksum mismatch");
    }
    let secret = |i: usize| -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&body[MAGIC.len() + i * 32..MAGIC.len() + (i + 1) * 32]);
        out
    };
    Ok(Secrets::new(IssuerSecret::from_bytes(secret(0)), LicenseServerKey::from_bytes(secret(1)), CertificateKey::from_bytes(secret(2)), secret(3), secret(4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystores_are_random_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        create(&a).unwrap();
        create(&b).unwrap();
        assert_eq!(std::fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o600);
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "every keystore draws its own secrets");
        assert_ne!(load(&a).unwrap().issuer(), load(&b).unwrap().issuer());
        assert!(matches!(create(&a), Err(KeystoreError::Io { .. })), "never overwritten");
        let mut bytes = std::fs::read(&a).unwrap();
        bytes[40] ^= 1;
        std::fs::write(&b, &bytes).unwrap();
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(load(&b), Err(KeystoreError::Invalid { .. })));
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(&a).err().unwrap();
        assert!(matches!(err, KeystoreError::TooOpen { mode: 0o644, .. }), "{err}");
    }
}
