//! Credentials: bearer tokens, each with one role, stored only as hashes.
//!
//! A token is `encore_<id>_<64 hex digits>`: the id names the credential
//! (so a lookup is one map access), the hex digits are 32 bytes from the OS
//! CSPRNG and are shown once, when the credential is made. The file
//! `DIR/credentials` (JSON, mode 0600, replaced atomically) keeps the id, the
//! role, the station the role is bound to, and blake3 of the secret part.
//! `encore serve` rereads the file when it changes, so `encore credentials
//! add|revoke` takes effect on a running server.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Operator,
    /// One kiosk: read the catalogue, verify cards, buy onto cards, as its own station.
    Kiosk,
    /// One player, PC or PD: its own plays, favorites and registration.
    Device,
    /// Read only: the log, verify, projections.
    Auditor,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "operator" => Some(Role::Operator),
            "kiosk" => Some(Role::Kiosk),
            "device" => Some(Role::Device),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Kiosk => "kiosk",
            Role::Device => "device",
            Role::Auditor => "auditor",
        }
    }

    /// Kiosk and device credentials are bound to one station id.
    pub fn needs_station(self) -> bool {
        matches!(self, Role::Kiosk | Role::Device)
    }
}

/// One stored credential (no secret: only its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: String,
    pub role: Role,
    /// The kiosk or device id a station credential acts as.
    pub station: Option<String>,
    /// blake3 of the token's secret part, hex.
    pub hash: String,
    /// RFC 3339.
    pub created_at: String,
    pub revoked: bool,
}

/// Why a credentials operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: not a credentials file ({reason})")]
    Invalid { path: String, reason: String },
    #[error("role {role} needs --station (the kiosk or device id it acts as)")]
    StationMissing { role: &'static str },
    #[error("role {role} is not bound to a station; drop --station {station:?}")]
    StationNotAllowed { role: &'static str, station: String },
    #[error("credential id {id:?}: use 1-32 letters, digits or '-'")]
    BadId { id: String },
    #[error("credential id {id:?} already exists")]
    Exists { id: String },
    #[error("no credential {id:?}")]
    Unknown { id: String },
    #[error("the operating system's random source failed: {reason}")]
    Random { reason: String },
}

/// A freshly made credential with its token (shown once, never stored).
pub struct NewCredential {
    pub credential: Credential,
    pub token: String,
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential").field("credential", &self.credential).field("token", &"<redacted>").finish()
    }
}

pub fn read_all(path: &Path) -> Result<Vec<Credential>, CredentialsError> {
    let name = path.display().to_string();
    let bytes = super::files::read_bounded(path, super::files::MAX_CREDENTIALS_BYTES, "a credentials file")
        .map_err(|e| CredentialsError::Io { path: name.clone(), reason: e.to_string() })?;
    serde_json::from_slice(&bytes).map_err(|e| CredentialsError::Invalid { path: name, reason: e.to_string() })
}

/// Replaces the file atomically: temporary file (0600), fsync, rename, fsync of the directory.
pub fn write_all(path: &Path, credentials: &[Credential]) -> Result<(), CredentialsError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| CredentialsError::Io { path: name.clone(), reason: e.to_string() };
    let bytes = serde_json::to_vec_pretty(credentials).map_err(|e| CredentialsError::Invalid { path: name.clone(), reason: e.to_string() })?;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Adds a credential to the file and returns it with its token.
pub fn add(path: &Path, id: &str, role: Role, station: Option<&str>, now: &str) -> Result<NewCredential, CredentialsError> {
    if !valid_id(id) {
        return Err(CredentialsError::BadId { id: id.to_string() });
    }
    match (role.needs_station(), station) {
        (true, None) => return Err(CredentialsError::StationMissing { role: role.name() }),
        (false, Some(station)) => return Err(CredentialsError::StationNotAllowed { role: role.name(), station: station.to_string() }),
        _ => {}
    }
    let mut all = if path.exists() { read_all(path)? } else { Vec::new() };
    if all.iter().any(|c| c.id == id) {
        return Err(CredentialsError::Exists { id: id.to_string() });
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| CredentialsError::Random { reason: e.to_string() })?;
    let secret_hex = hex(&secret);
    secret.fill(0);
    let credential = Credential {
        id: id.to_string(),
        role,
        station: station.map(str::to_string),
        hash: hash_secret(&secret_hex),
        created_at: now.to_string(),
        revoked: false,
    };
    all.push(credential.clone());
    write_all(path, &all)?;
    Ok(NewCredential { credential, token: format!("encore_{id}_{secret_hex}") })
}

