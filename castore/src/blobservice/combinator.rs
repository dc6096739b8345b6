//! A fast local blob service in front of a slower remote one.
//!
//! Reads try the local service first; a blob found only remotely is copied
//! into the local service (and so verified by its writer) before it is read
//! from there. Writes go to the remote service, which is the one other
//! machines see; they reach the local one when first read.
//!
//! It must never put a blob into the local service other than through a
//! local writer (which recomputes the digest), and never let a write land
//! only locally, where other machines would not find it.

use std::io;

use bytes::Bytes;

use tokio::io::AsyncWriteExt;

use super::{BlobReader, BlobService, BlobWriter, ChunkMeta};
use crate::B3Digest;

/// `local` in front of `remote`; see the module doc.
#[derive(Clone)]
pub struct CombinedBlobService<L, R> {
    local: L,
    remote: R,
}

impl<L: BlobService, R: BlobService> CombinedBlobService<L, R> {
    pub fn new(local: L, remote: R) -> Self {
        Self { local, remote }
    }

    /// Copies a blob from the remote to the local service, returning whether
    /// the remote had it.
    async fn fetch_to_local(&self, digest: &B3Digest) -> io::Result<bool> {
        let Some(mut reader) = self.remote.open_read(digest).await? else {
            return Ok(false);
        };
        let mut writer = self.local.open_write().await;
        tokio::io::copy(&mut reader, &mut writer).await?;
        writer.flush().await?;
        let copied = writer.close().await?;
        if copied != *digest {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("remote blob {digest} has digest {copied}"),
            ));
        }
        Ok(true)
    }
}

#[async_trait::async_trait]
impl<L: BlobService, R: BlobService> BlobService for CombinedBlobService<L, R> {
    async fn has(&self, digest: &B3Digest) -> io::Result<bool> {
        Ok(self.local.has(digest).await? || self.remote.has(digest).await?)
    }

    async fn open_read(&self, digest: &B3Digest) -> io::Result<Option<Box<dyn BlobReader>>> {
        if let Some(reader) = self.local.open_read(digest).await? {
            return Ok(Some(reader));
        }
        if !self.fetch_to_local(digest).await? {
            return Ok(None);
        }
        self.local.open_read(digest).await
    }

    async fn open_write(&self) -> Box<dyn BlobWriter> {
        self.remote.open_write().await
    }

    async fn put(&self, contents: Bytes) -> io::Result<B3Digest> {
        self.remote.put(contents).await
    }

    async fn put_many(&self, blobs: Vec<Bytes>) -> io::Result<Vec<B3Digest>> {
        self.remote.put_many(blobs).await
    }

    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        match self.local.chunks(digest).await? {
            Some(chunks) => Ok(Some(chunks)),
            None => self.remote.chunks(digest).await,
        }
    }

    /// Writes go to the remote service, which is the one to sync.
    async fn sync(&self) -> io::Result<()> {
        self.remote.sync().await
    }
}

#[cfg(test)]
mod tests {
    use super::CombinedBlobService;
    use crate::B3Digest;
    use crate::blobservice::tests::{put, read_all};
    use crate::blobservice::{BlobService, MemoryBlobService};

    #[tokio::test]
    async fn reads_fill_the_local_service() {
        let local = MemoryBlobService::new();
        let remote = MemoryBlobService::new();
        let combined = CombinedBlobService::new(local.clone(), remote.clone());
        let digest = put(&combined, b"far away").await;
        assert_eq!(B3Digest::of(b"far away"), digest);
        assert!(remote.has(&digest).await.expect("has"));
        assert!(!local.has(&digest).await.expect("has"));

        let contents = read_all(&combined, &digest).await;

        assert_eq!(b"far away", contents.as_slice());
        assert!(local.has(&digest).await.expect("has"));
    }
}
