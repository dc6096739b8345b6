//! `objectstore+memory://` and `objectstore+file:///path`: blobs in an
//! [ObjectStore], split into content-defined chunks.
//!
//! Layout below the base path:
//! - `chunks/b3/<hex[0..2]>/<hex>`: the raw bytes of a chunk, named by its
//!   own digest. A blob no larger than [super::chunking::CHUNK_MAX] is stored whole as its own
//!   only chunk.
//! - `blobs/b3/<hex[0..2]>/<hex>`: for a larger blob, its chunk list, encoded
//!   as a protobuf `StatBlobResponse`.
//!
//! Larger blobs are cut by [super::chunking]. Chunks are written only if
//! absent, so importing the same data twice writes nothing new.
//!
//! Every object is written with one atomic `put` (one multipart upload from
//! [DEFAULT_MULTIPART_THRESHOLD] bytes on, which becomes visible only when
//! completed), and a chunk list only after all its chunks exist, so a blob is visible exactly when its writer's
//! `close()` has returned. A writer dropped early may leave chunks behind;
//! they are named by their contents, so they are harmless and reusable.
//! This module must never publish a chunk list before every chunk in it is
//! stored, nor overwrite an existing object.
//!
//! In a local directory (`objectstore+file://`) objects are written through
//! the object store, but read and looked up with plain file system calls on
//! the calling thread: the object store runs every call on tokio's blocking
//! pool, and for the many small objects of a tree, read from the page cache
//! in microseconds, those thread hops cost more than the reads themselves.
//! There a blob's chunk list is also trusted: each chunk is checked when
//! read, but not that the chunks make up the blob (see
//! [super::chunked_reader] for why that is enough there).
//!
//! Objects are not fsynced one by one (the `object_store` default), which
//! keeps imports fast. Instead [BlobService::sync], which callers run before
//! storing anything that names blobs (a PathInfo), flushes the whole local
//! file system the objects are on (`syncfs`) if anything was written since
//! the last sync: without it, after a power loss an object could exist with
//! contents that never reached the disk, and since existing objects are
//! never rewritten, importing it again would not repair it. (Reads check
//! every digest, so such a blob would be an error, never wrong data.) A
//! remote object store is durable at `put`; its sync is a no-op.

use std::io::{self, Cursor};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ::object_store::local::LocalFileSystem;
use ::object_store::path::Path;
use ::object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart,
};
use bytes::Bytes;
use data_encoding::HEXLOWER;
use futures::FutureExt;
use prost::Message;

use super::chunked_reader::{ChunkedReader, FetchChunk, chunk_list_from_proto, verify_digest};
use super::chunking::{ChunkSink, ChunkingWriter, put_whole};
use super::{BlobReader, BlobService, BlobWriter, ChunkMeta};
use crate::B3Digest;
use crate::proto;

/// Objects from this size on are uploaded in parts: a remote store
/// refuses (or times out on) single requests that are too large. Chunks
/// stay below it; a chunk list reaches it for a blob of about 100 GiB.
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;

/// The size of the parts of a multipart upload (S3 wants at least 5 MiB
/// for every part but the last).
const MULTIPART_PART_SIZE: usize = 8 * 1024 * 1024;

/// Blobs in any [ObjectStore], below a base path; see the module doc.
#[derive(Clone)]
pub struct ObjectStoreBlobService {
    store: Arc<dyn ObjectStore>,
    base: Path,
    /// Objects of at least this many bytes are uploaded in parts.
    multipart_threshold: usize,
    /// The directory `base` names, when `store` is a local file system:
    /// objects are then read there directly; see the module doc.
    local_base: Option<Arc<std::path::Path>>,
    /// Whether an object was written since the last [BlobService::sync].
    unsynced: Arc<AtomicBool>,
}

/// The two kinds of object, each in a directory of its own.
#[derive(Clone, Copy)]
enum Kind {
    /// `chunks/`: chunk contents.
    Chunk,
    /// `blobs/`: chunk lists.
    ChunkList,
}

impl Kind {
    fn directory(self) -> &'static str {
        match self {
            Kind::Chunk => "chunks",
            Kind::ChunkList => "blobs",
        }
    }
}

