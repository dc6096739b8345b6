//! The writer of the backends that split large blobs into content-defined
//! chunks (object store, pack files), generic over where the chunks go
//! ([ChunkSink]).
//!
//! Blobs up to [CHUNK_MAX] stay whole: they are their own only chunk. Larger
//! ones are cut with FastCDC, so the cut points depend on the contents, not
//! on offsets: two blobs that differ in a few bytes share all chunks but the
//! few around the difference, and importing the same data twice stores no
//! new chunk.
//!
//! Each chunk is hashed and stored in a task of its own, a few at once, so
//! hashing and storing overlap with accepting more data on every core. The
//! chunk list is published only after every chunk in it is stored, so a
//! blob is visible exactly when [BlobWriter::close] has returned. This
//! module must never publish a chunk list naming a chunk that failed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use fastcdc::v2020::FastCDC;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, StreamExt};
use tokio::io::AsyncWrite;

use super::{BlobWriter, ChunkMeta, write_after_close};
use crate::B3Digest;

/// FastCDC minimum chunk size.
pub(crate) const CHUNK_MIN: usize = 64 * 1024;
/// FastCDC average chunk size: small enough that a one-byte change costs
/// little, big enough that a 1 GiB file is only ~4000 chunks.
const CHUNK_AVG: usize = 256 * 1024;
/// FastCDC maximum chunk size, and the size up to which blobs stay whole.
pub(crate) const CHUNK_MAX: usize = 1024 * 1024;
/// Chunk stores a writer keeps in flight before it stops accepting data.
const MAX_INFLIGHT_CHUNKS: usize = 4;

/// Where a [ChunkingWriter] puts what it cuts.
pub(super) trait ChunkSink: Clone + Send + Sync + Unpin + 'static {
    /// Stores `data`, at most [CHUNK_MAX] bytes with blake3 digest `digest`,
    /// as a blob of its own, unless it is already there.
    fn put_chunk(
        &self,
        digest: B3Digest,
        data: Bytes,
    ) -> impl Future<Output = io::Result<()>> + Send;

    /// Makes the blob `digest` visible as the concatenation of `chunks`,
    /// every one of which is stored.
    fn put_chunk_list(
        &self,
        digest: B3Digest,
        chunks: Vec<ChunkMeta>,
    ) -> impl Future<Output = io::Result<()>> + Send;
}

/// [super::BlobService::put] for a [ChunkSink]: a blob that stays whole is
/// stored straight from `contents`, a larger one goes through a writer.
pub(super) async fn put_whole<S: ChunkSink>(sink: &S, contents: Bytes) -> io::Result<B3Digest> {
    if contents.len() > CHUNK_MAX {
        let mut writer = ChunkingWriter::new(sink.clone());
        tokio::io::AsyncWriteExt::write_all(&mut writer, &contents).await?;
        return writer.close().await;
    }
    let digest = B3Digest::of(&contents);
    sink.put_chunk(digest, contents).await?;
    Ok(digest)
}

/// The first chunk the chunking backends cut from a blob that starts with
/// `start`, or `None` if `start` is too short to tell (at most [CHUNK_MAX]
/// bytes: the blob may be one that stays whole, and the first cut point
/// depends on the first [CHUNK_MAX] bytes). For importers that want to
/// know cheaply whether a large file is probably stored already: its first
/// chunk is a blob of its own there.
pub fn first_chunk(start: &[u8]) -> Option<&[u8]> {
    if start.len() <= CHUNK_MAX {
        return None;
    }
    let chunk = FastCDC::new(start, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX).next()?;
    start.get(..chunk.length)
}

/// A [BlobWriter] that cuts the blob into chunks for a [ChunkSink].
pub(super) struct ChunkingWriter<S> {
    sink: S,
    hasher: blake3::Hasher,
    /// Bytes written but not yet cut into a chunk.
    pending: BytesMut,
    /// Whether the blob has grown past [CHUNK_MAX] and is being split.
    splitting: bool,
    /// Chunks being stored, in blob order.
    storing: FuturesOrdered<BoxFuture<'static, io::Result<ChunkMeta>>>,
    /// Chunks stored so far, in blob order.
    stored: Vec<ChunkMeta>,
    /// Set once anything failed: the chunks stored so far no longer add up
    /// to what was written, so the blob must never be published.
    failed: bool,
    closed: Option<B3Digest>,
}

