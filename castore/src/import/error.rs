//! Errors of [super::ingest_entries], generic over the producer's error.

use thiserror::Error;

use crate::{B3Digest, DirectoryError, PathBuf, directoryservice};

#[derive(Debug, Error)]
pub enum IngestionError<E: std::error::Error> {
    /// The producer failed to read its source or upload a file.
    #[error(transparent)]
    Producer(E),
    #[error("entry stream ended before the root entry")]
    MissingRoot,
    #[error("entry {0} came after the root entry")]
    EntryAfterRoot(PathBuf),
    /// Entries below this path came, but no directory entry for it after
    /// them.
    #[error("entries below {0} are not followed by a directory entry for it")]
    MissingDirectory(PathBuf),
    #[error("cannot add entry {path} to its parent directory: {source}")]
    InvalidEntry {
        path: PathBuf,
        source: DirectoryError,
    },
    #[error("uploading directory {path}: {source}")]
    UploadDirectory {
        path: PathBuf,
        source: directoryservice::Error,
    },
    #[error("finishing the directory upload: {0}")]
    FinishDirectories(directoryservice::Error),
    #[error("built root directory {built}, but the directory service stored {stored}")]
    RootMismatch { built: B3Digest, stored: B3Digest },
}
