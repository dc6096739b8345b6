//! Windows of pack files mapped into memory ([Windows]), for the bulk
//! reader's [super::fetcher]: its blobs are hashed and written out
//! straight from the page cache, where a positioned read would first copy
//! every byte into a buffer. A window of [WINDOW_BYTES] is mapped once and
//! shared by the parts read from it; it is unmapped when the reader has
//! moved on to the next window of its pack and the last piece handed out
//! of it is dropped. So a process holds a window or two per pack in
//! flight, not whole packs, and unmapping (which costs a TLB shoot-down on
//! the other core) is rare. Pages are not populated up front: the threads
//! that hash a part fault its pages in, a few at a time.
//!
//! # Why touching a map cannot fault
//!
//! Reading a mapped page that lies past the end of its file (a file cut
//! while mapped) raises SIGBUS, which kills the process. So a map covers
//! only bytes that no file operation of the store takes away while the map
//! lives:
//!
//! - Only bytes below a pack's committed length are mapped (see
//!   [super::Store::committed_length]), and a window is mapped only after
//!   checking that the file is at least that long. Bytes appended since
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

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use memmap2::{Mmap, MmapOptions};

use super::index;

/// The bytes of a pack mapped at once, at most (fewer at its end).
const WINDOW_BYTES: u64 = 16 * 1024 * 1024;

/// The window last mapped of each pack.
#[derive(Default)]
pub(super) struct Windows(Mutex<HashMap<u32, Arc<Window>>>);

/// Bytes `start..start + map.len()` of a pack, mapped.
struct Window {
    start: u64,
    map: Mmap,
}

/// Part of a [Window], the owner of the [Bytes] handed out.
struct Slice {
    window: Arc<Window>,
    from: usize,
    to: usize,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        &self.window.map[self.from..self.to]
    }
}

impl Windows {
    /// Bytes `start..end` of pack `pack` (open as `file`), which must lie
    /// below the pack's committed length `committed`, mapped read-only.
    pub(super) fn slice(
        &self,
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
        let mut windows = self
            .0
            .lock()
            .map_err(|_| io::Error::other("pack windows lock poisoned"))?;
        let window = match windows.get(&pack) {
            Some(window)
                if window.start <= start && end <= window.start + window.map.len() as u64 =>
            {
                window.clone()
            }
            _ => {
                let len = (committed - start).min(WINDOW_BYTES).max(end - start);
                let window = Arc::new(map_window(pack, file, committed, start, len)?);
                windows.insert(pack, window.clone());
                window
            }
        };
        drop(windows);
        let from = (start - window.start) as usize;
        let to = (end - window.start) as usize;
        Ok(Bytes::from_owner(Slice { window, from, to }))
    }
}

/// Maps `len` bytes at `start` of pack `pack`, all below `committed`.
fn map_window(pack: u32, file: &File, committed: u64, start: u64, len: u64) -> io::Result<Window> {
    let file_len = file.metadata()?.len();
    if file_len < committed {
        return Err(index::corrupt(format!(
            "pack {pack} is {file_len} bytes, shorter than the {committed} bytes committed"
        )));
    }
    let map_len =
        usize::try_from(len).map_err(|_| index::corrupt(format!("a window of {len} bytes")))?;
    // SAFETY: the mapped bytes are committed bytes of an append-only file
    // that the store never cuts while they may be mapped (see the module
    // doc), and they are only read, so no access can fault or see them
    // change.
    let map = unsafe { MmapOptions::new().offset(start).len(map_len).map(file) }.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("mapping {len} bytes at {start} of pack {pack}: {e}"),
        )
    })?;
    Ok(Window { start, map })
}
