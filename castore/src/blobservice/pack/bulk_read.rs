//! Reading many blobs in a known order ([BulkBlobReader]): a NAR's files.
//!
//! An importer appends the blobs of a tree in about the order a NAR lists
//! them, so the blobs of neighbouring files are mostly neighbours in a
//! pack. The blobs are looked up up to [LOOKUP_BATCH] at a time in one
//! index transaction (fewer at first, so that reading starts early), then read as runs of neighbours (up to [SPAN_MAX] bytes,
//! skipping gaps of up to [GAP_MAX]), each cut into parts that are read
//! with one positioned read and checked on the [fetcher]'s threads while
//! the next runs (up to [AHEAD_BYTES]) are looked up; the pieces handed out are
//! slices of the parts. One system call for many small files, where
//! reading them from a file system costs an open, a read and a close each.
//! Every piece is verified before it is handed out (see the pack store's
//! module doc for "once per process").

use std::collections::VecDeque;
use std::io;

use bytes::{Bytes, BytesMut};

use super::PackBlobService;
use super::fetcher::{self, PART_BYTES, Part, PartBlob, PartBytes, Pending};
use super::index::{self, Entry};
use crate::B3Digest;
use crate::blobservice::{BlobPiece, BlobPieces, BulkBlobReader, BulkReadError};

/// Blobs looked up in one index transaction.
const LOOKUP_BATCH: usize = 512;
/// Blobs looked up in the first transaction; each next one looks up twice
/// as many, up to [LOOKUP_BATCH].
const FIRST_LOOKUP_BATCH: usize = 8;
/// The longest read of neighbouring blobs.
const SPAN_MAX: u64 = 4 * 1024 * 1024;
/// The largest blob or chunk the store writes, with room: the chunking
/// writer's chunks and whole blobs are at most 1 MiB.
const BLOB_MAX: u64 = 16 * 1024 * 1024;
/// The largest gap (bytes of other blobs) a read of neighbours reads over.
const GAP_MAX: u64 = 16 * 1024;
/// Bytes of runs read ahead of the one being handed out, while they are
/// read and checked: enough to keep the fetcher's threads busy when runs
/// are short (a pack holds the files of trees imported side by side).
const AHEAD_BYTES: u64 = 16 * 1024 * 1024;
/// Runs read ahead, at most.
const RUNS_AHEAD: usize = 256;

impl BulkBlobReader for PackBlobService {
    fn read_in_order(&self, digests: Vec<B3Digest>) -> BlobPieces {
        Box::new(BulkRead {
            service: self.clone(),
            digests,
            planned: 0,
            plan: VecDeque::new(),
            in_flight: VecDeque::new(),
            in_flight_bytes: 0,
            ready: VecDeque::new(),
            stopped: false,
        })
    }
}

/// What a looked-up blob (or one of its chunks) needs.
enum Step {
    /// Read `len` bytes at `offset` of pack `pack`, which must hash to
    /// `digest`, as (part of) blob `index`.
    Read {
        index: usize,
        digest: B3Digest,
        pack: u32,
        offset: u64,
        len: u64,
    },
    /// The blob is empty: nothing to read, but its digest must be right.
    Empty { index: usize, digest: B3Digest },
    /// Reading stops here.
    Fail(BulkReadError),
}

struct BulkRead {
    service: PackBlobService,
    digests: Vec<B3Digest>,
    /// `digests[..planned]` are looked up, their steps in `plan`.
    planned: usize,
    plan: VecDeque<Step>,
    /// What was read, in order, not yet handed out: runs whose check may
    /// still be under way, and where reading stopped.
    in_flight: VecDeque<InFlight>,
    /// The bytes of the runs in `in_flight`.
    in_flight_bytes: u64,
    /// Pieces read and verified, not yet handed out.
    ready: VecDeque<BlobPiece>,
    /// After an error nothing more is read.
    stopped: bool,
}

enum InFlight {
    Run(Run),
    Stop(BulkReadError),
}

/// The parts of a run of neighbouring blobs, being read and checked.
struct Run {
    parts: Vec<PartRead>,
    /// The bytes of the run's span.
    bytes: u64,
}

/// A part being read and checked, and the blob index of each of its
/// blobs.
struct PartRead {
    indices: Vec<usize>,
    blobs: Vec<PartBlob>,
    pending: Pending,
}