impl ObjectStoreBlobService {
    /// Stores blobs below `base` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, base: Path) -> Self {
        Self {
            store,
            base,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            local_base: None,
            unsynced: Arc::default(),
        }
    }

    /// Uploads objects of at least `bytes` in parts instead of
    /// [DEFAULT_MULTIPART_THRESHOLD].
    pub fn with_multipart_threshold(self, bytes: usize) -> Self {
        Self {
            multipart_threshold: bytes,
            ..self
        }
    }

    /// Stores blobs below `base` in a local directory, reading them without
    /// a thread hop. Fails if `base` names no local path.
    pub fn new_local(
        store: Arc<LocalFileSystem>,
        base: Path,
    ) -> Result<Self, ::object_store::Error> {
        let local_base = store.path_to_filesystem(&base)?;
        Ok(Self {
            store,
            base,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            local_base: Some(local_base.into()),
            unsynced: Arc::default(),
        })
    }

    /// The name of an object in the store.
    fn object_path(&self, kind: Kind, digest: &B3Digest) -> Path {
        let (shard, hex) = shard_and_hex(digest);
        self.base
            .clone()
            .join(kind.directory())
            .join("b3")
            .join(shard)
            .join(hex)
    }

    /// The file of an object in a local store.
    fn local_path(local_base: &std::path::Path, kind: Kind, digest: &B3Digest) -> PathBuf {
        let (shard, hex) = shard_and_hex(digest);
        let mut path = local_base.join(kind.directory());
        path.extend(["b3", &shard, &hex]);
        path
    }

    /// The size of an object, `None` if there is none.
    async fn head(&self, kind: Kind, digest: &B3Digest) -> io::Result<Option<u64>> {
        if let Some(local_base) = &self.local_base {
            let path = Self::local_path(local_base, kind, digest);
            return not_found_is_none(std::fs::metadata(path).map(|meta| meta.len()));
        }
        match self.store.head(&self.object_path(kind, digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(::object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The contents of an object, `None` if there is none.
    async fn get(&self, kind: Kind, digest: &B3Digest) -> io::Result<Option<Bytes>> {
        if let Some(local_base) = &self.local_base {
            let path = Self::local_path(local_base, kind, digest);
            return not_found_is_none(std::fs::read(path).map(Bytes::from));
        }
        match self.store.get(&self.object_path(kind, digest)).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(::object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `data` as an object unless it is already there. Objects are
    /// named by their contents, so an existing one holds the same bytes.
    /// The store writes a temporary object and moves it into place (the local
    /// file system: a staging file hard-linked to the name), so the name
    /// never leads to a partial object.
    async fn put_if_absent(&self, kind: Kind, digest: &B3Digest, data: Bytes) -> io::Result<()> {
        if self.head(kind, digest).await?.is_some() {
            return Ok(());
        }
        let path = self.object_path(kind, digest);
        if data.len() >= self.multipart_threshold {
            // A multipart upload cannot be made conditional; one that races
            // another writer of the same name writes the same bytes. It is
            // invisible until completed, and aborted if it fails.
            let upload = self.store.put_multipart(&path).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_PART_SIZE);
            writer.put(data);
            writer.finish().await?;
            self.unsynced.store(true, Ordering::SeqCst);
            return Ok(());
        }
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let put = self
            .store
            .put_opts(&path, PutPayload::from(data), options)
            .await;
        // After the put, so that a sync once this returns covers it.
        self.unsynced.store(true, Ordering::SeqCst);
        match put {
            Ok(_) | Err(::object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The chunk list of a blob that was split, `None` if there is none.
    async fn chunk_list(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        let Some(encoded) = self.get(Kind::ChunkList, digest).await? else {
            return Ok(None);
        };
        let list = proto::StatBlobResponse::decode(encoded).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("chunk list of blob {digest}: {e}"),
            )
        })?;
        chunk_list_from_proto(digest, list.chunks).map(Some)
    }
}

/// Objects are spread over 256 directories by the first byte of their
/// digest, so no directory gets huge.
fn shard_and_hex(digest: &B3Digest) -> (String, String) {
    let hex = HEXLOWER.encode(digest.as_slice());
    let shard = hex.get(..2).unwrap_or_default().to_owned();
    (shard, hex)
}

/// Writes everything pending of the file system `dir` is on to disk. One
/// call for all the objects an import wrote, where an fsync of each file
/// and directory would be thousands.
fn syncfs(dir: &std::path::Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `dir` keeps open.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn not_found_is_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait::async_trait]
impl BlobService for ObjectStoreBlobService {
    async fn has(&self, digest: &B3Digest) -> io::Result<bool> {
        for kind in [Kind::Chunk, Kind::ChunkList] {
            if self.head(kind, digest).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn open_read(&self, digest: &B3Digest) -> io::Result<Option<Box<dyn BlobReader>>> {
        if let Some(data) = self.get(Kind::Chunk, digest).await? {
            verify_digest(digest, &data)?;
            return Ok(Some(Box::new(Cursor::new(data))));
        }
        let Some(chunks) = self.chunk_list(digest).await? else {
            return Ok(None);
        };
        let service = self.clone();
        let blob = *digest;
        let fetch: FetchChunk = Arc::new(move |chunk: ChunkMeta| {
            let service = service.clone();
            async move {
                service
                    .get(Kind::Chunk, &chunk.digest)
                    .await?
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("chunk {} of blob {blob} is missing", chunk.digest),
                        )
                    })
            }
            .boxed()
        });
        let reader = ChunkedReader::new(*digest, chunks, fetch)?;
        // A local directory's chunk lists are as trusted as the rest of the
        // store beside them; see the chunked reader's module doc.
        Ok(Some(if self.local_base.is_some() {
            Box::new(reader.trusting_chunk_list())
        } else {
            Box::new(reader)
        }))
    }

    async fn open_write(&self) -> Box<dyn BlobWriter> {
        Box::new(ChunkingWriter::new(self.clone()))
    }

    async fn put(&self, contents: Bytes) -> io::Result<B3Digest> {
        put_whole(self, contents).await
    }

    /// Flushes the local file system the objects are on, if one was
    /// written since the last sync; see the module doc.
    async fn sync(&self) -> io::Result<()> {
        let Some(local_base) = self.local_base.clone() else {
            return Ok(());
        };
        if !self.unsynced.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let synced = tokio::task::spawn_blocking(move || syncfs(&local_base))
            .await
            .map_err(io::Error::other)
            .and_then(|synced| synced);
        if synced.is_err() {
            self.unsynced.store(true, Ordering::SeqCst);
        }
        synced
    }

    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        if let Some(chunks) = self.chunk_list(digest).await? {
            return Ok(Some(chunks));
        }
        let whole = self.head(Kind::Chunk, digest).await?;
        Ok(whole.map(|size| {
            vec![ChunkMeta {
                digest: *digest,
                size,
            }]
        }))
    }
}

impl ChunkSink for ObjectStoreBlobService {
    async fn put_chunk(&self, digest: B3Digest, data: Bytes) -> io::Result<()> {
        self.put_if_absent(Kind::Chunk, &digest, data).await
    }

    async fn put_chunk_list(&self, digest: B3Digest, chunks: Vec<ChunkMeta>) -> io::Result<()> {
        let list = proto::StatBlobResponse {
            chunks: chunks.into_iter().map(Into::into).collect(),
        };
        self.put_if_absent(Kind::ChunkList, &digest, list.encode_to_vec().into())
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ::object_store::memory::InMemory;
    use ::object_store::{ObjectStoreExt, PutPayload};
    use rstest::rstest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{Kind, ObjectStoreBlobService};
    use crate::B3Digest;
    use crate::blobservice::BlobService;
    use crate::blobservice::chunking::{CHUNK_MAX, CHUNK_MIN};
    use crate::blobservice::tests::{chunks_of, put, read_all};
    use crate::fixtures::blob_contents;

    fn service() -> (Arc<InMemory>, ObjectStoreBlobService) {
        let store = Arc::new(InMemory::new());
        let service = ObjectStoreBlobService::new(store.clone(), "blobs-test".into());
        (store, service)
    }

    #[rstest]
    #[case::empty(0, 1)]
    #[case::small(1000, 1)]
    #[case::threshold(CHUNK_MAX, 1)]
    #[case::above_threshold(CHUNK_MAX + 1, 2)]
    #[tokio::test]
    async fn blobs_up_to_the_threshold_stay_whole(#[case] size: usize, #[case] min_chunks: usize) {
        let (_, service) = service();
        let contents = blob_contents("whole", size);
        let digest = put(&service, &contents).await;

        let chunks = chunks_of(&service, &digest).await;

        assert!(chunks.len() >= min_chunks, "{} chunks", chunks.len());
        if min_chunks == 1 {
            assert_eq!(
                vec![super::ChunkMeta {
                    digest,
                    size: size as u64
                }],
                chunks
            );
        }
    }

    #[tokio::test]
    async fn large_blobs_are_cut_within_bounds() {
        let (_, service) = service();
        let contents = blob_contents("bounds", 20 * CHUNK_MAX + 1);
        let digest = put(&service, &contents).await;

        let chunks = chunks_of(&service, &digest).await;

        let (last, rest) = chunks.split_last().expect("has chunks");
        assert!(rest.len() > 20, "only {} chunks", chunks.len());
        for chunk in rest {
            assert!(
                (CHUNK_MIN as u64..=CHUNK_MAX as u64).contains(&chunk.size),
                "{chunk:?}"
            );
        }
        assert!(last.size <= CHUNK_MAX as u64);
    }

    /// Writes in pieces of any size cut the same chunks.
    #[rstest]
    #[case::tiny_writes(1000)]
    #[case::odd_writes(65_537)]
    #[case::huge_writes(5 * CHUNK_MAX)]
    #[tokio::test]
    async fn cut_points_do_not_depend_on_write_sizes(#[case] write_size: usize) {
        let contents = blob_contents("cut points", 6 * CHUNK_MAX + 3);
        let (_, reference) = service();
        let digest = put(&reference, &contents).await;
        let (_, service) = service();
        let mut writer = service.open_write().await;
        for piece in contents.chunks(write_size) {
            writer.write_all(piece).await.expect("write");
        }

        assert_eq!(digest, writer.close().await.expect("close"));
        assert_eq!(
            reference.chunks(&digest).await.expect("chunks"),
            service.chunks(&digest).await.expect("chunks")
        );
    }

    #[rstest]
    #[case::whole_blob(1000)]
    #[case::chunked_blob(3 * CHUNK_MAX)]
    #[tokio::test]
    async fn corrupt_storage_is_an_error(#[case] size: usize) {
        let (store, service) = service();
        let contents = blob_contents("corrupt", size);
        let digest = put(&service, &contents).await;
        let chunks = chunks_of(&service, &digest).await;
        let victim = chunks.last().expect("has chunks");
        let mut garbage = read_all(&service, &victim.digest).await;
        garbage[0] ^= 1;
        store
            .put(
                &service.object_path(Kind::Chunk, &victim.digest),
                PutPayload::from(garbage),
            )
            .await
            .expect("overwrite");

        let error = match service.open_read(&digest).await {
            Err(e) => e,
            Ok(reader) => {
                let mut reader = reader.expect("exists");
                reader
                    .read_to_end(&mut Vec::new())
                    .await
                    .expect_err("must fail")
            }
        };

        assert_eq!(std::io::ErrorKind::InvalidData, error.kind());
        assert!(error.to_string().contains("has digest"), "{error}");
    }

    /// A store that cannot take chunks: a file sits where their directory
    /// must go.
    #[rstest]
    #[case::whole_blob(1000)]
    #[case::chunked_blob(3 * CHUNK_MAX)]
    #[tokio::test]
    async fn failed_writes_never_publish(#[case] size: usize) {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let blocker = dir.path().join("blobs").join("chunks");
        std::fs::create_dir(dir.path().join("blobs")).expect("mkdir");
        std::fs::write(&blocker, b"in the way").expect("write");
        let store = ::object_store::local::LocalFileSystem::new_with_prefix(dir.path())
            .expect("local store");
        let service = ObjectStoreBlobService::new_local(Arc::new(store), "blobs".into())
            .expect("a local path");
        let contents = blob_contents("failing", size);

        let mut writer = service.open_write().await;
        let written = writer.write_all(&contents).await;
        let first_close = writer.close().await;
        let second_close = writer.close().await;

        assert!(written.is_err() || first_close.is_err(), "a step must fail");
        assert!(second_close.is_err(), "a failed writer must stay failed");
        std::fs::remove_file(&blocker).expect("clear the way");
        assert!(!service.has(&B3Digest::of(&contents)).await.expect("has"));
    }

    /// Chunks from the threshold on go up in multipart uploads, which a
    /// real S3 server completes into the same objects.
    #[cfg(feature = "integration")]
    #[tokio::test]
    async fn multipart_uploads_on_s3() {
        use crate::blobservice::ObjectStoreLocation;

        let url = crate::moto::shared().fresh_bucket_url();
        let service = ObjectStoreLocation::parse(&url)
            .expect("valid URL")
            .open()
            .expect("S3 store")
            .with_multipart_threshold(CHUNK_MIN);
        let contents = blob_contents("multipart", 4 * CHUNK_MAX + 7);

        let digest = put(&service, &contents).await;

        assert!(chunks_of(&service, &digest).await.len() > 1);
        assert_eq!(contents, read_all(&service, &digest).await);
        let fresh = ObjectStoreLocation::parse(&url)
            .expect("valid URL")
            .open()
            .expect("S3 store");
        assert_eq!(
            contents,
            read_all(&fresh, &digest).await,
            "stored, not cached"
        );
    }
}
