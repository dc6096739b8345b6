//! What the conformance suite does not cover: deduplication, reopening,
//! torn and cut packs, corruption, locking, and the index encoding.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use rstest::rstest;
use tempfile::TempDir;
use tokio::io::AsyncReadExt;

use super::index::Entry;
use super::{OpenError, PackBlobService};
use crate::B3Digest;
use crate::blobservice::chunking::CHUNK_MAX;
use crate::blobservice::tests::{chunks_of, put, read_all};
use crate::blobservice::{BlobService, BulkReadError, ChunkMeta};
use crate::fixtures::blob_contents;

const BIG: usize = 3 * CHUNK_MAX + 777;

/// The sizes of the pack files, in pack order.
fn pack_sizes(dir: &Path) -> Vec<u64> {
    let mut packs: Vec<_> = std::fs::read_dir(dir.join("packs"))
        .expect("packs dir")
        .map(|entry| entry.expect("entry").path())
        .collect();
    packs.sort();
    packs
        .iter()
        .map(|path| std::fs::metadata(path).expect("stat").len())
        .collect()
}

/// Flips the bits of `mask` in the byte at `offset` of the store's only
/// pack, behind the index's back.
fn flip_pack_byte(dir: &Path, offset: u64, mask: u8) {
    use std::os::unix::fs::FileExt;
    let pack = File::options()
        .read(true)
        .write(true)
        .open(only_pack(dir))
        .expect("open pack");
    let mut byte = [0];
    pack.read_exact_at(&mut byte, offset).expect("read");
    byte[0] ^= mask;
    pack.write_all_at(&byte, offset).expect("flip");
}

fn only_pack(dir: &Path) -> std::path::PathBuf {
    dir.join("packs").join("00000000.pack")
}

/// Reads every blob back and checks it, as a reader of the store would.
async fn assert_all_read_back(service: &PackBlobService, blobs: &[Vec<u8>]) {
    for contents in blobs {
        let digest = B3Digest::of(contents);
        assert!(service.has(&digest).await.expect("has"), "blob missing");
        assert_eq!(*contents, read_all(service, &digest).await);
    }
}

#[tokio::test]
async fn an_existing_blob_writes_nothing() {
    let dir = TempDir::new().expect("temp dir");
    let service = PackBlobService::open(dir.path()).expect("open");
    let small = blob_contents("dedup small", 1000);
    let big = blob_contents("dedup big", BIG);
    put(&service, &small).await;
    put(&service, &big).await;
    service.sync().await.expect("sync");
    let before = pack_sizes(dir.path());

    put(&service, &small).await;
    service
        .put(bytes::Bytes::from(big.clone()))
        .await
        .expect("put");
    service.sync().await.expect("sync");

    assert_eq!(before, pack_sizes(dir.path()));
    assert_eq!((small.len() + big.len()) as u64, before.iter().sum::<u64>());
}

/// A batch of blobs stored already, put again as a batch (a tree imported
/// again), writes nothing; one new blob in it is appended alone.
#[tokio::test]
async fn put_many_appends_only_missing_blobs() {
    let dir = TempDir::new().expect("temp dir");
    let service = PackBlobService::open(dir.path()).expect("open");
    let blobs: Vec<bytes::Bytes> = (0..100)
        .map(|i| blob_contents(&format!("batch {i}"), 100 + i).into())
        .collect();
    service.put_many(blobs.clone()).await.expect("put_many");
    service.sync().await.expect("sync");
    let before = pack_sizes(dir.path());

    service.put_many(blobs.clone()).await.expect("put_many");
    service.sync().await.expect("sync");
    assert_eq!(before, pack_sizes(dir.path()));

    let new = bytes::Bytes::from(blob_contents("batch new", 4321));
    let mut with_new = blobs;
    with_new.insert(50, new.clone());
    service.put_many(with_new).await.expect("put_many");
    service.sync().await.expect("sync");
    assert_eq!(
        before.iter().sum::<u64>() + new.len() as u64,
        pack_sizes(dir.path()).iter().sum::<u64>()
    );
    assert_eq!(new, read_all(&service, &B3Digest::of(&new)).await);
}

