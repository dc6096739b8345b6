//! Spans of pack files mapped into memory ([map_span]), for the bulk
//! reader: its blobs are hashed and written out straight from the page
//! cache, where a positioned read would first copy every byte into a
//! buffer. Each span gets a map of its own, unmapped when the last piece
//! handed out of it is dropped, so a process holds only the spans in
//! flight (a few MiB), not whole packs, and its resident memory stays
//! small.
//!
//! # Why touching a map cannot fault
//!
//! Reading a mapped page that lies past the end of its file (a file cut
//! while mapped) raises SIGBUS, which kills the process. So a map covers
//! only bytes that no file operation of the store takes away while the map
//! lives:
//!
//! - Only bytes below a pack's committed length are mapped (the caller
//!   checks; see [super::Store::committed_length]), and [map_span] checks
//!   that the file is at least that long at the time. Bytes appended since
//!   the last commit are read with positioned reads instead.
//! - Packs are append-only. The only cuts are on open: a torn tail past
//!   the committed length, which no map covers; and a pack found shorter
//!   than committed is not cut at all, the blobs it lost leave the index
//!   instead. A new store of the same directory in the same process (after
//!   the last one was dropped, while pieces of its maps are still held)
//!   therefore cuts nothing that is mapped either.
//!
//! Cutting a pack by hand while a process has the store open is outside
//! what the store survives, as is editing its index by hand: such a pack
//! is repaired on the next open, but the process reading it may die.

use std::fs::File;
use std::io;

use bytes::Bytes;
use memmap2::MmapOptions;

use super::index;

/// Maps bytes `start..end` of pack `pack` (open as `file`), which must lie
/// below the pack's committed length `committed`, read-only.
pub(super) fn map_span(
    pack: u32,
    file: &File,
    committed: u64,
    start: u64,
    end: u64,
) -> io::Result<Bytes> {
    if start >= end || end > committed {
        return Err(io::Error::other(format!(
            "bytes {start}..{end} of pack {pack} are not committed (committed: {committed})"
        )));
    }
    let file_len = file.metadata()?.len();
    if file_len < committed {
        return Err(index::corrupt(format!(
            "pack {pack} is {file_len} bytes, shorter than the {committed} bytes committed"
        )));
    }
    let len = usize::try_from(end - start)
        .map_err(|_| index::corrupt(format!("a span of {} bytes", end - start)))?;
    // SAFETY: the mapped bytes are committed bytes of an append-only file
    // that the store never cuts while they may be mapped (see the module
    // doc), and they are only read, so no access can fault or see them
    // change.
    let map = unsafe {
        MmapOptions::new()
            .offset(start)
            .len(len)
            .populate()
            .map(file)
    }
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("mapping {len} bytes at {start} of pack {pack}: {e}"),
        )
    })?;
    Ok(Bytes::from_owner(map))
}
