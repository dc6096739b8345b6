//! Why a request failed, and the HTTP status each reason answers with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nix_compat::narinfo;
use nix_compat::store_path::StorePath;
use thiserror::Error;
use tvix_store::nar::{IngestNarError, RenderError};
use tvix_store::pathinfoservice;

use crate::uploads::UploadsError;

/// Why a request failed. Client mistakes are 4xx, with the reason as the
/// body; failures of the store are 500 and logged.
#[derive(Debug, Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("{0:?} is not a nixbase32 hash of the expected length")]
    InvalidHash(String),
    #[error("uploads are not allowed (start nar-bridge with --allow-upload)")]
    UploadsDisabled,
    #[error("reading the request body: {0}")]
    Body(axum::Error),
    #[error("the narinfo is not UTF-8")]
    NarInfoNotUtf8,
    #[error("invalid narinfo: {0}")]
    NarInfo(narinfo::Error),
    #[error("the narinfo describes {0}, not the path of its URL")]
    WrongStorePath(StorePath),
    #[error("{store_path}: no NAR was uploaded at {url:?}")]
    NarNotUploaded { store_path: StorePath, url: String },
    #[error(
        "{store_path}: the narinfo says compression {expected:?}, the NAR was uploaded as {got}"
    )]
    CompressionMismatch {
        store_path: StorePath,
        expected: String,
        got: String,
    },
    #[error("{0}: the narinfo has no valid signature by a trusted key")]
    Untrusted(StorePath),
    #[error("{store_path}: the uploaded file does not match the narinfo's FileHash and FileSize")]
    FileMismatch { store_path: StorePath },
    #[error("keeping the upload: {0}")]
    Uploads(#[from] UploadsError),
    #[error("{store_path}: the uploaded NAR does not match the narinfo's NarHash and NarSize")]
    NarMismatch { store_path: StorePath },
    #[error("{store_path}: reference {reference} is not in the store")]
    MissingReference {
        store_path: StorePath,
        reference: StorePath,
    },
    #[error("{0} is already in the store with different contents")]
    Conflict(StorePath),
    #[error("NAR upload: {0}")]
    Ingest(IngestNarError),
    #[error("the requested range is not within the NAR")]
    RangeNotSatisfiable { nar_size: u64 },
    #[error("path info service: {0}")]
    PathInfo(#[from] pathinfoservice::Error),
    #[error("rendering the NAR: {0}")]
    Render(#[from] RenderError),
}

impl Error {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::UploadsDisabled | Self::Untrusted(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::InvalidHash(_)
            | Self::Body(_)
            | Self::NarInfoNotUtf8
            | Self::NarInfo(_)
            | Self::WrongStorePath(_)
            | Self::NarNotUploaded { .. }
            | Self::CompressionMismatch { .. }
            | Self::NarMismatch { .. }
            | Self::FileMismatch { .. }
            | Self::MissingReference { .. } => StatusCode::BAD_REQUEST,
            // A NAR that cannot be read is the client's; one that cannot
            // be stored is ours.
            Self::Ingest(IngestNarError::UploadBlob { .. } | IngestNarError::Directories(_)) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Ingest(_) => StatusCode::BAD_REQUEST,
            Self::PathInfo(_) | Self::Render(_) | Self::Uploads(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, %status, "request refused");
        }
        let mut response = (status, format!("{self}\n")).into_response();
        if let Self::RangeNotSatisfiable { nar_size } = self
            && let Ok(value) = format!("bytes */{nar_size}").parse()
        {
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_RANGE, value);
        }
        response
    }
}