#[rstest]
#[case::synced(true)]
#[case::committed_on_drop(false)]
#[tokio::test]
async fn blobs_survive_reopening(#[case] sync: bool) {
    let dir = TempDir::new().expect("temp dir");
    let blobs: Vec<_> = [0, 1, 1000, CHUNK_MAX, BIG]
        .into_iter()
        .map(|size| blob_contents("reopen", size))
        .collect();
    {
        let service = PackBlobService::open(dir.path()).expect("open");
        for contents in &blobs {
            put(&service, contents).await;
        }
        if sync {
            service.sync().await.expect("sync");
        }
    }

    let service = PackBlobService::open(dir.path()).expect("reopen");

    assert_all_read_back(&service, &blobs).await;
    let big = B3Digest::of(&blobs[4]);
    assert!(chunks_of(&service, &big).await.len() > 1, "BIG is chunked");
}

#[tokio::test]
async fn opening_twice_in_a_process_shares_the_store() {
    let dir = TempDir::new().expect("temp dir");
    let first = PackBlobService::open(dir.path()).expect("open");
    let second = PackBlobService::open(dir.path().join(".")).expect("open again");

    let digest = put(&first, b"shared").await;

    assert_eq!(b"shared".to_vec(), read_all(&second, &digest).await);
}

/// Another process holds the lock (a separate open file description is
/// what another process has).
#[test]
fn a_store_locked_elsewhere_is_refused() {
    let dir = TempDir::new().expect("temp dir");
    let lock = File::create(dir.path().join("lock")).expect("lock file");
    lock.try_lock().expect("take the lock");

    let Err(error) = PackBlobService::open(dir.path()) else {
        panic!("must be refused");
    };

    assert!(matches!(error, OpenError::Locked(_)), "{error}");
    assert!(error.to_string().contains("in use by another process"));
}

/// Bytes appended after the last commit, as a killed process leaves them,
/// are cut off on open; appending continues where the index ends.
#[tokio::test]
async fn a_torn_tail_is_cut_off() {
    let dir = TempDir::new().expect("temp dir");
    let blobs = vec![blob_contents("torn a", 5000), blob_contents("torn b", BIG)];
    {
        let service = PackBlobService::open(dir.path()).expect("open");
        for contents in &blobs {
            put(&service, contents).await;
        }
    }
    let committed = pack_sizes(dir.path());
    {
        use std::io::Write;
        let mut pack = File::options()
            .append(true)
            .open(only_pack(dir.path()))
            .expect("open pack");
        pack.write_all(&[0xaa; 12345]).expect("tear");
    }

    let service = PackBlobService::open(dir.path()).expect("reopen");

    assert_eq!(committed, pack_sizes(dir.path()));
    assert_all_read_back(&service, &blobs).await;
    let more = blob_contents("after the tear", 3000);
    put(&service, &more).await;
    service.sync().await.expect("sync");
    assert_all_read_back(&service, &[more]).await;
}

/// A pack cut short by hand: the blobs that no longer fit, and the chunked
/// blobs naming them, leave the index; the rest still reads back, and the
/// lost ones can be written again.
#[tokio::test]
async fn a_pack_cut_by_hand_loses_only_the_cut_blobs() {
    let dir = TempDir::new().expect("temp dir");
    let first = blob_contents("cut first", 4000);
    let big = blob_contents("cut big", BIG);
    let last = blob_contents("cut last", 4000);
    {
        let service = PackBlobService::open(dir.path()).expect("open");
        for contents in [&first, &big, &last] {
            put(&service, contents).await;
        }
    }
    // Into the middle of the big blob's chunks.
    let cut = (first.len() + CHUNK_MAX) as u64;
    File::options()
        .write(true)
        .open(only_pack(dir.path()))
        .expect("open pack")
        .set_len(cut)
        .expect("cut");

    let service = PackBlobService::open(dir.path()).expect("reopen");

    assert_all_read_back(&service, std::slice::from_ref(&first)).await;
    for lost in [&big, &last] {
        assert!(!service.has(&B3Digest::of(lost)).await.expect("has"));
    }
    put(&service, &big).await;
    put(&service, &last).await;
    service.sync().await.expect("sync");
    assert_all_read_back(&service, &[first, big, last]).await;
}

