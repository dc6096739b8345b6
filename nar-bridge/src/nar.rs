//! `/nar/<nixbase32 NAR sha256>.nar[.zst|.xz]`: NARs rendered from the
//! castore, streamed and compressed on the fly; and NAR uploads.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use nix_compat::nixbase32;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_util::io::StreamReader;
use tvix_store::nar::{NarChunks, RenderError, ingest_nar, render_nar_within};

use crate::body_writer::{BodyWriter, body_writer};
use crate::range::{self, Requested};
use crate::uploads::{self, Upload};
use crate::{AppState, Compression, Error};

/// An upload that sends nothing for this long is given up.
const UPLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The bytes a nixbase32 hash in a file name stands for.
pub(crate) fn parse_hash<const N: usize>(text: &str) -> Result<[u8; N], Error> {
    nixbase32::decode_fixed(text.as_bytes()).map_err(|_| Error::InvalidHash(text.to_owned()))
}

/// GET and HEAD of a NAR.
pub async fn get(
    State(state): State<AppState>,
    method: Method,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let (stem, compression) = Compression::split_file_name(&file).ok_or(Error::NotFound)?;
    let nar_sha256 = parse_hash::<32>(stem)?;
    let path_info = state
        .nar_index
        .find(&*state.path_info_service, &nar_sha256)
        .await?
        .ok_or(Error::NotFound)?;

    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/x-nix-nar")
        // The contents of a NAR URL never change.
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable");
    let mut range = None;
    if compression == Compression::None {
        let size = path_info.nar_size;
        let requested = headers
            .get(header::RANGE)
            .and_then(|value| value.to_str().ok());
        response = response.header(header::ACCEPT_RANGES, "bytes");
        response = match range::parse(requested, size) {
            Requested::Whole => response.header(header::CONTENT_LENGTH, size),
            Requested::Part(part) => {
                let response = response
                    .status(StatusCode::PARTIAL_CONTENT)
                    .header(header::CONTENT_LENGTH, part.end - part.start)
                    .header(
                        header::CONTENT_RANGE,
                        format!("bytes {}-{}/{size}", part.start, part.end - 1),
                    );
                range = Some(part);
                response
            }
            Requested::Unsatisfiable => {
                return Err(Error::RangeNotSatisfiable { nar_size: size });
            }
        };
    }
    if method == Method::HEAD {
        return Ok(response
            .body(Body::empty())
            .expect("valid response headers"));
    }
    let chunks = render_nar_within(
        &path_info.node,
        &state.blob_service,
        &*state.directory_service,
        state.render_limits,
    )
    .await
    .map_err(Error::Render)?;
    let body = match (compression, range) {
        // The rendered chunks are the body as they are (large ones are
        // slices of the store's read buffers: no copy on the way).
        (Compression::None, None) => Body::from_stream(logged(chunks)),
        (Compression::None, Some(range)) => Body::from_stream(range::keep(logged(chunks), range)),
        (compression, _) => compress(chunks, compression),
    };
    Ok(response.body(body).expect("valid response headers"))
}

/// The chunks, with a rendering error logged as it ends the body: the
/// client then sees a broken transfer, never a short NAR.
fn logged(chunks: NarChunks) -> impl futures::Stream<Item = Result<bytes::Bytes, RenderError>> {
    chunks.inspect(|chunk| {
        if let Err(error) = chunk {
            tracing::warn!(%error, "NAR rendering failed");
        }
    })
}

/// The chunks compressed, by a task of its own, as a response body.
fn compress(chunks: NarChunks, compression: Compression) -> Body {
    let (mut writer, body) = body_writer();
    tokio::spawn(async move {
        if let Err(error) = compress_into(&mut writer, chunks, compression).await {
            tracing::warn!(%error, "NAR rendering failed");
            writer.fail(io::Error::other(error)).await;
        }
    });
    body
}

/// Compresses `chunks` into `writer` and shuts it down, which ends the
/// body.
async fn compress_into(
    writer: &mut BodyWriter,
    mut chunks: NarChunks,
    compression: Compression,
) -> Result<(), RenderError> {
    let mut encoder = compression.encoder(writer);
    let io_error = |source| RenderError::Io {
        path: Default::default(),
        source,
    };
    while let Some(chunk) = chunks.next().await {
        encoder.write_all(&chunk?).await.map_err(io_error)?;
    }
    encoder.shutdown().await.map_err(io_error)
}

/// PUT of a NAR: ingested while it arrives, then kept for its narinfo.
pub async fn put(
    State(state): State<AppState>,
    Path(file): Path<String>,
    body: Body,
) -> Result<StatusCode, Error> {
    if !state.config.allow_upload {
        return Err(Error::UploadsDisabled);
    }
    let (stem, compression) = uploads::split_file_name(&file).ok_or(Error::NotFound)?;
    // Nix names uploaded NARs by the sha256 of the file; the name is only
    // checked for its form, the narinfo's FileHash against what came.
    parse_hash::<32>(stem)?;
    let file_digest = std::sync::Mutex::new((Sha256::new(), 0u64));
    let chunks = futures::stream::unfold(body.into_data_stream(), |mut chunks| async move {
        let next = match tokio::time::timeout(UPLOAD_IDLE_TIMEOUT, chunks.next()).await {
            Ok(next) => next?.map_err(io::Error::other),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the upload stalled",
            )),
        };
        Some((next, chunks))
    })
    .inspect(|chunk| {
        if let Ok(bytes) = chunk {
            let mut digest = file_digest.lock().unwrap_or_else(|e| e.into_inner());
            digest.0.update(bytes);
            digest.1 += bytes.len() as u64;
        }
    });
    let nar = compression.decode(StreamReader::new(Box::pin(chunks)));
    let ingested = ingest_nar(&*state.blob_service, &*state.directory_service, nar)
        .await
        .map_err(Error::Ingest)?;
    let (hasher, file_size) = file_digest.into_inner().unwrap_or_else(|e| e.into_inner());
    tracing::info!(
        %file,
        nar_size = ingested.nar.nar_size,
        "NAR uploaded, waiting for its narinfo"
    );
    state
        .uploads
        .insert(
            format!("nar/{file}"),
            Upload {
                ingested,
                compression,
                file_sha256: hasher.finalize().into(),
                file_size,
            },
        )
        .await?;
    Ok(StatusCode::OK)
}
