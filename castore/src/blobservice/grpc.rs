//! `grpc+unix:///socket` and `grpc+http://host:port`: a client of a remote
//! blob service, e.g. one served by [crate::proto::GrpcBlobServiceWrapper].
//!
//! The client trusts nothing it receives: chunk lists are validated, every
//! chunk and every streamed blob is checked against its digest, and an upload
//! is only accepted if the server reports the digest computed here.
//!
//! It must never return the last bytes of a blob read from its start before
//! the whole blob has been checked against its digest, and never report an
//! upload as stored unless the server confirmed the digest computed here.

use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use crate::channel::GrpcChannel;
use bytes::Bytes;
use futures::future::{BoxFuture, ready};
use futures::{FutureExt, StreamExt};
use tokio::io::{
    AsyncBufRead, AsyncRead, AsyncReadExt, AsyncSeek, AsyncWrite, AsyncWriteExt, DuplexStream,
    ReadBuf,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::io::{ReaderStream, StreamReader};
use tonic::{Code, Status};

use super::chunked_reader::{ChunkedReader, FetchChunk, chunk_list_from_proto};
use super::{BlobReader, BlobService, BlobWriter, ChunkMeta, seek_target, write_after_close};
use crate::B3Digest;
use crate::proto::{self, blob_service_client::BlobServiceClient};

/// Size of the pieces uploads are sent in, well below tonic's 4 MiB default
/// message limit.
const UPLOAD_PIECE_SIZE: usize = 256 * 1024;

/// A client of a remote blob service; clones share one connection.
#[derive(Clone)]
pub struct GrpcBlobService {
    client: BlobServiceClient<GrpcChannel>,
}

impl GrpcBlobService {
    pub fn from_client(client: BlobServiceClient<GrpcChannel>) -> Self {
        Self { client }
    }
}

fn status_to_io(status: Status) -> io::Error {
    let kind = match status.code() {
        Code::NotFound => io::ErrorKind::NotFound,
        Code::InvalidArgument => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, status)
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Streams the contents of a blob (or chunk) as a buffered reader.
async fn open_stream(
    mut client: BlobServiceClient<GrpcChannel>,
    digest: B3Digest,
) -> io::Result<Pin<Box<dyn AsyncBufRead + Send>>> {
    let stream = client
        .read(proto::ReadBlobRequest {
            digest: digest.into(),
        })
        .await
        .map_err(status_to_io)?
        .into_inner()
        .map(|piece| piece.map(|piece| piece.data).map_err(status_to_io));
    Ok(Box::pin(StreamReader::new(stream)))
}

/// Fetches one chunk whole, refusing to buffer more than its announced size.
async fn fetch_chunk(
    client: BlobServiceClient<GrpcChannel>,
    chunk: ChunkMeta,
) -> io::Result<Bytes> {
    let mut data = Vec::new();
    // One byte more than announced is enough to tell that the server lies.
    open_stream(client, chunk.digest)
        .await?
        .take(chunk.size.saturating_add(1))
        .read_to_end(&mut data)
        .await?;
    if data.len() as u64 > chunk.size {
        return Err(invalid_data(format!(
            "server sent more than {} bytes for chunk {}",
            chunk.size, chunk.digest
        )));
    }
    Ok(data.into())
}

#[async_trait::async_trait]
impl BlobService for GrpcBlobService {
    async fn has(&self, digest: &B3Digest) -> io::Result<bool> {
        let request = proto::StatBlobRequest {
            digest: digest.into(),
            send_chunks: false,
        };
        match self.client.clone().stat(request).await {
            Ok(_) => Ok(true),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(status_to_io(status)),
        }
    }

    async fn open_read(&self, digest: &B3Digest) -> io::Result<Option<Box<dyn BlobReader>>> {
        let Some(chunks) = self.chunks(digest).await? else {
            return Ok(None);
        };
        if let [whole] = chunks.as_slice() {
            // Not split: streamed, so it is never held in memory whole.
            return Ok(Some(Box::new(StreamingBlobReader {
                client: self.client.clone(),
                digest: *digest,
                size: whole.size,
                pos: 0,
                state: StreamState::Closed,
            })));
        }
        let client = self.client.clone();
        let fetch: FetchChunk = Arc::new(move |chunk| fetch_chunk(client.clone(), chunk).boxed());
        Ok(Some(Box::new(ChunkedReader::new(*digest, chunks, fetch)?)))
    }

    async fn open_write(&self) -> Box<dyn BlobWriter> {
        let (writer, reader) = tokio::io::duplex(UPLOAD_PIECE_SIZE);
        let (digest_tx, digest_rx) = oneshot::channel::<B3Digest>();
        // The data, then one final message with the digest, sent only by
        // `close()`. A writer dropped early ends the stream without it, and
        // the server discards the upload.
        let data = ReaderStream::with_capacity(reader, UPLOAD_PIECE_SIZE).filter_map(|piece| {
            // Reading from our own pipe only ends, it never fails.
            ready(piece.ok().map(|data| proto::BlobChunk {
                data,
                digest: Bytes::new(),
            }))
        });
        let end = futures::stream::once(digest_rx).filter_map(|digest| {
            ready(digest.ok().map(|digest| proto::BlobChunk {
                data: Bytes::new(),
                digest: digest.into(),
            }))
        });
        let mut client = self.client.clone();
        let upload = tokio::spawn(async move {
            let response = client.put(data.chain(end)).await?;
            Ok(response.into_inner())
        });
        Box::new(GrpcBlobWriter {
            writer: Some(writer),
            digest_tx: Some(digest_tx),
            upload: Some(upload),
            hasher: blake3::Hasher::new(),
            closed: None,
        })
    }

    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        let request = proto::StatBlobRequest {
            digest: digest.into(),
            send_chunks: true,
        };
        let response = match self.client.clone().stat(request).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => return Err(status_to_io(status)),
        };
        // A blob that is not split is its own only chunk, so a list is
        // never empty.
        if response.chunks.is_empty() {
            return Err(invalid_data(format!(
                "server sent an empty chunk list for blob {digest}"
            )));
        }
        chunk_list_from_proto(digest, response.chunks).map(Some)
    }
}