impl<S: ChunkSink> ChunkingWriter<S> {
    pub(super) fn new(sink: S) -> Self {
        Self {
            sink,
            hasher: blake3::Hasher::new(),
            pending: BytesMut::new(),
            splitting: false,
            storing: FuturesOrdered::new(),
            stored: Vec::new(),
            failed: false,
            closed: None,
        }
    }

    /// Moves finished chunks to `stored`; Ready once none is in flight.
    fn poll_storing(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.failed {
            return Poll::Ready(Err(io::Error::other("storing an earlier chunk failed")));
        }
        loop {
            match self.storing.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => self.stored.push(chunk),
                Poll::Ready(Some(Err(e))) => {
                    self.failed = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Stores what is left and publishes the blob.
    async fn finish(&mut self, digest: B3Digest) -> io::Result<()> {
        if self.splitting {
            self.cut_chunks(true);
            futures::future::poll_fn(|cx| self.poll_storing(cx)).await?;
            let chunks = std::mem::take(&mut self.stored);
            self.sink.put_chunk_list(digest, chunks).await
        } else {
            let data = self.pending.split().freeze();
            self.sink.put_chunk(digest, data).await
        }
    }

    /// Cuts chunks off the front of `pending` and starts storing them.
    /// Before the end of the blob only cut points that later bytes cannot
    /// move are taken: those with at least [CHUNK_MAX] bytes from the chunk
    /// start.
    fn cut_chunks(&mut self, at_end: bool) {
        let mut lengths = Vec::new();
        let mut chunker = FastCDC::new(&self.pending, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX);
        // FastCDC's chunks tile `pending`, so `offset` never exceeds its
        // length.
        let mut offset = 0;
        while at_end || self.pending.len().saturating_sub(offset) >= CHUNK_MAX {
            let Some(chunk) = chunker.next() else {
                break;
            };
            offset += chunk.length;
            lengths.push(chunk.length);
        }
        // The lengths add up to `offset`, at most `pending.len()`, so every
        // split is in bounds.
        for length in lengths {
            let data = self.pending.split_to(length).freeze();
            self.start_storing(data);
        }
    }

    /// Hashes and stores a chunk in a task of its own. Writers are only
    /// polled inside the tokio runtime castore runs in, which `tokio::spawn`
    /// needs.
    fn start_storing(&mut self, data: Bytes) {
        let sink = self.sink.clone();
        let task = tokio::spawn(async move {
            let digest = B3Digest::of(&data);
            let size = data.len() as u64;
            sink.put_chunk(digest, data).await?;
            Ok(ChunkMeta { digest, size })
        });
        self.storing
            .push_back(task.map(|joined| joined.map_err(io::Error::other)?).boxed());
    }
}

impl<S: ChunkSink> AsyncWrite for ChunkingWriter<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closed.is_some() {
            return Poll::Ready(Err(write_after_close()));
        }
        if let Poll::Ready(Err(e)) = this.poll_storing(cx) {
            return Poll::Ready(Err(e));
        }
        if this.storing.len() >= MAX_INFLIGHT_CHUNKS {
            // poll_storing registered the waker with the chunks in flight.
            return Poll::Pending;
        }
        // Taking at most one maximal chunk per call bounds `pending`.
        let accepted = buf.get(..CHUNK_MAX).unwrap_or(buf);
        this.hasher.update(accepted);
        this.pending.extend_from_slice(accepted);
        if this.pending.len() > CHUNK_MAX {
            this.splitting = true;
        }
        if this.splitting {
            this.cut_chunks(false);
        }
        Poll::Ready(Ok(accepted.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_storing(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_storing(cx)
    }
}

#[async_trait::async_trait]
impl<S: ChunkSink> BlobWriter for ChunkingWriter<S> {
    async fn close(&mut self) -> io::Result<B3Digest> {
        if let Some(digest) = self.closed {
            return Ok(digest);
        }
        if self.failed {
            return Err(io::Error::other("an earlier write to this blob failed"));
        }
        let digest = B3Digest::from(self.hasher.finalize());
        if let Err(e) = self.finish(digest).await {
            self.failed = true;
            return Err(e);
        }
        self.closed = Some(digest);
        Ok(digest)
    }
}
