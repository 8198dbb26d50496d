//! The one error type of the benchmark driver: every failure names what failed.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    #[error("{system}: {operation} failed: {cause}")]
    System { system: &'static str, operation: &'static str, cause: String },
    #[error("{system}: {operation} returned {got}, expected {want}")]
    Check { system: &'static str, operation: &'static str, got: String, want: String },
    #[error("{path}: {cause}")]
    Io { path: String, cause: String },
    #[error("{path}:{line}: cannot parse {text:?}: {cause}")]
    Parse { path: String, line: usize, text: String, cause: String },
    #[error("bad argument {argument:?}: {cause}")]
    Argument { argument: String, cause: String },
}

impl BenchError {
    pub fn io(path: impl std::fmt::Display, cause: impl std::fmt::Display) -> Self {
        BenchError::Io { path: path.to_string(), cause: cause.to_string() }
    }
}