/// Reads a blob the server did not split through one `Read` stream. Seeking
/// forward skips bytes; seeking backward reopens the stream. Read from the
/// start to the end, the contents are checked against the digest before the
/// last bytes are handed out.
///
/// The last bytes are also held back until the stream has ended (trailers
/// and status received): a reader dropped before that would reset the
/// HTTP/2 stream, and the server's trailers, arriving for a stream the
/// client has already forgotten, make the client's h2 connection answer
/// with a reset of its own. h2 counts those and closes the whole
/// connection (GOAWAY ENHANCE_YOUR_CALM) after 1024, which an export of a
/// tree of some thousand small files reached.
struct StreamingBlobReader {
    client: BlobServiceClient<GrpcChannel>,
    digest: B3Digest,
    size: u64,
    /// Where the caller reads next.
    pos: u64,
    state: StreamState,
}

enum StreamState {
    Closed,
    Opening(BoxFuture<'static, io::Result<Pin<Box<dyn AsyncBufRead + Send>>>>),
    Open {
        stream: Pin<Box<dyn AsyncBufRead + Send>>,
        /// Bytes consumed from the stream so far.
        at: u64,
        /// Hash of everything consumed, always from offset 0.
        hasher: Box<blake3::Hasher>,
    },
    /// All `size` bytes were received and match the digest; `tail`, the
    /// blob's last bytes, is handed out once the stream has ended.
    Draining {
        stream: Pin<Box<dyn AsyncBufRead + Send>>,
        tail: Bytes,
    },
    /// The stream ended cleanly; the blob's last bytes not yet handed out.
    Tail(Bytes),
}

impl AsyncRead for StreamingBlobReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos >= this.size || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            match &mut this.state {
                StreamState::Closed => {
                    this.state =
                        StreamState::Opening(open_stream(this.client.clone(), this.digest).boxed());
                }
                StreamState::Opening(opening) => {
                    let result = ready!(opening.as_mut().poll(cx));
                    // Never poll the finished future again, even if opening
                    // failed: the next read starts over.
                    this.state = StreamState::Closed;
                    this.state = StreamState::Open {
                        stream: result?,
                        at: 0,
                        hasher: Box::new(blake3::Hasher::new()),
                    };
                }
                StreamState::Open { at, .. } if *at > this.pos => {
                    this.state = StreamState::Closed;
                }
                // Sought away from the held back tail: start over.
                StreamState::Draining { tail, .. } | StreamState::Tail(tail)
                    if this.size.saturating_sub(tail.len() as u64) != this.pos =>
                {
                    this.state = StreamState::Closed;
                }
                StreamState::Draining { stream, tail } => {
                    let extra = ready!(stream.as_mut().poll_fill_buf(cx))?.len();
                    if extra > 0 {
                        this.state = StreamState::Closed;
                        return Poll::Ready(Err(invalid_data(format!(
                            "server sent more than {} bytes for blob {}",
                            this.size, this.digest
                        ))));
                    }
                    this.state = StreamState::Tail(std::mem::take(tail));
                }
                StreamState::Tail(tail) => {
                    let n = tail.len().min(buf.remaining());
                    buf.put_slice(&tail.split_to(n));
                    this.pos += n as u64;
                    if tail.is_empty() {
                        this.state = StreamState::Closed;
                    }
                    return Poll::Ready(Ok(()));
                }
                StreamState::Open { stream, at, hasher } => {
                    let data = ready!(stream.as_mut().poll_fill_buf(cx))?;
                    if data.is_empty() {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "blob {} ended after {} of {} bytes",
                                this.digest, at, this.size
                            ),
                        )));
                    }
                    // Invariants: `at <= size` (it only grows up to `size`,
                    // below) and `at <= pos` (the arm above), so neither
                    // subtraction saturates.
                    let remaining_in_blob =
                        usize::try_from(this.size.saturating_sub(*at)).unwrap_or(usize::MAX);
                    let data = data.get(..remaining_in_blob).unwrap_or(data);
                    let skip = usize::try_from(this.pos.saturating_sub(*at)).unwrap_or(usize::MAX);
                    let n = if skip > 0 {
                        data.len().min(skip)
                    } else {
                        data.len().min(buf.remaining())
                    };
                    let taken = data.get(..n).unwrap_or_default();
                    hasher.update(taken);
                    // `n <= size - at`, so this is at most `size`.
                    let end = *at + n as u64;
                    if end == this.size {
                        let actual = B3Digest::from(hasher.finalize());
                        if actual != this.digest {
                            // Start over on the next read, which fails the
                            // same way, rather than hand out these bytes.
                            this.state = StreamState::Closed;
                            return Poll::Ready(Err(invalid_data(format!(
                                "server sent blob {} with digest {actual}",
                                this.digest
                            ))));
                        }
                        // `skip` is 0 here: with a skip, `end <= pos < size`.
                        // Held back until the stream has ended.
                        let tail = Bytes::copy_from_slice(taken);
                        stream.as_mut().consume(n);
                        let stream = std::mem::replace(stream, Box::pin(tokio::io::empty()));
                        this.state = StreamState::Draining { stream, tail };
                        continue;
                    }
                    if skip == 0 {
                        buf.put_slice(taken);
                        this.pos = end;
                    }
                    stream.as_mut().consume(n);
                    *at = end;
                    if skip == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
            }
        }
    }
}

