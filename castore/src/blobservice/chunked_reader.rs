//! A seekable reader over a blob stored as a list of chunks, and the checks
//! every chunk list and chunk read from storage or the network goes through.
//!
//! Used by the backends that split blobs (object store) and by clients that
//! fetch chunks separately (gRPC). Each chunk is fetched whole when the read
//! position enters it and checked against its digest and size before a single
//! byte of it is handed out. Chunks read in blob order are also hashed
//! together: once every chunk before the last has been read (in order, at
//! some point), the blob's own digest is checked before any byte of the last
//! chunk is handed out, so a chunk list naming the wrong chunks is caught by
//! every reader that reads the blob from the start. A reader that only seeks
//! into the middle gets chunks that are each verified, and nothing more can
//! be checked without reading the rest.
//!
//! A reader over a chunk list its own store wrote and keeps beside its other
//! trusted records (a local directory) can skip the blob check
//! ([ChunkedReader::trusting_chunk_list]): every chunk is still checked, so
//! corruption is caught, and only a deliberately rewritten chunk list would
//! go unnoticed, by someone who could as well rewrite the store's path
//! infos. That halves the hashing of large blobs.
//!
//! While a chunk is being read the next few are already fetched and checked,
//! each in a task of its own, so fetching and hashing run on every core
//! beside the consumer.
//!
//! This module must never hand out bytes that failed a check, and must never
//! trust a size or digest it was given: they come from storage or a server.

use std::collections::VecDeque;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};

use super::{ChunkMeta, seek_target};
use crate::B3Digest;
use crate::proto::stat_blob_response;

/// Fetches the whole contents of one chunk.
pub(super) type FetchChunk =
    Arc<dyn Fn(ChunkMeta) -> BoxFuture<'static, io::Result<Bytes>> + Send + Sync>;

/// Turns the chunk list of blob `blob`, as stored or received, into
/// [ChunkMeta]s; a digest that is not 32 bytes makes the list corrupt.
///
/// Chunks of a list of several are fetched whole into memory (a blob of
/// one chunk streams), so each may be at most [MAX_CHUNK_SIZE]: the
/// server, not the client, would otherwise choose how much it buffers.
pub(super) fn chunk_list_from_proto(
    blob: &B3Digest,
    chunks: Vec<stat_blob_response::ChunkMeta>,
) -> io::Result<Vec<ChunkMeta>> {
    let several = chunks.len() > 1;
    chunks
        .into_iter()
        .map(|chunk| {
            let chunk = ChunkMeta::try_from(chunk)
                .map_err(|e| invalid_data(format!("chunk list of blob {blob}: {e}")))?;
            if several && chunk.size > MAX_CHUNK_SIZE {
                return Err(invalid_data(format!(
                    "chunk list of blob {blob}: chunk {} of {} bytes, more than {MAX_CHUNK_SIZE}",
                    chunk.digest, chunk.size
                )));
            }
            Ok(chunk)
        })
        .collect()
}

/// The largest chunk of a chunked blob a client fetches: well above what
/// our backends make (at most 1 MiB), and with [READ_AHEAD] a bound on
/// what one reader holds.
pub(super) const MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;

