//! Reading many blobs in a known order ([BulkBlobReader]): a NAR's files.
//!
//! An importer appends the blobs of a tree in about the order a NAR lists
//! them, so the blobs of neighbouring files are mostly neighbours in a
//! pack. The blobs are looked up [LOOKUP_BATCH] at a time in one index
//! transaction, then read with one positioned read per run of neighbours
//! (up to [SPAN_MAX] bytes, skipping gaps of up to [GAP_MAX]) into a buffer
//! that the pieces handed out are slices of: no copy, and one system call
//! for many small files where reading them from a file system costs an
//! open, a read and a close each. Every piece is verified before it is
//! handed out (see the pack store's module doc for "once per process").

use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::PackBlobService;
use super::index::{self, Entry};
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

impl BulkBlobReader for PackBlobService {
    fn read_in_order(&self, digests: Vec<B3Digest>) -> BlobPieces {
        Box::new(BulkRead {
            service: self.clone(),
            digests,
            planned: 0,
            plan: VecDeque::new(),
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
    /// Pieces read and verified, not yet handed out.
    ready: VecDeque<BlobPiece>,
    /// After an error nothing more is read.
    stopped: bool,
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
            let step = if self.plan.is_empty() {
                if self.planned == self.digests.len() {
                    return None;
                }
                self.look_up()
            } else {
                self.read()
            };
            if let Err(error) = step {
                self.stopped = true;
                return Some(Err(error));
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
        let pieces = self
            .read_run(pack, start, end, &run)
            .map_err(|(index, e)| self.io_error(index, e))?;
        self.ready.extend(pieces);
        Ok(())
    }

    /// Reads the blobs of `run` (index, digest, offset, length), which lie
    /// in `start..end` of pack `pack`, and verifies them.
    fn read_run(
        &self,
        pack: u32,
        start: u64,
        end: u64,
        run: &[(usize, B3Digest, u64, u64)],
    ) -> Result<Vec<BlobPiece>, (usize, io::Error)> {
        let first = run.first().map_or(0, |(index, ..)| *index);
        let buffered = self
            .service
            .maybe_buffered(pack, end)
            .map_err(|e| (first, e))?;
        let pieces: Vec<(usize, &B3Digest, Bytes)> = if buffered {
            // Appended so recently that some may not be in the file yet.
            run.iter()
                .map(|(index, digest, offset, len)| {
                    self.service
                        .read_stored(pack, *offset, *len)
                        .map(|data| (*index, digest, data))
                        .map_err(|e| (*index, e))
                })
                .collect::<Result<_, _>>()?
        } else {
            let data = self.read_span(pack, start, end).map_err(|e| (first, e))?;
            run.iter()
                .map(|(index, digest, offset, len)| {
                    let from = (offset - start) as usize;
                    (*index, digest, data.slice(from..from + *len as usize))
                })
                .collect()
        };
        // Checked together (one lock of the verified set); on a mismatch,
        // the first bad one is named.
        if let Err(e) = self
            .service
            .verify_once(pieces.iter().map(|(_, digest, data)| (*digest, &data[..])))
        {
            let bad = pieces
                .iter()
                .find(|(_, digest, data)| B3Digest::of(data) != **digest)
                .map_or(first, |(index, ..)| *index);
            return Err((bad, e));
        }
        Ok(pieces
            .into_iter()
            .map(|(index, _, data)| BlobPiece { index, data })
            .collect())
    }

    /// Bytes `start..end` of pack `pack`, read with one positioned read.
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
