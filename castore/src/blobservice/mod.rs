//! Blob storage: byte strings named by their blake3 digest.
//!
//! [BlobService] is the one trait every backend implements; callers hold an
//! `Arc<dyn BlobService>` built by [from_addr]. A blob becomes visible only
//! once its writer's [BlobWriter::close] has computed (and so verified) its
//! digest: no backend ever exposes half a blob under a digest.
//!
//! Large blobs may be stored as a list of chunks (content-defined, so similar
//! blobs share chunks). Every chunk is itself a blob that can be read by its
//! own digest, which lets clients fetch, verify and cache chunks one by one.

use std::io::{self, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, AsyncWriteExt};

use crate::B3Digest;

mod chunked_reader;
mod chunking;
mod combinator;
mod from_addr;
mod grpc;
mod memory;
mod object_store;
mod object_store_location;
mod pack;

#[cfg(test)]
pub(crate) mod tests;

pub use self::combinator::CombinedBlobService;
pub use self::from_addr::{FromAddrError, config_from_addr, from_addr, open_pack};
pub use self::grpc::GrpcBlobService;
pub use self::memory::MemoryBlobService;
pub use self::object_store::ObjectStoreBlobService;
pub use self::object_store_location::ObjectStoreLocation;
pub use self::pack::{OpenError as PackOpenError, PackBlobService, SpaceReport};

/// A store of blobs, addressed by the blake3 digest of their contents.
#[async_trait::async_trait]
pub trait BlobService: Send + Sync {
    /// Whether the blob exists.
    async fn has(&self, digest: &B3Digest) -> io::Result<bool>;

    /// A seekable reader for the blob, or `None` if it does not exist.
    async fn open_read(&self, digest: &B3Digest) -> io::Result<Option<Box<dyn BlobReader>>>;

    /// A writer for a new blob. Its contents become visible only when
    /// [BlobWriter::close] returns their digest; a writer dropped before that
    /// leaves no blob under that digest (a backend that splits blobs may keep
    /// the chunks it already stored, each a complete blob of its own).
    async fn open_write(&self) -> Box<dyn BlobWriter>;

    /// Stores `contents` as one blob and returns its digest, exactly as
    /// writing them to [BlobService::open_write] and closing it would. For
    /// callers that already hold a whole blob (an importer reading small
    /// files): a backend can keep these bytes instead of copying them into a
    /// writer's buffer.
    async fn put(&self, contents: Bytes) -> io::Result<B3Digest> {
        put_through_writer(self, &contents).await
    }

    /// The chunks the blob is made of, in order, or `None` if it does not
    /// exist. The sizes always add up to the blob size; a blob that is not
    /// split is its own only chunk.
    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>>;

    /// Makes every blob whose writer has closed durable, for callers about
    /// to store something that names them (a PathInfo): after a crash it
    /// must not name a blob that is gone. A no-op for backends that are
    /// durable at `close()` or not durable at all.
    async fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Lets `Arc<dyn BlobService>` (and `Arc` of any backend) be passed wherever
/// a `BlobService` is expected, e.g. to the importers.
#[async_trait::async_trait]
impl<T: BlobService + ?Sized> BlobService for Arc<T> {
    async fn has(&self, digest: &B3Digest) -> io::Result<bool> {
        self.as_ref().has(digest).await
    }

    async fn open_read(&self, digest: &B3Digest) -> io::Result<Option<Box<dyn BlobReader>>> {
        self.as_ref().open_read(digest).await
    }

    async fn open_write(&self) -> Box<dyn BlobWriter> {
        self.as_ref().open_write().await
    }

    async fn put(&self, contents: Bytes) -> io::Result<B3Digest> {
        self.as_ref().put(contents).await
    }

    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        self.as_ref().chunks(digest).await
    }

    async fn sync(&self) -> io::Result<()> {
        self.as_ref().sync().await
    }
}

/// A piece of a blob: its digest (it is a blob of its own) and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub digest: B3Digest,
    pub size: u64,
}

/// What [BlobService::open_read] returns: readable and seekable.
pub trait BlobReader: AsyncRead + AsyncSeek + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncSeek + Send + Unpin + 'static> BlobReader for T {}

/// What [BlobService::open_write] returns.
#[async_trait::async_trait]
pub trait BlobWriter: AsyncWrite + Send + Unpin {
    /// Finishes the blob, makes it visible and returns its digest. Calling it
    /// again returns the same digest; writing after it is an error.
    async fn close(&mut self) -> io::Result<B3Digest>;
}

/// [BlobService::put] the plain way, for backends that gain nothing from
/// holding the bytes.
async fn put_through_writer<S: BlobService + ?Sized>(
    service: &S,
    contents: &[u8],
) -> io::Result<B3Digest> {
    let mut writer = service.open_write().await;
    writer.write_all(contents).await?;
    writer.close().await
}

/// The error every backend's writer returns for a write after
/// [BlobWriter::close].
fn write_after_close() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "blob writer already closed")
}

/// Where a seek lands in a blob of `size` bytes read up to `pos`, for the
/// readers that track their position themselves, so they all behave like
/// the `Cursor` of the memory backend: past the end is allowed (reads there
/// return nothing), before the start or beyond `u64::MAX` is an error.
fn seek_target(size: u64, pos: u64, seek: SeekFrom) -> io::Result<u64> {
    match seek {
        SeekFrom::Start(offset) => Some(offset),
        SeekFrom::End(delta) => size.checked_add_signed(delta),
        SeekFrom::Current(delta) => pos.checked_add_signed(delta),
    }
    .ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "seek to a negative or overflowing position",
        )
    })
}
