//! `pack:///path`: blobs appended to large pack files, found through an
//! index in redb; the default local store.
//!
//! One file per blob costs an inode allocation per small file, which on a
//! tree of many small files costs more than hashing them. Here blobs up to
//! the chunk size are appended to `packs/NNNNNNNN.pack` with few large
//! writes, larger blobs are cut into chunks (see [super::chunking]) that go
//! to the same packs, and `index.redb` maps each digest to its place (see
//! [index]).
//!
//! Crash safety: a blob is readable in this process once its writer's
//! `close()` returned, but it reaches the index only by a commit, which
//! syncs the packs it is in before the index transaction naming it
//! commits. Commits happen after every [COMMIT_BYTES] appended, on
//! [BlobService::sync] (called before anything naming the blobs, such as a
//! PathInfo, is stored) and when the store is dropped. So after a crash
//! the index names only durable bytes; on open, bytes past a pack's
//! committed length (a torn tail) are cut off, and a pack shorter than
//! committed (cut by hand, a damaged disk) loses the blobs that no longer
//! fit from the index.
//!
//! Reads are positioned reads on the calling thread, verified against the
//! digest; chunked blobs are read through [ChunkedReader], which verifies
//! every chunk and, the chunk lists being this store's own, trusts them.
//! A whole blob or chunk is verified once per process: the digests checked
//! are remembered (up to [VERIFIED_MAX], then forgotten all at once), so a
//! cache serving the same NARs again hashes nothing twice. Bytes that rot
//! on disk after their check are then caught by the next process. Many
//! blobs in a known order (a NAR's files) are read by [bulk_read] from
//! maps of the packs (see [mapped]), hashed on two helper threads
//! ([fetcher]).
//!
//! One process at a time: `lock` is locked exclusively while the store is
//! open, and a second process gets [OpenError::Locked]. Within a process
//! every open of the same directory shares one store, so a daemon, an
//! importer and a FUSE mount can all use it.

mod appender;
mod bulk_read;
mod fetcher;
mod index;
mod mapped;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Cursor};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock, RwLock, Weak};

use bytes::Bytes;
use futures::FutureExt;
use thiserror::Error;

use self::appender::{Appender, Commit, pack_number, pack_path};
use self::fetcher::Fetcher;
use self::index::Entry;
use self::mapped::Windows;
use super::chunked_reader::{ChunkedReader, FetchChunk, verify_digest};
use super::chunking::{CHUNK_MAX, ChunkSink, ChunkingWriter, put_whole};
use super::{
    BlobLocation, BlobReader, BlobService, BlobWriter, BulkBlobReader, ChunkMeta, VerifiedDigests,
};
use crate::B3Digest;

/// A commit is started once this many bytes were appended since the last.
const COMMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Why a pack store could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error("the pack store {0:?} is in use by another process")]
    Locked(PathBuf),
    #[error("opening the pack store {path:?}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// What `tvix-store gc --dry-run` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceReport {
    /// The committed bytes of all packs.
    pub pack_bytes: u64,
    /// Bytes of stored blobs that are reachable.
    pub live_bytes: u64,
    /// Stored blobs (whole blobs and chunks) that are not reachable.
    pub dead_blobs: u64,
}

impl SpaceReport {
    /// Bytes a compaction would free: everything in packs but live blobs.
    pub fn unreachable_bytes(&self) -> u64 {
        self.pack_bytes.saturating_sub(self.live_bytes)
    }
}

/// Blobs in pack files below a directory; clones share the store.
#[derive(Clone)]
pub struct PackBlobService {
    store: Arc<Store>,
}

struct Store {
    dir: PathBuf,
    db: redb::Database,
    appender: Mutex<Appender>,
    /// Held while a commit syncs and writes the index, so that commits (and
    /// with them the packs' committed lengths) follow each other in order.
    committing: Mutex<()>,
    /// Whether a commit started by the byte threshold is under way.
    commit_running: AtomicBool,
    /// Read handles of the packs, by number.
    readers: RwLock<HashMap<u32, Arc<File>>>,
    /// The packs' committed lengths, as in the index: what may be mapped.
    committed: RwLock<HashMap<u32, u64>>,
    /// Blobs and chunks whose bytes this process has checked already.
    verified: VerifiedDigests,
    /// Threads that read and check bulk reads, started with the first
    /// large one; `None` if they could not be started.
    fetcher: OnceLock<Option<Fetcher>>,
    /// The windows of the packs mapped for bulk reads.
    windows: Windows,
    /// Held, and locked, for as long as the store is open.
    _lock: File,
}

