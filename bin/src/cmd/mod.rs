//! One module per verb. Each exposes `Args` (clap) and `run(Args) -> Result<ExitCode, String>`;
//! an `Err` is a readable one-line message, printed by `main` with exit code 2.

pub mod demo;
pub mod verify;

/// The store `encore demo` uses when no `--db` is given.
pub const DEFAULT_DB: &str = "encore-data";

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
