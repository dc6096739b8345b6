//! `memory://`: blobs in a hash map, gone when the process exits.
//!
//! Meant for tests and short-lived imports. Blobs are never split.
//!
//! A writer keeps its bytes to itself until `close()`, which inserts the
//! whole blob under one lock: the map must never hold a partial blob.

use std::collections::HashMap;
use std::io::{self, Cursor};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;

use super::{BlobReader, BlobService, BlobWriter, ChunkMeta, write_after_close};
use crate::B3Digest;

type Blobs = Arc<RwLock<HashMap<B3Digest, Bytes>>>;

/// Blobs in memory; clones share the same blobs.
#[derive(Clone, Default)]
pub struct MemoryBlobService {
    blobs: Blobs,
}

impl MemoryBlobService {
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, digest: &B3Digest) -> io::Result<Option<Bytes>> {
        let blobs = self.blobs.read().map_err(|_| lock_poisoned())?;
        Ok(blobs.get(digest).cloned())
    }
}

/// Makes a whole blob visible under its digest, keeping an existing copy.
fn insert(blobs: &Blobs, digest: B3Digest, contents: Bytes) -> io::Result<()> {
    blobs
        .write()
        .map_err(|_| lock_poisoned())?
        .entry(digest)
        .or_insert(contents);
    Ok(())
}

/// A writer panicked while holding the lock; the map may be half-updated.
fn lock_poisoned() -> io::Error {
    io::Error::other("memory blob service lock poisoned")
}

#[async_trait::async_trait]
impl BlobService for MemoryBlobService {
    async fn has(&self, digest: &B3Digest) -> io::Result<bool> {
        Ok(self.get(digest)?.is_some())
    }

    async fn open_read(&self, digest: &B3Digest) -> io::Result<Option<Box<dyn BlobReader>>> {
        Ok(self
            .get(digest)?
            .map(|blob| Box::new(Cursor::new(blob)) as Box<dyn BlobReader>))
    }

    async fn open_write(&self) -> Box<dyn BlobWriter> {
        Box::new(MemoryBlobWriter {
            blobs: self.blobs.clone(),
            hasher: blake3::Hasher::new(),
            contents: Vec::new(),
            closed: None,
        })
    }

    async fn put(&self, contents: Bytes) -> io::Result<B3Digest> {
        let digest = B3Digest::of(&contents);
        insert(&self.blobs, digest, contents)?;
        Ok(digest)
    }

    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        Ok(self.get(digest)?.map(|blob| {
            vec![ChunkMeta {
                digest: *digest,
                size: blob.len() as u64,
            }]
        }))
    }
}

struct MemoryBlobWriter {
    blobs: Blobs,
    hasher: blake3::Hasher,
    contents: Vec<u8>,
    /// Set by `close`, after which the contents live in `blobs`.
    closed: Option<B3Digest>,
}

impl AsyncWrite for MemoryBlobWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closed.is_some() {
            return Poll::Ready(Err(write_after_close()));
        }
        this.hasher.update(buf);
        this.contents.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[async_trait::async_trait]
impl BlobWriter for MemoryBlobWriter {
    async fn close(&mut self) -> io::Result<B3Digest> {
        if let Some(digest) = self.closed {
            return Ok(digest);
        }
        let digest = B3Digest::from(self.hasher.finalize());
        insert(
            &self.blobs,
            digest,
            Bytes::from(std::mem::take(&mut self.contents)),
        )?;
        self.closed = Some(digest);
        Ok(digest)
    }
}