#[rstest]
#[case::whole_blob(1000)]
#[case::chunked_blob(BIG)]
#[tokio::test]
async fn corrupt_pack_bytes_are_an_error(#[case] size: usize) {
    let dir = TempDir::new().expect("temp dir");
    let contents = blob_contents("corrupt", size);
    let digest = {
        let service = PackBlobService::open(dir.path()).expect("open");
        put(&service, &contents).await
    };
    flip_pack_byte(dir.path(), size as u64 - 1, 1);
    let service = PackBlobService::open(dir.path()).expect("reopen");

    let error = match service.open_read(&digest).await {
        Err(e) => e,
        Ok(reader) => reader
            .expect("exists")
            .read_to_end(&mut Vec::new())
            .await
            .expect_err("must fail"),
    };

    assert_eq!(std::io::ErrorKind::InvalidData, error.kind());
    let bulk: Vec<_> = service
        .bulk_reader()
        .expect("a bulk reader")
        .read_in_order(vec![digest])
        .collect();
    assert!(
        matches!(bulk.last(), Some(Err(BulkReadError::Io { index: 0, digest: d, source }))
            if *d == digest && source.kind() == std::io::ErrorKind::InvalidData),
        "{bulk:?}"
    );
}

/// What a bulk read of `digests` gives: each blob's contents put together
/// from its pieces, in order, and the error it stopped at.
fn bulk_read(
    service: &PackBlobService,
    digests: Vec<B3Digest>,
) -> (Vec<Vec<u8>>, Option<BulkReadError>) {
    let count = digests.len();
    let mut contents = vec![Vec::new(); count];
    let mut last = 0;
    for piece in service
        .bulk_reader()
        .expect("a bulk reader")
        .read_in_order(digests)
    {
        match piece {
            Ok(piece) => {
                assert!(piece.index >= last, "pieces in order");
                last = piece.index;
                contents[piece.index].extend_from_slice(&piece.data);
            }
            Err(error) => return (contents, Some(error)),
        }
    }
    (contents, None)
}

/// Many blobs read in bulk come back whole and in order: small and empty
/// ones, chunked ones, the same blob twice, out of pack order; committed
/// or still in the appender's buffer; a missing blob stops the read there.
#[rstest]
#[case::committed(true)]
#[case::buffered(false)]
#[tokio::test]
async fn bulk_reads(#[case] commit: bool) {
    let dir = TempDir::new().expect("temp dir");
    let service = PackBlobService::open(dir.path()).expect("open");
    let blobs: Vec<Vec<u8>> = (0..600)
        .map(|i| match i % 100 {
            0 => Vec::new(),
            7 => blob_contents(&format!("big {i}"), BIG),
            n => blob_contents(&format!("small {i}"), n * 37),
        })
        .collect();
    let mut digests = Vec::new();
    for blob in &blobs {
        digests.push(put(&service, blob).await);
    }
    if commit {
        service.sync().await.expect("sync");
    }
    // Some out of order, and one twice.
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.swap(3, 300);
    order.push(5);
    let (contents, error) = bulk_read(&service, order.iter().map(|&i| digests[i]).collect());
    assert!(error.is_none(), "{error:?}");
    for (read, &i) in contents.iter().zip(&order) {
        assert!(*read == blobs[i], "blob {i}");
    }

    let missing = B3Digest::of(b"never stored");
    let (contents, error) = bulk_read(&service, vec![digests[1], missing, digests[2]]);
    assert_eq!(blobs[1], contents[0]);
    assert!(contents[2].is_empty());
    assert!(
        matches!(error, Some(BulkReadError::NotFound { index: 1, digest }) if digest == missing),
        "{error:?}"
    );
}

