//! Reading many blobs in a known order ([BulkBlobReader]): a NAR's files.
//!
//! An importer appends the blobs of a tree in about the order a NAR lists
//! them, so the blobs of neighbouring files are mostly neighbours in a
//! pack. The blobs are looked up [LOOKUP_BATCH] at a time in one index
//! transaction, then read as runs of neighbours (up to [SPAN_MAX] bytes,
//! skipping gaps of up to [GAP_MAX]): one map of committed bytes (see
//! [mapped]), or one positioned read of bytes not yet committed, whose
//! slices are the pieces handed out. One system call for many small files,
//! where reading them from a file system costs an open, a read and a close
//! each. Every piece is verified before it is handed out (see the pack
//! store's module doc for "once per process"), on the [verifier]'s threads
//! while the next [RUNS_AHEAD] runs are looked up and mapped.

use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::PackBlobService;
use super::index::{self, Entry};
use super::mapped;
use super::verifier::{self, Pending};
use crate::B3Digest;
use crate::blobservice::{BlobPiece, BlobPieces, BulkBlobReader, BulkReadError};

/// Blobs looked up in one index transaction.
const LOOKUP_BATCH: usize = 512;
/// The longest read of neighbouring blobs.
const SPAN_MAX: u64 = 4 * 1024 * 1024;
/// The largest blob or chunk the store writes, with room: the chunking
/// writer's chunks and whole blobs are at most 1 MiB.
const BLOB_MAX: u64 = 16 * 1024 * 1024;
/// The largest gap (bytes of other blobs) a read of neighbours reads over.
const GAP_MAX: u64 = 16 * 1024;
/// Runs read ahead of the one being handed out, while they are checked.
const RUNS_AHEAD: usize = 4;

impl BulkBlobReader for PackBlobService {
    fn read_in_order(&self, digests: Vec<B3Digest>) -> BlobPieces {
        Box::new(BulkRead {
            service: self.clone(),
            digests,
            planned: 0,
            plan: VecDeque::new(),
            in_flight: VecDeque::new(),
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
    /// Pieces read and verified, not yet handed out.
    ready: VecDeque<BlobPiece>,
    /// After an error nothing more is read.
    stopped: bool,
}

enum InFlight {
    Run(Run),
    Stop(BulkReadError),
}

/// Pieces read, and their check.
struct Run {
    /// Blob index, digest (of the blob or chunk) and bytes.
    pieces: Vec<(usize, B3Digest, Bytes)>,
    /// The digests being checked, remembered once the check passed.
    checking: Vec<B3Digest>,
    check: Pending,
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
            if more && !stopping && self.in_flight.len() < RUNS_AHEAD {
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
        let end = (start + LOOKUP_BATCH).min(self.digests.len());
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
        self.in_flight.push_back(InFlight::Run(run));
        Ok(())
    }

    /// Reads the blobs of `run` (index, digest, offset, length), which lie
    /// in `start..end` of pack `pack`, and starts checking them.
    fn read_run(
        &self,
        pack: u32,
        start: u64,
        end: u64,
        run: &[(usize, B3Digest, u64, u64)],
    ) -> Result<Run, (usize, io::Error)> {
        let first = run.first().map_or(0, |(index, ..)| *index);
        let store = &self.service.store;
        let committed = store.committed_length(pack).map_err(|e| (first, e))?;
        let span = if end <= committed {
            let file = store.reader(pack).map_err(|e| (first, e))?;
            Some(mapped::map_span(pack, &file, committed, start, end).map_err(|e| (first, e))?)
        } else if self
            .service
            .maybe_buffered(pack, end)
            .map_err(|e| (first, e))?
        {
            None
        } else {
            Some(self.read_span(pack, start, end).map_err(|e| (first, e))?)
        };
        let pieces: Vec<(usize, B3Digest, Bytes)> = match span {
            Some(data) => run
                .iter()
                .map(|(index, digest, offset, len)| {
                    let from = (offset - start) as usize;
                    (*index, *digest, data.slice(from..from + *len as usize))
                })
                .collect(),
            // Appended so recently that some may not be in the file yet.
            None => run
                .iter()
                .map(|(index, digest, offset, len)| {
                    self.service
                        .read_stored(pack, *offset, *len)
                        .map(|data| (*index, *digest, data))
                        .map_err(|e| (*index, e))
                })
                .collect::<Result<_, _>>()?,
        };
        let unchecked: Vec<(B3Digest, Bytes)> = pieces
            .iter()
            .filter(|(_, digest, _)| !store.verified.contains(digest))
            .map(|(_, digest, data)| (*digest, data.clone()))
            .collect();
        let checking = unchecked.iter().map(|(digest, _)| *digest).collect();
        Ok(Run {
            pieces,
            checking,
            check: verifier::check(&store.verifier, unchecked),
        })
    }

    /// Waits for the check of `run`, then makes its pieces ready; if one
    /// does not match, only those before it, and reading stops at it.
    fn finish(&mut self, run: Run) {
        let mut pieces = run.pieces;
        if let Err(e) = run.check.wait() {
            let bad = pieces
                .iter()
                .position(|(_, digest, data)| B3Digest::of(data) != *digest)
                .unwrap_or(0);
            let index = pieces.get(bad).map_or(0, |(index, ..)| *index);
            pieces.truncate(bad);
            self.in_flight
                .push_front(InFlight::Stop(self.io_error(index, e)));
        } else {
            self.service.store.verified.extend(run.checking);
        }
        self.ready.extend(
            pieces
                .into_iter()
                .map(|(index, _, data)| BlobPiece { index, data }),
        );
    }

    /// Bytes `start..end` of pack `pack`, read with one positioned read:
    /// bytes written to the pack but not yet committed, which are not
    /// mapped (see [mapped]).
    fn read_span(&self, pack: u32, start: u64, end: u64) -> io::Result<Bytes> {
        let file = self.service.store.reader(pack)?;
        // Only a corrupt index makes one blob longer than a span.
        let len = usize::try_from(end - start)
            .ok()
            .filter(|len| *len as u64 <= SPAN_MAX.max(BLOB_MAX))
            .ok_or_else(|| index::corrupt(format!("a blob of {} bytes", end - start)))?;
        let mut data = vec![0; len];
        file.read_exact_at(&mut data, start).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("reading {len} bytes at {start} of pack {pack}: {e}"),
            )
        })?;
        Ok(data.into())
    }
}
