use std::path::PathBuf;

use chaintrace_store::StoreError;

/// Why ingestion stopped. Every variant names where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    /// The input data is wrong: a malformed file, an invalid block, a response that is not what
    /// Bitcoin Core sends.
    #[error("{location}: {reason}")]
    BadData { location: String, reason: String },
    /// The node could not be reached, or kept failing.
    #[error("node at {url} is unavailable: {reason}")]
    Unavailable { url: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    pub fn bad_data(location: impl Into<String>, reason: impl Into<String>) -> Self {
        IngestError::BadData {
            location: location.into(),
            reason: reason.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            IngestError::NotFound { path }
        } else {
            IngestError::Io { path, source }
        }
    }
}