/// The stores open in this process, by directory.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Store>>>> = LazyLock::new(Default::default);

impl PackBlobService {
    /// Opens the store in `dir`, creating it if needed, or shares the one
    /// this process has open there already. Blocks on file system work.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        let dir = dir.as_ref();
        let io_error = |source| OpenError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir.join("packs")).map_err(io_error)?;
        let dir = dir.canonicalize().map_err(io_error)?;
        let mut open = lock(&OPEN).map_err(io_error)?;
        if let Some(store) = open.get(&dir).and_then(Weak::upgrade) {
            return Ok(Self { store });
        }
        let store = Arc::new(Store::open(&dir)?);
        open.retain(|_, store| store.strong_count() > 0);
        open.insert(dir, Arc::downgrade(&store));
        Ok(Self { store })
    }

    /// How much of the packs is reachable from `roots` (blob digests, such
    /// as every file of every PathInfo); a chunked root keeps its chunks.
    pub fn space_report(&self, roots: &HashSet<B3Digest>) -> io::Result<SpaceReport> {
        self.sync_blocking()?;
        let mut report = SpaceReport {
            pack_bytes: index::packs(&self.store.db)?
                .iter()
                .map(|(_, length)| length)
                .sum(),
            ..Default::default()
        };
        let mut live: HashSet<B3Digest> = roots.clone();
        let mut stored = Vec::new();
        index::for_each_blob(&self.store.db, &mut |digest, entry| match entry {
            Entry::Chunked(chunks) if roots.contains(&digest) => {
                live.extend(chunks.iter().map(|chunk| chunk.digest));
            }
            Entry::Chunked(_) => {}
            Entry::Stored { len, .. } => stored.push((digest, len)),
        })?;
        for (digest, len) in stored {
            if live.contains(&digest) {
                report.live_bytes += len;
            } else {
                report.dead_blobs += 1;
            }
        }
        Ok(report)
    }

    /// The digest of every blob in the index (whole, chunked and chunks),
    /// for checking a store blob by blob.
    pub fn indexed_blobs(&self) -> io::Result<Vec<B3Digest>> {
        let mut digests = Vec::new();
        index::for_each_blob(&self.store.db, &mut |digest, _| digests.push(digest))?;
        Ok(digests)
    }

    /// Commits everything appended so far; see the module doc.
    fn sync_blocking(&self) -> io::Result<()> {
        self.store.commit()
    }

    fn lookup(&self, digest: &B3Digest) -> io::Result<Option<Entry>> {
        if let Some(entry) = self.store.appender()?.pending(digest) {
            return Ok(Some(entry));
        }
        index::lookup(&self.store.db, digest)
    }

    /// [Self::lookup] of many blobs: one lock and one index transaction.
    fn lookup_many(&self, digests: &[B3Digest]) -> io::Result<Vec<Option<Entry>>> {
        let mut entries: Vec<Option<Entry>> = {
            let appender = self.store.appender()?;
            digests
                .iter()
                .map(|digest| appender.pending(digest))
                .collect()
        };
        let missing: Vec<B3Digest> = digests
            .iter()
            .zip(&entries)
            .filter(|(_, entry)| entry.is_none())
            .map(|(digest, _)| *digest)
            .collect();
        if missing.is_empty() {
            return Ok(entries);
        }
        let mut found = index::lookup_many(&self.store.db, &missing)?.into_iter();
        for entry in entries.iter_mut().filter(|entry| entry.is_none()) {
            *entry = found.next().flatten();
        }
        Ok(entries)
    }

    /// Checks each `(digest, bytes)` unless this process checked that
    /// digest before; the first mismatch is the error.
    fn verify_once<'a>(
        &self,
        blobs: impl IntoIterator<Item = (&'a B3Digest, &'a [u8])>,
    ) -> io::Result<()> {
        let unchecked: Vec<(&B3Digest, &[u8])> = blobs
            .into_iter()
            .filter(|(digest, _)| !self.store.verified.contains(digest))
            .collect();
        for (digest, data) in &unchecked {
            verify_digest(digest, data)?;
        }
        self.store
            .verified
            .extend(unchecked.iter().map(|(digest, _)| **digest));
        Ok(())
    }

    /// Whether bytes `offset..end` of pack `pack` may still be in the
    /// appender's buffer rather than in the file.
    fn maybe_buffered(&self, pack: u32, end: u64) -> io::Result<bool> {
        Ok(self.store.appender()?.maybe_buffered(pack, end))
    }

    /// The bytes of a stored blob, as they are in the pack (not verified).
    fn read_stored(&self, pack: u32, offset: u64, len: u64) -> io::Result<Bytes> {
        if let Some(buffered) = self.store.appender()?.buffered(pack, offset, len) {
            return Ok(buffered.into());
        }
        let file = self.store.reader(pack)?;
        let len = usize::try_from(len)
            .map_err(|_| index::corrupt(format!("blob of {len} bytes in pack {pack}")))?;
        read_at(&file, pack, offset, len)
    }

    /// The bytes of a blob that must be stored whole (a chunk).
    fn read_chunk(&self, blob: &B3Digest, chunk: &B3Digest) -> io::Result<Bytes> {
        match self.lookup(chunk)? {
            Some(Entry::Stored { pack, offset, len }) => self.read_stored(pack, offset, len),
            _ => Err(index::corrupt(format!(
                "chunk {chunk} of blob {blob} is missing"
            ))),
        }
    }
}