/// Checks that `data`, read as blob (or chunk) `expected`, has that digest.
pub(super) fn verify_digest(expected: &B3Digest, data: &[u8]) -> io::Result<()> {
    let actual = B3Digest::of(data);
    if actual != *expected {
        return Err(invalid_data(format!("blob {expected} has digest {actual}")));
    }
    Ok(())
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// How many chunks after the one being read are fetched and checked ahead.
const READ_AHEAD: usize = 4;

pub(super) struct ChunkedReader {
    /// The digest of the whole blob.
    digest: B3Digest,
    chunks: Vec<ChunkMeta>,
    /// Offset of the first byte of each chunk within the blob.
    starts: Vec<u64>,
    size: u64,
    pos: u64,
    /// The chunk last fetched, by index.
    loaded: Option<(usize, Bytes)>,
    /// Chunks being fetched, by index: the one holding the read position
    /// first, then the non-empty ones after it, up to [READ_AHEAD] of them.
    fetching: VecDeque<(usize, BoxFuture<'static, io::Result<Bytes>>)>,
    fetch: FetchChunk,
    /// Hash of the contents of chunks `..hashed`, extended whenever chunk
    /// `hashed` is loaded; a reader that seeks around still verifies the
    /// blob once it has read every chunk in order at least once.
    prefix_hasher: Box<blake3::Hasher>,
    hashed: usize,
    /// Whether the chunks must be checked to make up the blob.
    check_blob: bool,
}

impl ChunkedReader {
    /// Fails if the chunk sizes add up to more than `u64::MAX`, or to zero
    /// for a blob that is not empty, which only a corrupt chunk list can
    /// claim.
    pub(super) fn new(
        digest: B3Digest,
        chunks: Vec<ChunkMeta>,
        fetch: FetchChunk,
    ) -> io::Result<Self> {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut size: u64 = 0;
        for chunk in &chunks {
            starts.push(size);
            size = size
                .checked_add(chunk.size)
                .ok_or_else(|| invalid_data(format!("chunk sizes of blob {digest} overflow")))?;
        }
        // An empty blob has no chunk to load, so check its digest now.
        if size == 0 {
            verify_digest(&digest, b"")?;
        }
        Ok(Self {
            digest,
            chunks,
            starts,
            size,
            pos: 0,
            loaded: None,
            fetching: VecDeque::new(),
            fetch,
            prefix_hasher: Box::new(blake3::Hasher::new()),
            hashed: 0,
            check_blob: true,
        })
    }

    /// Checks each chunk but not that they make up the blob; see the module
    /// doc for when that is enough.
    pub(super) fn trusting_chunk_list(mut self) -> Self {
        self.check_blob = false;
        self
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
        // `index` is the chunk holding `pos`, so it starts at or before it.
        let start = self.starts.get(index).copied().unwrap_or(self.size);
        let offset = usize::try_from(self.pos.saturating_sub(start)).unwrap_or(usize::MAX);
        let available = data.get(offset..).unwrap_or_default();
        let n = available.len().min(buf.remaining());
        // `n` is at most `available.len()`.
        buf.put_slice(&available[..n]);
        // Cannot overflow: the new position is still within the chunk, and
        // chunk ends were summed with checked arithmetic in `new`.
        self.pos += n as u64;
        true
    }

    /// Makes chunk `index` the first one being fetched, and keeps up to
    /// [READ_AHEAD] of the chunks after it being fetched too. Fetches of
    /// other chunks (after a seek) are abandoned.
    fn fetch_from(&mut self, index: usize) {
        while self
            .fetching
            .front()
            .is_some_and(|(first, _)| *first != index)
        {
            self.fetching.pop_front();
        }
        let mut next = match self.fetching.back() {
            Some((last, _)) => self.skip_empty(last + 1),
            None => index,
        };
        while self.fetching.len() <= READ_AHEAD {
            let Some(chunk) = self.chunks.get(next).copied() else {
                break;
            };
            self.fetching
                .push_back((next, start_fetch(&self.fetch, chunk)));
            next = self.skip_empty(next + 1);
        }
    }

    /// Index of the first chunk at or after `index` that is not empty (or the
    /// number of chunks): empty chunks are never loaded, and hash to nothing.
    fn skip_empty(&self, mut index: usize) -> usize {
        while self.chunks.get(index).is_some_and(|chunk| chunk.size == 0) {
            index += 1;
        }
        index
    }

    /// Feeds a freshly loaded chunk to the blob hash if it is the next one in
    /// blob order. If it is the last one, the blob digest is checked before
    /// the chunk is accepted; a mismatch leaves the state as it was, so
    /// every later read of that chunk fails again.
    fn extend_prefix(&mut self, index: usize, data: &[u8]) -> io::Result<()> {
        if !self.check_blob || self.skip_empty(self.hashed) != index {
            return Ok(());
        }
        let next = self.skip_empty(index + 1);
        if next == self.chunks.len() {
            let mut hasher = self.prefix_hasher.clone();
            hasher.update(data);
            let actual = B3Digest::from(hasher.finalize());
            if actual != self.digest {
                return Err(invalid_data(format!(
                    "chunks of blob {} add up to digest {actual}",
                    self.digest
                )));
            }
        }
        self.prefix_hasher.update(data);
        self.hashed = next;
        Ok(())
    }
}

/// Fetches `chunk` and checks it against its list entry, in a task of its
/// own when there is a tokio runtime to run it, so that chunks are fetched
/// and hashed on every core while the reader's consumer works.
fn start_fetch(fetch: &FetchChunk, chunk: ChunkMeta) -> BoxFuture<'static, io::Result<Bytes>> {
    let fetched = fetch(chunk);
    let checked = async move {
        let data = fetched.await?;
        verify_chunk(&chunk, &data)?;
        Ok(data)
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn(checked)
            .map(|joined| joined.map_err(io::Error::other)?)
            .boxed(),
        Err(_) => checked.boxed(),
    }
}

/// Checks fetched chunk contents against the chunk list entry.
fn verify_chunk(chunk: &ChunkMeta, data: &[u8]) -> io::Result<()> {
    if data.len() as u64 != chunk.size {
        return Err(invalid_data(format!(
            "chunk {} has {} bytes, expected {}",
            chunk.digest,
            data.len(),
            chunk.size
        )));
    }
    verify_digest(&chunk.digest, data)
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
            this.fetch_from(index);
            let Some((_, fetch)) = this.fetching.front_mut() else {
                return Poll::Ready(Ok(()));
            };
            let result = ready!(fetch.as_mut().poll(cx));
            this.fetching.pop_front();
            let data = result?;
            this.extend_prefix(index, &data)?;
            this.loaded = Some((index, data));
        }
    }
}

