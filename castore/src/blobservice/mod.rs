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

use std::fs::File;
use std::io::{self, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, AsyncWriteExt};

use crate::B3Digest;

/// Blobs the default [BlobService::put_many] stores at once.
const PUT_MANY_CONCURRENCY: usize = 16;

mod chunked_reader;
mod chunking;
mod combinator;
mod from_addr;
mod grpc;
mod memory;
mod object_store;
mod object_store_location;
mod pack;
mod verified;

#[cfg(test)]
pub(crate) mod tests;

pub use self::chunking::first_chunk;
pub use self::combinator::CombinedBlobService;
pub use self::from_addr::{FromAddrError, config_from_addr, from_addr, open_pack};
pub use self::grpc::GrpcBlobService;
pub use self::memory::MemoryBlobService;
pub use self::object_store::ObjectStoreBlobService;
pub use self::object_store_location::ObjectStoreLocation;
pub use self::pack::{OpenError as PackOpenError, PackBlobService, SpaceReport};
pub use self::verified::VerifiedDigests;

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

    /// [BlobService::put] of many blobs at once, returning their digests in
    /// order: for an importer handing over a batch of small files. A local backend hashes
    /// them on the calling task and looks all of them up at once, so a
    /// batch already stored (a tree imported again) costs one lookup and
    /// writes nothing; the others store them a few at a time.
    async fn put_many(&self, blobs: Vec<Bytes>) -> io::Result<Vec<B3Digest>> {
        futures::stream::iter(blobs)
            .map(|contents| self.put(contents))
            .buffered(PUT_MANY_CONCURRENCY)
            .try_collect()
            .await
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

    /// Where the chunks of blob `digest` lie, in order, if the backend
    /// keeps them in local files: for readers that serve many small reads
    /// on their own thread with positioned reads instead of a reader on a
    /// runtime (the FUSE mount). The bytes there are as stored, not
    /// verified: the caller checks each chunk against its digest before
    /// handing any of it out. `None` if the backend keeps no such files or
    /// the blob is not (yet) in them; callers then use
    /// [BlobService::open_read].
    fn locate(&self, _digest: &B3Digest) -> io::Result<Option<Vec<BlobLocation>>> {
        Ok(None)
    }

    /// A reader of many blobs at once on the calling thread, for a backend
    /// whose reads are local file reads: renderers that know every blob
    /// they will read (a NAR's files) then need no task per blob, and the
    /// backend can read neighbouring blobs with one read. `None` for
    /// backends whose reads wait on the network.
    fn bulk_reader(&self) -> Option<Arc<dyn BulkBlobReader>> {
        None
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

    async fn put_many(&self, blobs: Vec<Bytes>) -> io::Result<Vec<B3Digest>> {
        self.as_ref().put_many(blobs).await
    }

    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        self.as_ref().chunks(digest).await
    }

    async fn sync(&self) -> io::Result<()> {
        self.as_ref().sync().await
    }

    fn locate(&self, digest: &B3Digest) -> io::Result<Option<Vec<BlobLocation>>> {
        self.as_ref().locate(digest)
    }

    fn bulk_reader(&self) -> Option<Arc<dyn BulkBlobReader>> {
        self.as_ref().bulk_reader()
    }
}

/// What [BlobService::locate] finds for one chunk: the `len` bytes at
/// `offset` of `file` should have digest `digest`.
#[derive(Debug, Clone)]
pub struct BlobLocation {
    pub digest: B3Digest,
    pub file: Arc<File>,
    pub offset: u64,
    pub len: u64,
}

/// Reads many blobs in a given order, synchronously; see
/// [BlobService::bulk_reader].
pub trait BulkBlobReader: Send + Sync {
    /// The contents of `digests`, in that order, as pieces each verified
    /// against its blob's (or its chunk's) digest. An empty blob yields no
    /// piece. The pieces of blob `i` come after those of `i - 1`; reading
    /// stops at the first error. Blocks on file reads: call it on a
    /// blocking thread.
    fn read_in_order(&self, digests: Vec<B3Digest>) -> BlobPieces;
}

/// What [BulkBlobReader::read_in_order] yields.
pub type BlobPieces = Box<dyn Iterator<Item = Result<BlobPiece, BulkReadError>> + Send>;

/// A piece of the contents of blob `index` of a bulk read.
#[derive(Debug, Clone)]
pub struct BlobPiece {
    pub index: usize,
    pub data: Bytes,
}

/// Why a bulk read stopped, with the index of the blob it stopped at.
#[derive(Debug, thiserror::Error)]
pub enum BulkReadError {
    #[error("blob {digest} is not in the blob service")]
    NotFound { index: usize, digest: B3Digest },
    #[error("reading blob {digest}: {source}")]
    Io {
        index: usize,
        digest: B3Digest,
        source: io::Error,
    },
}

impl BulkReadError {
    /// The index of the blob the read stopped at.
    pub fn index(&self) -> usize {
        match self {
            BulkReadError::NotFound { index, .. } | BulkReadError::Io { index, .. } => *index,
        }
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