impl Store {
    fn open(dir: &Path) -> Result<Self, OpenError> {
        let io_error = |source| OpenError::Io {
            path: dir.to_owned(),
            source,
        };
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(io_error)?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Locked(dir.into())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e)),
        }
        let db = redb::Database::create(dir.join("index.redb"))
            .map_err(|e| io_error(index::db_error(e)))?;
        index::create_tables(&db).map_err(io_error)?;
        let packs_dir = dir.join("packs");
        let (pack, length) = recover_packs(&db, &packs_dir).map_err(io_error)?;
        let committed = index::packs(&db).map_err(io_error)?.into_iter().collect();
        let appender = Appender::open(packs_dir, pack, length).map_err(io_error)?;
        Ok(Self {
            dir: dir.to_owned(),
            db,
            appender: Mutex::new(appender),
            committing: Mutex::new(()),
            commit_running: AtomicBool::new(false),
            readers: RwLock::new(HashMap::new()),
            committed: RwLock::new(committed),
            verified: VerifiedDigests::default(),
            fetcher: OnceLock::new(),
            windows: Windows::default(),
            _lock: lock_file,
        })
    }

    fn appender(&self) -> io::Result<MutexGuard<'_, Appender>> {
        lock(&self.appender)
    }

    fn reader(&self, pack: u32) -> io::Result<Arc<File>> {
        let readers = self
            .readers
            .read()
            .map_err(|_| io::Error::other("pack readers lock poisoned"))?;
        if let Some(file) = readers.get(&pack) {
            return Ok(file.clone());
        }
        drop(readers);
        let path = pack_path(&self.dir.join("packs"), pack);
        let file = Arc::new(
            File::open(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        );
        self.readers
            .write()
            .map_err(|_| io::Error::other("pack readers lock poisoned"))?
            .insert(pack, file.clone());
        Ok(file)
    }

    /// The length of pack `pack` as committed to the index: its bytes
    /// below that are durable and never change.
    fn committed_length(&self, pack: u32) -> io::Result<u64> {
        let committed = self
            .committed
            .read()
            .map_err(|_| io::Error::other("pack lengths lock poisoned"))?;
        Ok(committed.get(&pack).copied().unwrap_or(0))
    }

    /// Syncs what was appended and indexes it. Blocks.
    fn commit(&self) -> io::Result<()> {
        let _committing = lock(&self.committing)?;
        let Some(Commit {
            files,
            entries,
            pack_lengths,
        }) = self.appender()?.take_commit()?
        else {
            return Ok(());
        };
        let durable = files
            .iter()
            .try_for_each(|file| file.sync_data())
            .and_then(|()| index::commit_entries(&self.db, &entries, &pack_lengths));
        if durable.is_ok() {
            self.committed
                .write()
                .map_err(|_| io::Error::other("pack lengths lock poisoned"))?
                .extend(pack_lengths);
        }
        let mut appender = self.appender()?;
        match durable {
            Ok(()) => {
                appender.committed(&entries);
                Ok(())
            }
            Err(e) => {
                // The appended bytes may not be on disk: accept no more.
                appender.failed = Some(e.to_string());
                Err(e)
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.commit() {
            tracing::error!(dir = %self.dir.display(), error = %e, "committing the pack store");
        }
    }
}

/// Brings the packs in line with the index after whatever ended the last
/// process, and returns the pack to append to and its length.
fn recover_packs(db: &redb::Database, packs_dir: &Path) -> io::Result<(u32, u64)> {
    let committed: HashMap<u32, u64> = index::packs(db)?.into_iter().collect();
    for entry in std::fs::read_dir(packs_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pack) = name.to_str().and_then(pack_number) else {
            continue;
        };
        match committed.get(&pack) {
            // Never committed: nothing in it is indexed.
            None => std::fs::remove_file(entry.path())?,
            Some(&length) if entry.metadata()?.len() > length => {
                tracing::info!(pack, length, "cutting off the uncommitted tail of a pack");
                File::options()
                    .write(true)
                    .open(entry.path())?
                    .set_len(length)?;
            }
            Some(_) => {}
        }
    }
    for (&pack, &length) in &committed {
        let actual = match std::fs::metadata(pack_path(packs_dir, pack)) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if actual < length {
            let removed = index::repair_pack(db, pack, actual)?;
            tracing::warn!(
                pack,
                committed = length,
                actual,
                removed,
                "a pack is shorter than committed; its cut blobs are removed from the index"
            );
        }
    }
    let last = committed.iter().max_by_key(|(pack, _)| **pack);
    Ok(match last {
        None => (0, 0),
        Some((&pack, &length)) if length < appender::PACK_MAX => (pack, length),
        Some((&pack, _)) => (
            pack.checked_add(1)
                .ok_or_else(|| io::Error::other("out of pack numbers"))?,
            0,
        ),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> io::Result<MutexGuard<'_, T>> {
    mutex
        .lock()
        .map_err(|_| io::Error::other("pack store lock poisoned"))
}

impl PackBlobService {
    /// Appends the blobs (each at most [CHUNK_MAX] bytes, with their
    /// digests) that are not stored yet, looking all of them up in one
    /// index transaction, and starts a commit once enough was appended.
    fn append_missing(&self, blobs: &[(B3Digest, &[u8])]) -> io::Result<()> {
        let digests: Vec<B3Digest> = blobs.iter().map(|(digest, _)| *digest).collect();
        let indexed = index::contains_many(&self.store.db, &digests)?;
        if indexed.iter().all(|indexed| *indexed) {
            return Ok(());
        }
        let start_commit = {
            let mut appender = self.store.appender()?;
            // A blob committed since the lookup is appended once more: dead
            // bytes, which the index never names.
            for ((digest, data), indexed) in blobs.iter().zip(indexed) {
                if !indexed {
                    appender.append(*digest, data)?;
                }
            }
            appender.uncommitted_bytes >= COMMIT_BYTES
                && !self.store.commit_running.swap(true, Ordering::AcqRel)
        };
        if start_commit {
            let store = self.store.clone();
            // Runs beside the writers; a failure makes later appends fail.
            tokio::task::spawn_blocking(move || {
                if let Err(e) = store.commit() {
                    tracing::error!(error = %e, "committing the pack store");
                }
                store.commit_running.store(false, Ordering::Release);
            });
        }
        Ok(())
    }
}

impl ChunkSink for PackBlobService {
    async fn put_chunk(&self, digest: B3Digest, data: Bytes) -> io::Result<()> {
        self.append_missing(&[(digest, &data)])
    }

    async fn put_chunk_list(&self, digest: B3Digest, chunks: Vec<ChunkMeta>) -> io::Result<()> {
        if self.lookup(&digest)?.is_none() {
            self.store.appender()?.add(digest, Entry::Chunked(chunks));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobService for PackBlobService {
    async fn has(&self, digest: &B3Digest) -> io::Result<bool> {
        Ok(self.lookup(digest)?.is_some())
    }

    async fn open_read(&self, digest: &B3Digest) -> io::Result<Option<Box<dyn BlobReader>>> {
        match self.lookup(digest)? {
            None => Ok(None),
            Some(Entry::Stored { pack, offset, len }) => {
                let data = self.read_stored(pack, offset, len)?;
                self.verify_once([(digest, &data[..])])?;
                Ok(Some(Box::new(Cursor::new(data))))
            }
            Some(Entry::Chunked(chunks)) => {
                let service = self.clone();
                let blob = *digest;
                let fetch: FetchChunk = Arc::new(move |chunk: ChunkMeta| {
                    let service = service.clone();
                    async move { service.read_chunk(&blob, &chunk.digest) }.boxed()
                });
                // The chunk lists are this store's own; see the chunked
                // reader's module doc.
                let reader = ChunkedReader::new(*digest, chunks, fetch)?.trusting_chunk_list();
                Ok(Some(Box::new(reader)))
            }
        }
    }

    async fn open_write(&self) -> Box<dyn BlobWriter> {
        Box::new(ChunkingWriter::new(self.clone()))
    }

    async fn put(&self, contents: Bytes) -> io::Result<B3Digest> {
        put_whole(self, contents).await
    }

    /// Blobs up to the chunk size are hashed here and looked up in one
    /// index transaction; only the missing ones are appended. Larger ones
    /// are chunked as [BlobService::put] chunks them.
    async fn put_many(&self, blobs: Vec<Bytes>) -> io::Result<Vec<B3Digest>> {
        let mut digests = Vec::with_capacity(blobs.len());
        let mut whole = Vec::with_capacity(blobs.len());
        for contents in &blobs {
            if contents.len() > CHUNK_MAX {
                digests.push(put_whole(self, contents.clone()).await?);
            } else {
                let digest = B3Digest::of(contents);
                digests.push(digest);
                whole.push((digest, &contents[..]));
            }
        }
        self.append_missing(&whole)?;
        Ok(digests)
    }

    async fn chunks(&self, digest: &B3Digest) -> io::Result<Option<Vec<ChunkMeta>>> {
        Ok(self.lookup(digest)?.map(|entry| match entry {
            Entry::Stored { len, .. } => vec![ChunkMeta {
                digest: *digest,
                size: len,
            }],
            Entry::Chunked(chunks) => chunks,
        }))
    }

    /// Only blobs in the index: one appended since the last commit may
    /// still be in the appender's buffer rather than in its pack. The
    /// chunks of an indexed blob were indexed with it or before.
    fn locate(&self, digest: &B3Digest) -> io::Result<Option<Vec<BlobLocation>>> {
        if self.store.appender()?.pending(digest).is_some() {
            return Ok(None);
        }
        let chunks = match index::lookup(&self.store.db, digest)? {
            None => return Ok(None),
            Some(Entry::Stored { len, .. }) => vec![ChunkMeta {
                digest: *digest,
                size: len,
            }],
            Some(Entry::Chunked(chunks)) => chunks,
        };
        chunks
            .into_iter()
            .map(
                |chunk| match index::lookup(&self.store.db, &chunk.digest)? {
                    Some(Entry::Stored { pack, offset, len }) if len == chunk.size => {
                        Ok(BlobLocation {
                            digest: chunk.digest,
                            file: self.store.reader(pack)?,
                            offset,
                            len,
                        })
                    }
                    _ => Err(index::corrupt(format!(
                        "chunk {} of blob {digest} is missing or of another size",
                        chunk.digest
                    ))),
                },
            )
            .collect::<io::Result<_>>()
            .map(Some)
    }

    async fn sync(&self) -> io::Result<()> {
        let service = self.clone();
        tokio::task::spawn_blocking(move || service.sync_blocking())
            .await
            .map_err(io::Error::other)?
    }

    fn bulk_reader(&self) -> Option<Arc<dyn BulkBlobReader>> {
        Some(Arc::new(self.clone()))
    }
}

/// `len` bytes at `offset` of pack `pack` (open as `file`), with one
/// positioned read.
fn read_at(file: &File, pack: u32, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut data = vec![0; len];
    file.read_exact_at(&mut data, offset).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("reading {len} bytes at {offset} of pack {pack}: {e}"),
        )
    })?;
    Ok(data.into())
}
