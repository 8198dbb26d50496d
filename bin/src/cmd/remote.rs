//! What every client verb (`admin`, `kiosk`, `player`) shares: where the
//! server is, which credential to present, the server's TLS root, running an
//! async call to completion, idempotency keys, and output for people.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use encore_server::deployment::files::{read_bounded, MAX_PEM_BYTES};
use encore_server::{Client, ClientError};

/// Where the servers are and who is asking.
#[derive(clap::Args, Clone)]
pub struct Remote {
    /// The server's base URL, e.g. https://licenses.example:7878 (plain http only on loopback).
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The file holding this station's bearer token (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub token: PathBuf,
    /// The server's certificate authority or self-signed certificate (PEM), for https.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

impl Remote {
    pub fn client(&self) -> Result<Client, String> {
        client(&self.server, &self.token, self.ca.as_deref())
    }
}

/// A typed client of `server` with the token in `token_file`.
pub fn client(server: &str, token_file: &Path, ca: Option<&Path>) -> Result<Client, String> {
    let token = encore_server::deployment::read_token(token_file).map_err(|e| e.to_string())?;
    if token.is_empty() {
        return Err(format!("{}: no token in the file", token_file.display()));
    }
    match ca {
        Some(path) => {
            let pem = read_bounded(path, MAX_PEM_BYTES, "a PEM file").map_err(|e| format!("{}: {e}", path.display()))?;
            Client::with_root_certificate(server, &token, &pem).map_err(|e| e.to_string())
        }
        None if server.starts_with("https://") => Err("an https server needs --ca FILE (its certificate authority)".into()),
        None => Ok(Client::new(server, &token)),
    }
}

/// Runs one async client call on its own actix system.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    actix_rt::System::new().block_on(future)
}

/// A fresh idempotency key: unique per process and call, never reused by accident.
pub fn fresh_key(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros());
    format!("{prefix}-{micros:x}-{:x}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A client error as one line for people; a lost answer says how to retry safely.
pub fn explain(error: &ClientError, key: Option<&str>) -> String {
    match error {
        ClientError::Refused(problem) => format!("refused ({} {}): {}", problem.status, problem.kind, problem.detail),
        ClientError::Transport(reason) => match key {
            Some(key) => format!("no answer from the server ({reason}); it may have been carried out: retry with --key {key}"),
            None => format!("no answer from the server ({reason})"),
        },
        other => other.to_string(),
    }
}

/// Names and titles from elsewhere, printed with control characters escaped.
pub fn printable(text: &str) -> String {
    text.chars().flat_map(char::escape_debug).collect::<String>().replace("\\'", "'").replace("\\\"", "\"")
}

/// The current time as the domain counts it (the station's clock).
pub fn now() -> encore_domain::Timestamp {
    let micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    encore_domain::Timestamp::from_micros(micros)
}

/// An RFC 3339 rendering of a domain time.
pub fn rfc3339(time: encore_domain::Timestamp) -> String {
    chrono::DateTime::from_timestamp_micros(time.micros()).map_or_else(|| time.micros().to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The bytes of hex text, or an error naming the field.
pub fn unhex(text: &str, field: &str) -> Result<Vec<u8>, String> {
    encore_server::deployment::credentials::unhex(text).ok_or_else(|| format!("{field} is not hex"))
}