/// Marks a credential revoked (kept, so its id is never reused).
pub fn revoke(path: &Path, id: &str) -> Result<Credential, CredentialsError> {
    let mut all = read_all(path)?;
    let credential = all.iter_mut().find(|c| c.id == id).ok_or_else(|| CredentialsError::Unknown { id: id.to_string() })?;
    credential.revoked = true;
    let revoked = credential.clone();
    write_all(path, &all)?;
    Ok(revoked)
}

fn hash_secret(secret_hex: &str) -> String {
    hex(blake3::hash(secret_hex.as_bytes()).as_bytes())
}

/// Lowercase hex, as the API writes ids, hashes and sealed bytes. Two
/// table look-ups a byte into one allocation: it runs several times on every
/// request (a purchase's id, sealed license and token hash), where a
/// `format!` per byte was a tenth of an HTTP worker's samples.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The bytes of hex text (either case), or `None` if it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// Who a token belongs to, as the server checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub role: Role,
    pub station: Option<String>,
}

/// The server's view of the credentials file, reread when it changes.
pub struct CredentialStore {
    path: PathBuf,
    cached: Mutex<(Option<SystemTime>, Vec<Credential>)>,
}

impl CredentialStore {
    pub fn open(path: PathBuf) -> Result<CredentialStore, CredentialsError> {
        let credentials = read_all(&path)?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        Ok(CredentialStore { path, cached: Mutex::new((modified, credentials)) })
    }

    /// The principal a bearer token belongs to, if it is a live credential.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let rest = token.strip_prefix("encore_")?;
        let (id, secret) = rest.rsplit_once('_')?;
        let hash = blake3::hash(secret.as_bytes());
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.refresh(&mut cached);
        let credential = cached.1.iter().find(|c| c.id == id && !c.revoked)?;
        // Both sides are hashes of fixed length, compared in constant time
        // (`blake3::Hash`'s equality): comparing them leaks nothing about the secret.
        let same = blake3::Hash::from_hex(&credential.hash).ok()? == hash;
        same.then(|| Principal { id: credential.id.clone(), role: credential.role, station: credential.station.clone() })
    }

    fn refresh(&self, cached: &mut (Option<SystemTime>, Vec<Credential>)) {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified == cached.0 {
            return;
        }
        match read_all(&self.path) {
            Ok(credentials) => *cached = (modified, credentials),
            // Keep the last good view: a half-edited file must not lock everyone out.
            Err(e) => tracing::warn!(error = %e, "credentials file unreadable; keeping the previous credentials"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_writes_every_byte_as_two_lowercase_digits_and_unhex_reads_it_back() {
        let all: Vec<u8> = (0..=255).collect();
        let per_byte: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), per_byte);
        assert_eq!(unhex(&hex(&all)), Some(all));
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn tokens_authenticate_until_revoked_and_only_their_hash_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let op = add(&path, "op-1", Role::Operator, None, "2026-12-01T00:00:00Z").unwrap();
        let kiosk = add(&path, "k-1", Role::Kiosk, Some("kiosk-1"), "2026-12-01T00:00:00Z").unwrap();
        let stored = std::fs::read_to_string(&path).unwrap();
        assert!(!stored.contains(op.token.rsplit_once('_').unwrap().1), "the secret is not in the file");
        let store = CredentialStore::open(path.clone()).unwrap();
        assert_eq!(store.authenticate(&op.token).unwrap().role, Role::Operator);
        assert_eq!(store.authenticate(&kiosk.token).unwrap().station.as_deref(), Some("kiosk-1"));
        let mut forged = kiosk.token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == '0' { '1' } else { '0' });
        assert!(store.authenticate(&forged).is_none(), "one changed digit is another secret");
        assert!(store.authenticate("encore_op-1_00").is_none());
        assert!(store.authenticate("nonsense").is_none());
        // Revocation reaches the running store (the file's mtime changes).
        std::thread::sleep(std::time::Duration::from_millis(20));
        revoke(&path, "k-1").unwrap();
        assert!(store.authenticate(&kiosk.token).is_none());
        assert!(store.authenticate(&op.token).is_some());
        assert!(matches!(add(&path, "k-1", Role::Auditor, None, ""), Err(CredentialsError::Exists { .. })));
        assert!(matches!(add(&path, "k-2", Role::Kiosk, None, ""), Err(CredentialsError::StationMissing { .. })));
        assert!(matches!(add(&path, "a b", Role::Auditor, None, ""), Err(CredentialsError::BadId { .. })));
    }
}