impl AsyncSeek for ChunkedReader {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        this.pos = seek_target(this.size, this.pos, position)?;
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use futures::FutureExt;
    use rstest::rstest;
    use tokio::io::{AsyncReadExt, AsyncSeekExt};

    use super::{ChunkedReader, FetchChunk, MAX_CHUNK_SIZE, chunk_list_from_proto};
    use crate::B3Digest;
    use crate::blobservice::ChunkMeta;
    use crate::proto::stat_blob_response;

    /// A server announcing a huge chunk in a list of several is not
    /// believed (the client would buffer it whole); a blob of one chunk of
    /// any size streams, so it is fine.
    #[rstest]
    #[case::one_huge(&[1 << 40], true)]
    #[case::several_at_limit(&[MAX_CHUNK_SIZE, MAX_CHUNK_SIZE], true)]
    #[case::several_one_huge(&[1024, 1 << 40], false)]
    #[case::several_just_over(&[MAX_CHUNK_SIZE + 1, 1], false)]
    fn chunk_size_limit(#[case] sizes: &[u64], #[case] accepted: bool) {
        let chunks = sizes
            .iter()
            .map(|size| stat_blob_response::ChunkMeta {
                digest: B3Digest::of(b"chunk").into(),
                size: *size,
            })
            .collect();
        let result = chunk_list_from_proto(&B3Digest::of(b"blob"), chunks);
        assert_eq!(accepted, result.is_ok(), "{result:?}");
    }

