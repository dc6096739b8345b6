//! The gRPC blob service server, serving any [crate::blobservice::BlobService].
//!
//! Everything a client sends is checked: digests must be 32 bytes, and a
//! `Put` must end with the digest of the data sent. A stream that breaks off
//! or ends without that digest is discarded, so a dying client never leaves
//! half a blob behind. A complete upload whose claimed digest is wrong is an
//! error for the client; its data is stored only under its true digest, as
//! any blob is, so no digest ever names the wrong contents.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;
use tonic::{Request, Response, Status, Streaming};

use super::{
    BlobChunk, PutBlobResponse, ReadBlobRequest, StatBlobRequest, StatBlobResponse,
    blob_service_server,
};
use crate::B3Digest;
use crate::blobservice::BlobService;

/// Size of the pieces blobs are streamed to clients in.
const READ_PIECE_SIZE: usize = 256 * 1024;

/// The tonic service to register with a server, around the blob service
/// that actually stores the blobs.
pub struct GrpcBlobServiceWrapper<T> {
    blob_service: T,
}

impl<T> GrpcBlobServiceWrapper<T> {
    pub fn new(blob_service: T) -> Self {
        Self { blob_service }
    }
}

fn parse_digest(field: &str, digest: Bytes) -> Result<B3Digest, Status> {
    B3Digest::try_from(digest).map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

fn internal(context: String, error: std::io::Error) -> Status {
    Status::internal(format!("{context}: {error}"))
}

#[tonic::async_trait]
impl<T: BlobService + 'static> blob_service_server::BlobService for GrpcBlobServiceWrapper<T> {
    type ReadStream = Pin<Box<dyn Stream<Item = Result<BlobChunk, Status>> + Send>>;

    async fn stat(
        &self,
        request: Request<StatBlobRequest>,
    ) -> Result<Response<StatBlobResponse>, Status> {
        let request = request.into_inner();
        let digest = parse_digest("digest", request.digest)?;
        let chunks = self
            .blob_service
            .chunks(&digest)
            .await
            .map_err(|e| internal(format!("listing chunks of blob {digest}"), e))?
            .ok_or_else(|| Status::not_found(format!("blob {digest} not found")))?;
        let chunks = if request.send_chunks {
            chunks.into_iter().map(Into::into).collect()
        } else {
            Vec::new()
        };
        Ok(Response::new(StatBlobResponse { chunks }))
    }

    async fn read(
        &self,
        request: Request<ReadBlobRequest>,
    ) -> Result<Response<Self::ReadStream>, Status> {
        let digest = parse_digest("digest", request.into_inner().digest)?;
        let reader = self
            .blob_service
            .open_read(&digest)
            .await
            .map_err(|e| internal(format!("opening blob {digest}"), e))?
            .ok_or_else(|| Status::not_found(format!("blob {digest} not found")))?;
        let stream = ReaderStream::with_capacity(reader, READ_PIECE_SIZE).map(move |piece| {
            piece
                .map(|data| BlobChunk {
                    data,
                    digest: Bytes::new(),
                })
                .map_err(|e| internal(format!("reading blob {digest}"), e))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn put(
        &self,
        request: Request<Streaming<BlobChunk>>,
    ) -> Result<Response<PutBlobResponse>, Status> {
        let mut stream = request.into_inner();
        let mut writer = self.blob_service.open_write().await;
        let mut claimed = None;
        while let Some(piece) = stream.message().await? {
            if claimed.is_some() {
                return Err(Status::invalid_argument(
                    "data after the final digest of an upload",
                ));
            }
            writer
                .write_all(&piece.data)
                .await
                .map_err(|e| internal("writing blob".to_owned(), e))?;
            if !piece.digest.is_empty() {
                claimed = Some(parse_digest("digest", piece.digest)?);
            }
        }
        // Dropping the writer without closing it discards the upload.
        let claimed = claimed.ok_or_else(|| {
            Status::invalid_argument("upload ended without its final digest, discarded")
        })?;
        let digest = writer
            .close()
            .await
            .map_err(|e| internal("storing blob".to_owned(), e))?;
        if digest != claimed {
            return Err(Status::invalid_argument(format!(
                "upload claimed digest {claimed}, data has digest {digest}"
            )));
        }
        Ok(Response::new(PutBlobResponse {
            digest: digest.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::channel::GrpcChannel;
    use bytes::Bytes;
    use rstest::rstest;
    use tonic::Code;
    use url::Url;

    use crate::B3Digest;
    use crate::blobservice::tests::serve_grpc;
    use crate::blobservice::{BlobService, MemoryBlobService};
    use crate::channel::channel_from_url;
    use crate::proto::blob_service_client::BlobServiceClient;
    use crate::proto::{BlobChunk, ReadBlobRequest, StatBlobRequest};

    fn client(url: &str) -> BlobServiceClient<GrpcChannel> {
        let url = Url::parse(url).expect("valid URL");
        crate::with_message_limits!(BlobServiceClient::new(
            channel_from_url(&url).expect("channel")
        ))
    }

    fn piece(data: &'static [u8], digest: &[u8]) -> BlobChunk {
        BlobChunk {
            data: Bytes::from_static(data),
            digest: Bytes::copy_from_slice(digest),
        }
    }

    /// Uploads that must fail and store nothing under the claimed digest
    /// (a complete upload with a wrong digest is kept under its true one,
    /// like any other blob).
    #[rstest]
    #[case::no_final_digest(
        vec![piece(b"hello", b"")],
        "upload ended without its final digest, discarded"
    )]
    #[case::wrong_digest(
        vec![piece(b"hello", b""), piece(b"", B3Digest::of(b"hullo").as_slice())],
        &format!(
            "upload claimed digest {}, data has digest {}",
            B3Digest::of(b"hullo"),
            B3Digest::of(b"hello")
        )
    )]
    #[case::short_digest(
        vec![piece(b"hello", b"abc")],
        "digest: invalid blake3 digest length: expected 32 bytes, got 3"
    )]
    #[case::data_after_digest(
        vec![piece(b"hello", B3Digest::of(b"hello").as_slice()), piece(b"!", b"")],
        "data after the final digest of an upload"
    )]
    #[tokio::test]
    async fn put_rejects(#[case] pieces: Vec<BlobChunk>, #[case] message: &str) {
        let backend = Arc::new(MemoryBlobService::new());
        let (_dir, url) = serve_grpc(backend.clone());

        let status = client(&url)
            .put(futures::stream::iter(pieces))
            .await
            .expect_err("must be rejected");

        assert_eq!(Code::InvalidArgument, status.code());
        assert_eq!(message, status.message());
        assert!(!backend.has(&B3Digest::of(b"hullo")).await.expect("has"));
    }

    #[tokio::test]
    async fn put_in_pieces() {
        let backend = Arc::new(MemoryBlobService::new());
        let (_dir, url) = serve_grpc(backend.clone());
        let digest = B3Digest::of(b"hello world");

        let response = client(&url)
            .put(futures::stream::iter([
                piece(b"hello", b""),
                piece(b"", b""),
                piece(b" world", digest.as_slice()),
            ]))
            .await
            .expect("put");

        assert_eq!(digest.as_slice(), response.into_inner().digest.as_ref());
        assert!(backend.has(&digest).await.expect("has"));
    }

    #[tokio::test]
    async fn stat_rejects_short_digest() {
        let (_dir, url) = serve_grpc(Arc::new(MemoryBlobService::new()));

        let status = client(&url)
            .stat(StatBlobRequest {
                digest: Bytes::from_static(b"abc"),
                send_chunks: true,
            })
            .await
            .expect_err("must be rejected");

        assert_eq!(Code::InvalidArgument, status.code());
        assert_eq!(
            "digest: invalid blake3 digest length: expected 32 bytes, got 3",
            status.message()
        );
    }

    #[tokio::test]
    async fn read_missing() {
        let (_dir, url) = serve_grpc(Arc::new(MemoryBlobService::new()));
        let digest = B3Digest::of(b"missing");

        let status = client(&url)
            .read(ReadBlobRequest {
                digest: digest.into(),
            })
            .await
            .expect_err("must fail");

        assert_eq!(Code::NotFound, status.code());
        assert_eq!(format!("blob {digest} not found"), status.message());
    }
}
