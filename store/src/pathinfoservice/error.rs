//! Errors of the path info services.

use nix_compat::nixbase32;
use nix_compat::store_path::{DIGEST_SIZE, StorePath};
use thiserror::Error;
use tvix_castore::bigtable::BigtableError;
use tvix_castore::kv::KvError;

use super::nix_http::NixHttpError;
use crate::proto::ValidatePathInfoError;

#[derive(Debug, Error)]
pub enum Error {
    /// Bytes stored under a digest are not a protobuf PathInfo.
    #[error("stored PathInfo {} does not decode: {source}", nixbase32::encode(.digest))]
    Decode {
        digest: [u8; DIGEST_SIZE],
        source: prost::DecodeError,
    },
    /// A backend holds a key that is not a store path digest.
    #[error("stored key is {0} bytes, expected {DIGEST_SIZE}")]
    InvalidKey(usize),
    /// A PathInfo read from a backend or received from a gRPC server is
    /// invalid.
    #[error("invalid PathInfo {}: {source}", nixbase32::encode(.digest))]
    InvalidPathInfo {
        digest: [u8; DIGEST_SIZE],
        source: ValidatePathInfoError,
    },
    /// A backend returned the PathInfo of another store path than the one
    /// asked for (or, from a put, than the one sent).
    #[error("asked for PathInfo {}, got {got}", nixbase32::encode(.requested))]
    WrongPathInfo {
        requested: [u8; DIGEST_SIZE],
        got: StorePath,
    },
    /// A gRPC server sent a PathInfo that does not validate, while listing.
    #[error("gRPC server listed an invalid PathInfo: {0}")]
    InvalidListedPathInfo(ValidatePathInfoError),
    /// A Bigtable row key is not the nixbase32 of a store path digest.
    #[error("Bigtable row key {0:?} is not a store path hash")]
    InvalidRowKey(String),
    /// A Bigtable request failed or timed out.
    #[error("Bigtable: {0}")]
    Bigtable(#[from] BigtableError),
    /// The database of a redb or sled backend failed.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The remote end of a gRPC client answered with an error.
    #[error("gRPC: {0}")]
    Grpc(Box<tonic::Status>),
    /// A Nix binary cache did not give a trustworthy path, or was asked to
    /// do what it cannot.
    #[error("Nix binary cache: {0}")]
    NixHttp(Box<NixHttpError>),
    /// A blocking or background task died (a panic or a cancelled runtime).
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The blobs a PathInfo names could not be made durable before it.
    #[error("syncing the blob service: {0}")]
    SyncBlobs(std::io::Error),
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Self::Grpc(Box::new(status))
    }
}

impl From<NixHttpError> for Error {
    fn from(error: NixHttpError) -> Self {
        Self::NixHttp(Box::new(error))
    }
}

/// How a path info service error reaches gRPC clients: a remote error is
/// passed on, everything else is the server's own problem.
impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Grpc(status) => *status,
            _ => tonic::Status::internal(error.to_string()),
        }
    }
}