#[tokio::test]
async fn space_report_counts_unreachable_bytes() {
    let dir = TempDir::new().expect("temp dir");
    let service = PackBlobService::open(dir.path()).expect("open");
    let live_small = blob_contents("live small", 1000);
    let live_big = blob_contents("live big", BIG);
    let dead = blob_contents("dead", 7000);
    let roots: HashSet<_> = [&live_small, &live_big]
        .into_iter()
        .map(|contents| B3Digest::of(contents))
        .collect();
    for contents in [&live_small, &live_big, &dead] {
        put(&service, contents).await;
    }

    let report = service.space_report(&roots).expect("report");

    assert_eq!(
        (live_small.len() + live_big.len() + dead.len()) as u64,
        report.pack_bytes
    );
    assert_eq!(dead.len() as u64, report.unreachable_bytes());
    assert_eq!(1, report.dead_blobs);
}

#[rstest]
#[case::stored(Entry::Stored { pack: 7, offset: 1 << 40, len: 123 })]
#[case::chunked(Entry::Chunked(vec![
    ChunkMeta { digest: B3Digest::of(b"a"), size: 1 },
    ChunkMeta { digest: B3Digest::of(b"b"), size: u64::MAX },
]))]
#[case::no_chunks(Entry::Chunked(vec![]))]
fn entries_round_trip(#[case] entry: Entry) {
    let digest = B3Digest::of(b"blob");
    assert_eq!(
        entry,
        Entry::decode(&digest, &entry.encode()).expect("decode")
    );
}

#[rstest]
#[case::empty(&[])]
#[case::unknown_tag(&[9, 0, 0])]
#[case::short_stored(&[0, 1, 2, 3])]
#[case::ragged_chunk_list(&[1; 40])]
fn malformed_entries_are_errors(#[case] bytes: &[u8]) {
    let error = Entry::decode(&B3Digest::of(b"blob"), bytes).expect_err("must fail");
    assert_eq!(std::io::ErrorKind::InvalidData, error.kind());
}

/// Reopening a store and writing what it holds writes no pack bytes and
/// no index entry. (redb itself may grow its file on open and close, for
/// its own bookkeeping.)
#[tokio::test]
async fn reopening_and_writing_again_writes_nothing() {
    let dir = TempDir::new().expect("temp dir");
    let blobs = [
        blob_contents("again small", 1000),
        blob_contents("again big", BIG),
    ];
    let indexed = {
        let service = PackBlobService::open(dir.path()).expect("open");
        for contents in &blobs {
            put(&service, contents).await;
        }
        service.sync().await.expect("sync");
        service.indexed_blobs().expect("list")
    };
    let before = pack_sizes(dir.path());

    let service = PackBlobService::open(dir.path()).expect("reopen");
    for contents in &blobs {
        put(&service, contents).await;
    }
    service.sync().await.expect("sync");

    assert_eq!(before, pack_sizes(dir.path()));
    assert_eq!(indexed, service.indexed_blobs().expect("list"));
}

/// Blobs in `0..count` of a kind a NAR has: small ones, and every tenth
/// chunked (so runs are large enough for the reading threads).
fn mixed_blobs(label: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| match i % 10 {
            3 => blob_contents(&format!("{label} big {i}"), BIG),
            n => blob_contents(&format!("{label} small {i}"), 1 + n * 1000),
        })
        .collect()
}

async fn put_all(service: &PackBlobService, blobs: &[Vec<u8>]) -> Vec<B3Digest> {
    let mut digests = Vec::new();
    for blob in blobs {
        digests.push(put(service, blob).await);
    }
    digests
}

