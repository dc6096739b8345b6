//! A seekable reader over a blob stored as a list of chunks.
//!
//! Used by the backends that split blobs (object store) and by clients that
//! fetch chunks separately (gRPC). Each chunk is fetched whole when the read
//! position enters it and checked against its digest and size before a single
//! byte of it is handed out, so corrupt storage is an error, not bad data.

use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};

use super::ChunkMeta;
use crate::B3Digest;

/// Fetches the whole contents of one chunk.
pub(super) type FetchChunk =
    Arc<dyn Fn(ChunkMeta) -> BoxFuture<'static, io::Result<Bytes>> + Send + Sync>;

pub(super) struct ChunkedReader {
    chunks: Vec<ChunkMeta>,
    /// Offset of the first byte of each chunk within the blob.
    starts: Vec<u64>,
    size: u64,
    pos: u64,
    /// The chunk last fetched, by index.
    loaded: Option<(usize, Bytes)>,
    fetching: Option<(usize, BoxFuture<'static, io::Result<Bytes>>)>,
    fetch: FetchChunk,
}

impl ChunkedReader {
    /// Fails if the chunk sizes add up to more than `u64::MAX`, which only a
    /// corrupt chunk list can claim.
    pub(super) fn new(chunks: Vec<ChunkMeta>, fetch: FetchChunk) -> io::Result<Self> {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut size: u64 = 0;
        for chunk in &chunks {
            starts.push(size);
            size = size.checked_add(chunk.size).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "chunk sizes overflow")
            })?;
        }
        Ok(Self {
            chunks,
            starts,
            size,
            pos: 0,
            loaded: None,
            fetching: None,
            fetch,
        })
    }

    /// The index of the chunk holding byte `pos`, `None` at or past the end.
    /// Empty chunks share their start with the next one and are skipped,
    /// because the last chunk starting at or before `pos` is taken.
    fn chunk_index(&self, pos: u64) -> Option<usize> {
        if pos >= self.size {
            return None;
        }
        self.starts
            .partition_point(|start| *start <= pos)
            .checked_sub(1)
    }

    /// Copies bytes from the loaded chunk if it holds the read position.
    fn read_loaded(&mut self, index: usize, buf: &mut ReadBuf<'_>) -> bool {
        let Some((loaded_index, data)) = &self.loaded else {
            return false;
        };
        if *loaded_index != index {
            return false;
        }
        let start = self.starts.get(index).copied().unwrap_or(self.size);
        let offset = usize::try_from(self.pos - start).unwrap_or(usize::MAX);
        let available = data.get(offset..).unwrap_or_default();
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.pos += n as u64;
        true
    }
}

/// Checks fetched chunk contents against the chunk list entry.
fn verify_chunk(chunk: &ChunkMeta, data: &[u8]) -> io::Result<()> {
    if data.len() as u64 != chunk.size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "chunk {} has {} bytes, expected {}",
                chunk.digest,
                data.len(),
                chunk.size
            ),
        ));
    }
    let actual = B3Digest::of(data);
    if actual != chunk.digest {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("chunk {} has digest {}", chunk.digest, actual),
        ));
    }
    Ok(())
}

impl AsyncRead for ChunkedReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let Some(index) = this.chunk_index(this.pos) else {
                return Poll::Ready(Ok(()));
            };
            if this.read_loaded(index, buf) {
                return Poll::Ready(Ok(()));
            }
            let Some(chunk) = this.chunks.get(index).copied() else {
                return Poll::Ready(Ok(()));
            };
            match &mut this.fetching {
                Some((fetching_index, fetch)) if *fetching_index == index => {
                    let result = ready!(fetch.as_mut().poll(cx));
                    this.fetching = None;
                    let data = result?;
                    verify_chunk(&chunk, &data)?;
                    this.loaded = Some((index, data));
                }
                _ => this.fetching = Some((index, (this.fetch)(chunk))),
            }
        }
    }
}

impl AsyncSeek for ChunkedReader {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        let new_pos = match position {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => this.size.checked_add_signed(delta),
            SeekFrom::Current(delta) => this.pos.checked_add_signed(delta),
        };
        this.pos = new_pos.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        })?;
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos))
    }
}