impl AsyncSeek for StreamingBlobReader {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        this.pos = seek_target(this.size, this.pos, position)?;
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos))
    }
}

struct GrpcBlobWriter {
    /// Our end of the pipe feeding the upload; dropped by `close()`.
    writer: Option<DuplexStream>,
    digest_tx: Option<oneshot::Sender<B3Digest>>,
    upload: Option<JoinHandle<Result<proto::PutBlobResponse, Status>>>,
    hasher: blake3::Hasher,
    closed: Option<B3Digest>,
}

impl GrpcBlobWriter {
    fn writer(&mut self) -> io::Result<Pin<&mut DuplexStream>> {
        self.writer
            .as_mut()
            .map(Pin::new)
            .ok_or_else(write_after_close)
    }
}

impl AsyncWrite for GrpcBlobWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(this.writer()?.poll_write(cx, buf))?;
        this.hasher.update(buf.get(..n).unwrap_or_default());
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().writer()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().writer()?.poll_flush(cx)
    }
}

#[async_trait::async_trait]
impl BlobWriter for GrpcBlobWriter {
    async fn close(&mut self) -> io::Result<B3Digest> {
        if let Some(digest) = self.closed {
            return Ok(digest);
        }
        let (Some(mut writer), Some(digest_tx), Some(upload)) = (
            self.writer.take(),
            self.digest_tx.take(),
            self.upload.take(),
        ) else {
            return Err(io::Error::other("blob upload failed earlier"));
        };
        let digest = B3Digest::from(self.hasher.finalize());
        // Errors here mean the upload task ended early; its result says why.
        let _ = writer.shutdown().await;
        drop(writer);
        let _ = digest_tx.send(digest);
        let response = upload
            .await
            .map_err(io::Error::other)?
            .map_err(status_to_io)?;
        let stored = B3Digest::try_from(response.digest)
            .map_err(|e| invalid_data(format!("server answered an upload with {e}")))?;
        if stored != digest {
            return Err(invalid_data(format!(
                "uploaded blob {digest}, server stored {stored}"
            )));
        }
        self.closed = Some(digest);
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use futures::stream::BoxStream;
    use rstest::rstest;
    use tokio::net::UnixListener;
    use tokio_stream::wrappers::UnixListenerStream;
    use tonic::{Request, Response, Streaming};

    use super::*;
    use crate::blobservice::from_addr;
    use crate::proto::blob_service_server::{self, BlobServiceServer};
    use crate::proto::stat_blob_response;

    const BLOB: &[u8] = b"the whole blob, all of it";

    /// A server that sends [BLOB] whole and correct, then `after` in the
    /// same Read stream: what the stream has after the blob's bytes must
    /// still reach the reader, as the end of the stream must (a reader
    /// dropped before it resets the HTTP/2 stream).
    struct ThenSends {
        after: Result<Bytes, Status>,
    }

    #[tonic::async_trait]
    impl blob_service_server::BlobService for ThenSends {
        type ReadStream = BoxStream<'static, Result<proto::BlobChunk, Status>>;

        async fn stat(
            &self,
            _: Request<proto::StatBlobRequest>,
        ) -> Result<Response<proto::StatBlobResponse>, Status> {
            Ok(Response::new(proto::StatBlobResponse {
                chunks: vec![stat_blob_response::ChunkMeta {
                    digest: B3Digest::from(blake3::hash(BLOB)).into(),
                    size: BLOB.len() as u64,
                }],
            }))
        }

        async fn read(
            &self,
            _: Request<proto::ReadBlobRequest>,
        ) -> Result<Response<Self::ReadStream>, Status> {
            let piece = |data| proto::BlobChunk {
                data,
                digest: Bytes::new(),
            };
            let whole = Ok(piece(Bytes::from_static(BLOB)));
            let after = self.after.clone().map(piece);
            Ok(Response::new(futures::stream::iter([whole, after]).boxed()))
        }

        async fn put(
            &self,
            _: Request<Streaming<proto::BlobChunk>>,
        ) -> Result<Response<proto::PutBlobResponse>, Status> {
            Err(Status::unimplemented("read only"))
        }
    }

    /// Reading exactly the blob's size (as the NAR renderer does) already
    /// waits for the end of the stream, and so sees what the server sent
    /// after the blob.
    #[rstest]
    #[case::error_status(Err(Status::data_loss("disk gone")), "disk gone")]
    #[case::extra_bytes(Ok(Bytes::from_static(b"more")), "server sent more than")]
    #[tokio::test]
    async fn exact_read_sees_the_end_of_the_stream(
        #[case] after: Result<Bytes, Status>,
        #[case] error: &str,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("blobs.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(BlobServiceServer::new(ThenSends { after }))
                .serve_with_incoming(UnixListenerStream::new(listener)),
        );
        let client = from_addr(&format!("grpc+unix://{}", socket.display()))
            .await
            .expect("client");
        let mut reader = client
            .open_read(&B3Digest::from(blake3::hash(BLOB)))
            .await
            .expect("open")
            .expect("found");
        let mut data = vec![0; BLOB.len()];

        let read = reader.read_exact(&mut data).await;

        let e = read.expect_err("the stream did not end cleanly");
        assert!(e.to_string().contains(error), "{e}");
    }
}