/// A bulk read follows a pack as it grows: blobs committed after an
/// earlier read read back, so do blobs written to the pack file but not
/// committed and ones still in the appender's buffer; pieces of the first
/// read stay valid throughout.
#[tokio::test]
async fn bulk_reads_follow_a_growing_pack() {
    let dir = TempDir::new().expect("temp dir");
    let service = PackBlobService::open(dir.path()).expect("open");
    let first = mixed_blobs("first", 20);
    let mut digests = put_all(&service, &first).await;
    service.sync().await.expect("sync");
    let held: Vec<_> = service
        .bulk_reader()
        .expect("a bulk reader")
        .read_in_order(digests.clone())
        .collect::<Result<_, _>>()
        .expect("first read");

    // More than the appender buffers: most reach the file uncommitted.
    let second = mixed_blobs("second", 40);
    digests.extend(put_all(&service, &second).await);
    let all: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
    let (contents, error) = bulk_read(&service, digests.clone());
    assert!(error.is_none(), "{error:?}");
    assert!(contents == all, "read before the commit");

    service.sync().await.expect("sync");
    let (contents, error) = bulk_read(&service, digests);
    assert!(error.is_none(), "{error:?}");
    assert!(contents == all, "read after the commit");
    let mut again = vec![Vec::new(); first.len()];
    for piece in held {
        again[piece.index].extend_from_slice(&piece.data);
    }
    assert!(again == first, "held pieces");
}

/// A flipped byte in one blob of a large committed run stops a bulk read
/// (in a new process, which has checked nothing yet) at that blob: the
/// blobs before it come whole, the error names it.
#[rstest]
#[case::small_blob(11)]
#[case::chunked_blob(13)]
#[tokio::test]
async fn a_corrupt_blob_in_a_large_run_stops_the_read_there(#[case] bad: usize) {
    let dir = TempDir::new().expect("temp dir");
    let blobs = mixed_blobs("corrupt run", 30);
    let (digests, offset) = {
        let service = PackBlobService::open(dir.path()).expect("open");
        let digests = put_all(&service, &blobs).await;
        service.sync().await.expect("sync");
        let stored = match service.lookup(&digests[bad]).expect("lookup") {
            Some(Entry::Chunked(chunks)) => {
                service.lookup(&chunks[1].digest).expect("lookup chunk")
            }
            entry => entry,
        };
        let Some(Entry::Stored { offset, len, .. }) = stored else {
            panic!("{stored:?} is not stored");
        };
        (digests, offset + len / 2)
    };
    flip_pack_byte(dir.path(), offset, 0x40);
    let service = PackBlobService::open(dir.path()).expect("reopen");

    let (contents, error) = bulk_read(&service, digests.clone());

    assert!(contents[..bad] == blobs[..bad], "the blobs before");
    assert!(
        matches!(&error, Some(BulkReadError::Io { index, digest, source })
            if *index == bad && *digest == digests[bad]
                && source.kind() == std::io::ErrorKind::InvalidData),
        "{error:?}"
    );
}

/// Only committed bytes of a file at least as long as committed are
/// mapped; anything else is an error, never a map that could fault. Slices
/// within a window share its map, others get a new one.
#[test]
fn windows_map_only_committed_bytes() {
    use super::mapped::Windows;
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("pack");
    let bytes: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    std::fs::write(&path, &bytes).expect("write");
    let file = File::open(&path).expect("open");
    let windows = Windows::default();

    let span = windows
        .slice(0, &file, 10_000, 4097, 9000)
        .expect("committed span");
    assert_eq!(bytes[4097..9000], span[..]);
    let within = windows
        .slice(0, &file, 10_000, 5000, 6000)
        .expect("same window");
    assert_eq!(bytes[5000..6000], within[..]);
    let before = windows.slice(0, &file, 10_000, 10, 20).expect("new window");
    assert_eq!(bytes[10..20], before[..]);
    assert!(
        windows.slice(0, &file, 5000, 4000, 6000).is_err(),
        "past committed"
    );
    assert!(windows.slice(0, &file, 5000, 3000, 3000).is_err(), "empty");
    let cut = Windows::default()
        .slice(0, &file, 20_000, 0, 100)
        .expect_err("file too short");
    assert_eq!(std::io::ErrorKind::InvalidData, cut.kind());
}
