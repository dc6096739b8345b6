//! Why an import failed.

use std::io;
use std::path::PathBuf;

use nix_compat::store_path::{BuildStorePathError, StorePath};
use thiserror::Error;
use tvix_castore::B3Digest;
use tvix_castore::import::{IngestionError, fs};

use crate::nar::CalculateNarError;
use crate::pathinfoservice;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{0:?} has no file name to name the store path after; pass a name")]
    NoName(PathBuf),
    #[error("the file name of {0:?} is not UTF-8; pass a name")]
    NonUtf8Name(PathBuf),
    #[error("{path:?}: {source}")]
    Stat { path: PathBuf, source: io::Error },
    #[error("{0:?} is not a regular file; a flat import takes only a file")]
    NotAFile(PathBuf),
    #[error("invalid store path name {name:?}: {source}")]
    InvalidName {
        name: String,
        source: BuildStorePathError,
    },
    #[error("importing {path:?}: {source}")]
    Ingest {
        path: PathBuf,
        source: Box<IngestionError<fs::Error>>,
    },
    /// Importing a tree while hashing its NAR ([super::WalkError]).
    #[error("importing {path:?}: {source}")]
    IngestHashingNar {
        path: PathBuf,
        source: Box<IngestionError<super::WalkError>>,
    },
    #[error("uploading the contents of {store_path}: {source}")]
    Upload {
        store_path: StorePath,
        source: io::Error,
    },
    /// A blob just uploaded could not be read back to hash it.
    #[error("reading back blob {digest}: {source}")]
    ReadBlob { digest: B3Digest, source: io::Error },
    #[error("blob {0} is missing right after it was uploaded")]
    BlobNotFound(B3Digest),
    #[error("computing the NAR hash: {0}")]
    CalculateNar(Box<CalculateNarError>),
    #[error("storing the PathInfo of {store_path}: {source}")]
    PutPathInfo {
        store_path: StorePath,
        source: Box<pathinfoservice::Error>,
    },
    #[error("looking up {store_path}: {source}")]
    GetPathInfo {
        store_path: StorePath,
        source: Box<pathinfoservice::Error>,
    },
    #[error(transparent)]
    NarMismatch(Box<NarMismatch>),
}

/// The path in the local Nix store does not have the NAR the reference
/// graph promises (it was changed, or the graph is from another store).
#[derive(Debug, Error)]
#[error(
    "{store_path} in the local store has NAR size {found_size} and sha256 {found_sha256}, the reference graph says {expected_size} and {expected_sha256}"
)]
pub struct NarMismatch {
    pub store_path: StorePath,
    pub expected_size: u64,
    pub expected_sha256: String,
    pub found_size: u64,
    pub found_sha256: String,
}

impl From<CalculateNarError> for ImportError {
    fn from(error: CalculateNarError) -> Self {
        Self::CalculateNar(Box::new(error))
    }
}