    /// A reader over `pieces` as chunks, all served from memory, claiming to
    /// be the blob `digest`.
    fn reader(digest: B3Digest, pieces: &[&'static str]) -> std::io::Result<ChunkedReader> {
        let chunks = pieces
            .iter()
            .map(|piece| ChunkMeta {
                digest: B3Digest::of(piece.as_bytes()),
                size: piece.len() as u64,
            })
            .collect();
        let by_digest: std::collections::HashMap<B3Digest, &'static str> = pieces
            .iter()
            .map(|piece| (B3Digest::of(piece.as_bytes()), *piece))
            .collect();
        let fetch: FetchChunk = Arc::new(move |chunk: ChunkMeta| {
            let data = by_digest
                .get(&chunk.digest)
                .map(|piece| Bytes::from_static(piece.as_bytes()));
            async move { data.ok_or_else(|| std::io::Error::other("no such chunk")) }.boxed()
        });
        ChunkedReader::new(digest, chunks, fetch)
    }

    /// Reads `reader` from the start after reading a byte at each of
    /// `seeks`, which abandons chunks being read ahead.
    async fn read_after_seeks(
        mut reader: ChunkedReader,
        seeks: &[u64],
    ) -> std::io::Result<Vec<u8>> {
        for &seek in seeks {
            reader.seek(std::io::SeekFrom::Start(seek)).await?;
            reader.read_u8().await?;
        }
        reader.seek(std::io::SeekFrom::Start(0)).await?;
        let mut contents = Vec::new();
        reader.read_to_end(&mut contents).await?;
        Ok(contents)
    }

    #[rstest]
    #[case::two_chunks(&["hello ", "world"], &[])]
    #[case::empty_chunks_around(&["", "hello ", "", "world", ""], &[])]
    #[case::four_chunks(&["he", "llo", " wo", "rld"], &[])]
    #[case::four_chunks_back_to_start(&["he", "llo", " wo", "rld"], &[0, 0])]
    #[case::four_chunks_seeking_around(&["he", "llo", " wo", "rld"], &[0, 9, 3, 10, 0])]
    #[tokio::test]
    async fn reads_and_verifies_the_whole_blob(
        #[case] pieces: &[&'static str],
        #[case] seeks: &[u64],
    ) {
        let reader = reader(B3Digest::of(b"hello world"), pieces).expect("valid chunk list");
        let contents = read_after_seeks(reader, seeks).await.expect("read");
        assert_eq!(b"hello world", contents.as_slice());
    }

    /// Valid chunks that do not make up the blob asked for: the last chunk
    /// is refused, whether read in one go or after seeking around (which
    /// abandons chunks being read ahead, and the blob hash they carry).
    #[rstest]
    #[case::in_order(&["hello ", "world"], &[])]
    #[case::after_seeking(&["hello ", "world"], &[7, 0])]
    #[case::four_chunks_in_order(&["he", "llo", " wo", "rld"], &[])]
    #[case::four_chunks_after_seeking(&["he", "llo", " wo", "rld"], &[0, 9, 3, 0])]
    #[tokio::test]
    async fn chunks_of_another_blob_are_refused(
        #[case] pieces: &[&'static str],
        #[case] seeks: &[u64],
    ) {
        let reader = reader(B3Digest::of(b"hello there"), pieces).expect("valid");

        let error = read_after_seeks(reader, seeks)
            .await
            .expect_err("must fail");

        assert_eq!(std::io::ErrorKind::InvalidData, error.kind());
        assert_eq!(
            format!(
                "chunks of blob {} add up to digest {}",
                B3Digest::of(b"hello there"),
                B3Digest::of(b"hello world")
            ),
            error.to_string()
        );
    }

    /// A reader trusting its chunk list does not check the blob digest,
    /// but still every chunk.
    #[tokio::test]
    async fn trusting_the_chunk_list_still_checks_chunks() {
        let trusting = reader(B3Digest::of(b"hello there"), &["hello ", "world"])
            .expect("valid")
            .trusting_chunk_list();
        let contents = read_after_seeks(trusting, &[]).await.expect("read");
        assert_eq!(b"hello world", contents.as_slice());

        let lying: FetchChunk = Arc::new(|_| async { Ok(Bytes::from_static(b"HELLO ")) }.boxed());
        let chunks = vec![ChunkMeta {
            digest: B3Digest::of(b"hello "),
            size: 6,
        }];
        let corrupt = ChunkedReader::new(B3Digest::of(b"hello "), chunks, lying)
            .expect("valid")
            .trusting_chunk_list();
        let error = read_after_seeks(corrupt, &[]).await.expect_err("must fail");
        assert_eq!(std::io::ErrorKind::InvalidData, error.kind());
    }

    #[rstest]
    #[case::no_chunks(&[])]
    #[case::only_empty_chunks(&["", ""])]
    fn empty_chunk_list_for_a_non_empty_blob(#[case] pieces: &[&'static str]) {
        let Err(error) = reader(B3Digest::of(b"not empty"), pieces) else {
            panic!("must be refused");
        };
        assert_eq!(std::io::ErrorKind::InvalidData, error.kind());
    }
}
