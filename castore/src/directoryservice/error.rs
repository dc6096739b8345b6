//! Errors of the directory services, one variant per cause, carrying the
//! digests involved. The mapping to gRPC statuses lives here too, so every
//! server reports the same cause with the same code.

use thiserror::Error;

use super::ClosureError;
use crate::bigtable::BigtableError;
use crate::kv::KvError;
use crate::{B3Digest, B3DigestError, DirectoryError};

#[derive(Debug, Error)]
pub enum Error {
    /// The directories put or received do not form a valid closure.
    #[error("invalid closure: {0}")]
    Closure(#[from] ClosureError),
    /// A directory (read from a backend or received over the wire) is
    /// invalid.
    #[error("invalid directory: {0}")]
    InvalidDirectory(#[from] DirectoryError),
    /// A backend returned a directory whose digest is not the one asked for.
    #[error("asked for directory {requested}, got {actual}")]
    DigestMismatch {
        requested: B3Digest,
        actual: B3Digest,
    },
    /// A directory referenced by a stored directory is missing.
    #[error("directory {0} is referenced but not in the store")]
    DirectoryNotFound(B3Digest),
    /// A stored directory is referenced with a size other than its own.
    #[error("directory {digest} has size {actual}, but is referenced with size {referenced}")]
    SizeMismatch {
        digest: B3Digest,
        referenced: u64,
        actual: u64,
    },
    /// Bytes stored under `digest` are not a protobuf Directory.
    #[error("stored directory {digest} does not decode: {source}")]
    Decode {
        digest: B3Digest,
        source: prost::DecodeError,
    },
    /// The database of a redb or sled backend failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// A Bigtable request failed, timed out, or a value is too large.
    #[error("Bigtable: {0}")]
    Bigtable(#[from] BigtableError),
    /// The remote end of a gRPC client answered with an error.
    #[error("gRPC: {0}")]
    Grpc(Box<tonic::Status>),
    /// A gRPC server answered a put with a digest that is not 32 bytes.
    #[error("gRPC server returned an invalid root digest: {0}")]
    InvalidRootDigest(B3DigestError),
    /// A gRPC server stored a different root than the closure sent has.
    #[error("gRPC server stored root {remote}, but the closure sent has root {local}")]
    RootMismatch { local: B3Digest, remote: B3Digest },
    /// A gRPC server sent more than the one directory asked for.
    #[error("gRPC server sent more than one directory for {0}")]
    ExtraDirectory(B3Digest),
    /// A blocking or background task died (a panic or a cancelled runtime).
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Self::Grpc(Box::new(status))
    }
}

/// How a directory service error is reported to gRPC clients: problems with
/// what the client sent are `INVALID_ARGUMENT`, the rest is the server's.
impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Closure(_) | Error::InvalidDirectory(_) => {
                tonic::Status::invalid_argument(error.to_string())
            }
            Error::Grpc(status) => *status,
            _ => tonic::Status::internal(error.to_string()),
        }
    }
}