impl Iterator for BulkRead {
    type Item = Result<BlobPiece, BulkReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                return Some(Ok(piece));
            }
            if self.stopped {
                return None;
            }
            let more = !self.plan.is_empty() || self.planned < self.digests.len();
            let stopping = self
                .in_flight
                .iter()
                .any(|run| matches!(run, InFlight::Stop(_)));
            if more
                && !stopping
                && self.in_flight.len() < RUNS_AHEAD
                && self.in_flight_bytes < AHEAD_BYTES
            {
                let step = if self.plan.is_empty() {
                    self.look_up()
                } else {
                    self.read()
                };
                if let Err(error) = step {
                    self.in_flight.push_back(InFlight::Stop(error));
                }
                continue;
            }
            match self.in_flight.pop_front()? {
                InFlight::Run(run) => self.finish(run),
                InFlight::Stop(error) => {
                    self.stopped = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

impl BulkRead {
    fn io_error(&self, index: usize, source: io::Error) -> BulkReadError {
        BulkReadError::Io {
            index,
            digest: self
                .digests
                .get(index)
                .copied()
                .unwrap_or_else(|| B3Digest::of(b"")),
            source,
        }
    }

    /// Looks up the next batch of blobs, and the chunks of chunked ones.
    fn look_up(&mut self) -> Result<(), BulkReadError> {
        let start = self.planned;
        // As many as were looked up before: doubling from the first batch.
        let batch = start.clamp(FIRST_LOOKUP_BATCH, LOOKUP_BATCH);
        let end = (start + batch).min(self.digests.len());
        let batch = &self.digests[start..end];
        let entries = self
            .service
            .lookup_many(batch)
            .map_err(|e| self.io_error(start, e))?;
        let chunk_digests: Vec<B3Digest> = entries
            .iter()
            .flatten()
            .filter_map(|entry| match entry {
                Entry::Chunked(chunks) => Some(chunks.iter().map(|chunk| chunk.digest)),
                Entry::Stored { .. } => None,
            })
            .flatten()
            .collect();
        let mut chunk_entries = self
            .service
            .lookup_many(&chunk_digests)
            .map_err(|e| self.io_error(start, e))?
            .into_iter()
            .zip(chunk_digests);
        for (index, (digest, entry)) in (start..).zip(batch.iter().zip(entries)) {
            match entry {
                None => self.plan.push_back(Step::Fail(BulkReadError::NotFound {
                    index,
                    digest: *digest,
                })),
                Some(Entry::Stored { len: 0, .. }) => self.plan.push_back(Step::Empty {
                    index,
                    digest: *digest,
                }),
                Some(Entry::Stored { pack, offset, len }) => self.plan.push_back(Step::Read {
                    index,
                    digest: *digest,
                    pack,
                    offset,
                    len,
                }),
                Some(Entry::Chunked(chunks)) => {
                    if chunks.is_empty() {
                        self.plan.push_back(Step::Empty {
                            index,
                            digest: *digest,
                        });
                    }
                    for _ in &chunks {
                        let step = match chunk_entries.next() {
                            Some((Some(Entry::Stored { pack, offset, len }), chunk)) => {
                                Step::Read {
                                    index,
                                    digest: chunk,
                                    pack,
                                    offset,
                                    len,
                                }
                            }
                            _ => Step::Fail(self.io_error(
                                index,
                                index::corrupt(format!("a chunk of blob {digest} is missing")),
                            )),
                        };
                        self.plan.push_back(step);
                    }
                }
            }
        }
        self.planned = end;
        Ok(())
    }

    /// Reads the next run of neighbouring blobs in the plan.
    fn read(&mut self) -> Result<(), BulkReadError> {
        let mut run = Vec::new();
        let mut span: Option<(u32, u64, u64)> = None;
        while let Some(step) = self.plan.front() {
            match (step, span) {
                (Step::Fail(_), None) => {
                    if let Some(Step::Fail(error)) = self.plan.pop_front() {
                        return Err(error);
                    }
                }
                (Step::Empty { index, digest }, None) => {
                    let (index, digest) = (*index, *digest);
                    self.plan.pop_front();
                    self.service
                        .verify_once([(&digest, &b""[..])])
                        .map_err(|e| self.io_error(index, e))?;
                    return Ok(());
                }
                (
                    Step::Read {
                        pack, offset, len, ..
                    },
                    None,
                ) => span = Some((*pack, *offset, offset.saturating_add(*len))),
                (
                    Step::Read {
                        pack, offset, len, ..
                    },
                    Some((span_pack, start, end)),
                ) if *pack == span_pack
                    && *offset >= end
                    && *offset - end <= GAP_MAX
                    && offset.saturating_add(*len) - start <= SPAN_MAX =>
                {
                    span = Some((span_pack, start, offset + len));
                }
                _ => break,
            }
            if let Some(Step::Read {
                index,
                digest,
                offset,
                len,
                ..
            }) = self.plan.pop_front()
            {
                run.push((index, digest, offset, len));
            }
        }
        let Some((pack, start, end)) = span else {
            return Ok(());
        };
        let run = self
            .read_run(pack, start, end, &run)
            .map_err(|(index, e)| self.io_error(index, e))?;
        self.in_flight_bytes += run.bytes;
        self.in_flight.push_back(InFlight::Run(run));
        Ok(())
    }

    /// Starts reading the blobs of `run` (index, digest, offset, length),
    /// which lie in `start..end` of pack `pack`, and checking them.
    fn read_run(
        &self,
        pack: u32,
        start: u64,
        end: u64,
        run: &[(usize, B3Digest, u64, u64)],
    ) -> Result<Run, (usize, io::Error)> {
        let first = run.first().map_or(0, |(index, ..)| *index);
        let store = &self.service.store;
        if let Some((index, _, _, len)) = run.iter().find(|(.., len)| *len > BLOB_MAX) {
            return Err((*index, index::corrupt(format!("a blob of {len} bytes"))));
        }
        let committed = store.committed_length(pack).map_err(|e| (first, e))?;
        let file = store.reader(pack).map_err(|e| (first, e))?;
        // Committed bytes are mapped; bytes in the file but not committed
        // yet are read by the fetcher; bytes that may not be in the file
        // yet are read here.
        let span = if end <= committed {
            let span = store.windows.slice(pack, &file, committed, start, end);
            Some(span.map_err(|e| (first, e))?)
        } else if self
            .service
            .maybe_buffered(pack, end)
            .map_err(|e| (first, e))?
        {
            Some(self.read_buffered(pack, start, end, run)?)
        } else {
            None
        };
        let mut parts = Vec::new();
        let mut rest = run;
        while let Some((_, _, part_start, _)) = rest.first() {
            // At least one blob; more while the part stays within PART_BYTES.
            let mut taken = 1;
            while rest
                .get(taken)
                .is_some_and(|(.., offset, len)| offset + len - part_start <= PART_BYTES)
            {
                taken += 1;
            }
            let (blobs, later) = rest.split_at(taken);
            rest = later;
            let part_end = blobs
                .last()
                .map_or(*part_start, |(.., offset, len)| offset + len);
            let (indices, blobs) = self.part_blobs(*part_start, blobs);
            let bytes = match &span {
                Some(span) => PartBytes::Ready(
                    span.slice((part_start - start) as usize..(part_end - start) as usize),
                ),
                None => PartBytes::Unread {
                    file: file.clone(),
                    pack,
                    start: *part_start,
                    // At most SPAN_MAX, or one blob of at most BLOB_MAX.
                    len: (part_end - part_start) as usize,
                },
            };
            let part = Part {
                bytes,
                blobs: blobs.clone(),
            };
            parts.push(PartRead {
                indices,
                blobs,
                pending: fetcher::fetch(&store.fetcher, part),
            });
        }
        Ok(Run {
            parts,
            bytes: end - start,
        })
    }

    /// The blob indices and the [PartBlob]s of `blobs` (index, digest,
    /// offset, length) in a part starting at `start`.
    fn part_blobs(
        &self,
        start: u64,
        blobs: &[(usize, B3Digest, u64, u64)],
    ) -> (Vec<usize>, Vec<PartBlob>) {
        blobs
            .iter()
            .map(|(index, digest, offset, len)| {
                let blob = PartBlob {
                    digest: *digest,
                    offset: (offset - start) as usize,
                    len: *len as usize,
                    check: !self.service.store.verified.contains(digest),
                };
                (*index, blob)
            })
            .unzip()
    }

    /// The bytes `start..end` of pack `pack` holding the blobs of `run`,
    /// appended so recently that some may not be in the pack file yet: read
    /// one by one, into their places (the gaps between them stay zero).
    fn read_buffered(
        &self,
        pack: u32,
        start: u64,
        end: u64,
        run: &[(usize, B3Digest, u64, u64)],
    ) -> Result<Bytes, (usize, io::Error)> {
        let mut data = BytesMut::zeroed((end - start) as usize);
        for (index, _, offset, len) in run {
            let blob = self
                .service
                .read_stored(pack, *offset, *len)
                .map_err(|e| (*index, e))?;
            let from = (offset - start) as usize;
            data[from..from + blob.len()].copy_from_slice(&blob);
        }
        Ok(data.freeze())
    }

    /// Waits for the parts of `run` in turn and makes their pieces ready;
    /// at a blob that could not be read or does not match, reading stops.
    fn finish(&mut self, run: Run) {
        self.in_flight_bytes -= run.bytes;
        for part in run.parts {
            let fetched = part.pending.wait();
            let good = &part.blobs[..fetched.good.min(part.blobs.len())];
            self.service.store.verified.extend(
                good.iter()
                    .filter(|blob| blob.check)
                    .map(|blob| blob.digest),
            );
            self.ready.extend(
                good.iter()
                    .zip(&part.indices)
                    .map(|(blob, index)| BlobPiece {
                        index: *index,
                        data: fetched.data.slice(blob.offset..blob.offset + blob.len),
                    }),
            );
            if let Some(error) = fetched.error {
                let index = part.indices.get(good.len()).copied().unwrap_or(0);
                self.in_flight
                    .push_front(InFlight::Stop(self.io_error(index, error)));
                return;
            }
        }
    }
}
