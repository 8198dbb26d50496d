//! A deployment directory: what `encore init` makes and `encore serve` runs.
//!
//! | path | what | mode |
//! |---|---|---|
//! | `DEPLOYMENT` | marker: `encore-deployment v1` | 0644 |
//! | `keystore` | the master secrets ([`keystore`]) | 0600 |
//! | `credentials` | token hashes and roles ([`credentials`]) | 0600 |
//! | `operator.token` | the first operator's token, for the operator to move somewhere safe | 0600 |
//! | `log/` | the ledger | |
//!
//! `init` builds everything in a sibling staging directory and renames it
//! into place, so a crash leaves either no deployment or a whole one.

pub mod contents;
pub mod credentials;
pub mod files;
pub mod keystore;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub use credentials::{Credential, CredentialStore, CredentialsError, NewCredential, Principal, Role};
pub use keystore::KeystoreError;

const MARKER: &str = "DEPLOYMENT";
const MARKER_TEXT: &str = "encore-deployment v1\n";
pub const FIRST_OPERATOR: &str = "operator";

/// The paths of a deployment directory.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub dir: PathBuf,
}

impl Deployment {
    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }
    pub fn keystore(&self) -> PathBuf {
        self.dir.join("keystore")
    }
    pub fn credentials(&self) -> PathBuf {
        self.dir.join("credentials")
    }
    pub fn operator_token(&self) -> PathBuf {
        self.dir.join("operator.token")
    }
    /// Encrypted content files ([`contents::ContentStore`]).
    pub fn contents(&self) -> PathBuf {
        self.dir.join("contents")
    }
}

/// Why a deployment could not be made or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeploymentError {
    #[error("{}: already a deployment; `encore init` never overwrites one", path.display())]
    AlreadyInitialised { path: PathBuf },
    #[error("{}: not empty and not an Encore deployment; choose an empty or new directory", path.display())]
    NotEmpty { path: PathBuf },
    #[error("{}: not an Encore deployment (no DEPLOYMENT marker); run `encore init --data {}` first", path.display(), path.display())]
    NotADeployment { path: PathBuf },
    #[error("{}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Log(#[from] encore_ledger::OpenError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DeploymentError + '_ {
    move |e| DeploymentError::Io { path: path.to_path_buf(), reason: e.to_string() }
}

/// Makes a new deployment in `dir` (missing or empty): log, keystore, and a
/// first operator credential whose token is written to `operator.token`.
pub fn init(dir: &Path, now: &str) -> Result<Deployment, DeploymentError> {
    if dir.join(MARKER).exists() {
        return Err(DeploymentError::AlreadyInitialised { path: dir.to_path_buf() });
    }
    if dir.exists() && std::fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(DeploymentError::NotEmpty { path: dir.to_path_buf() });
    }
    let mut name = dir.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".initialising");
    let staging = dir.with_file_name(name);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let draft = Deployment { dir: staging.clone() };
    keystore::create(&draft.keystore())?;
    drop(encore_ledger::Ledger::open(draft.log(), encore_ledger::LedgerOptions::default())?);
    let first = credentials::add(&draft.credentials(), FIRST_OPERATOR, Role::Operator, None, now)?;
    write_private(&draft.operator_token(), format!("{}\n", first.token).as_bytes())?;
    write_private(&staging.join(MARKER), MARKER_TEXT.as_bytes())?;
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    std::fs::rename(&staging, dir).map_err(io(dir))?;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io(parent))?;
    Ok(Deployment { dir: dir.to_path_buf() })
}

/// An existing deployment (checked by its marker).
pub fn open(dir: &Path) -> Result<Deployment, DeploymentError> {
    match files::read_bounded(&dir.join(MARKER), files::MAX_MARKER_BYTES, "a deployment marker") {
        Ok(text) if text == MARKER_TEXT.as_bytes() => Ok(Deployment { dir: dir.to_path_buf() }),
        _ => Err(DeploymentError::NotADeployment { path: dir.to_path_buf() }),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DeploymentError> {
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Reads a token file (the first line, trimmed), refusing one that others can read.
pub fn read_token(path: &Path) -> Result<String, DeploymentError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).map_err(io(path))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(DeploymentError::Io { path: path.to_path_buf(), reason: "readable by others; a token file must be mode 0600".into() });
    }
    let bytes = files::read_bounded(path, 4096, "a token file").map_err(io(path))?;
    let text = String::from_utf8(bytes).map_err(|_| DeploymentError::Io { path: path.to_path_buf(), reason: "not UTF-8 text: not a token file".into() })?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_makes_a_whole_deployment_once_and_refuses_foreign_directories() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let deployment = init(&data, "2026-12-01T00:00:00Z").unwrap();
        assert!(open(&data).is_ok());
        let token = read_token(&deployment.operator_token()).unwrap();
        let store = CredentialStore::open(deployment.credentials()).unwrap();
        assert_eq!(store.authenticate(&token).unwrap().role, Role::Operator);
        assert!(keystore::load(&deployment.keystore()).is_ok());
        assert!(matches!(init(&data, ""), Err(DeploymentError::AlreadyInitialised { .. })));
        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes"), "x").unwrap();
        assert!(matches!(init(&foreign, ""), Err(DeploymentError::NotEmpty { .. })));
        assert!(matches!(open(&foreign), Err(DeploymentError::NotADeployment { .. })));
    }
}
