//! Appending blobs to pack files, and what has been appended but is not yet
//! committed to the index.
//!
//! Blobs are gathered in a buffer and written with one positioned write
//! per [WRITE_BUFFER] bytes. A pack grows to [PACK_MAX] bytes, then the next
//! one is started. Appended blobs are readable in this process at once
//! ([Appender::pending]); they reach the index, and so other processes and
//! the next open, only by a commit ([Appender::take_commit]), which first
//! syncs every pack they are in.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::index::Entry;
use crate::B3Digest;

/// Pack files are started anew beyond this size: large enough that a big
/// store has few files, small enough that a compaction rewrites little.
pub(super) const PACK_MAX: u64 = 1 << 30;
/// Appended bytes are written once this many have gathered.
const WRITE_BUFFER: usize = 4 * 1024 * 1024;

/// The file of pack `pack` in `packs_dir`.
pub(super) fn pack_path(packs_dir: &Path, pack: u32) -> PathBuf {
    packs_dir.join(format!("{pack:08}.pack"))
}

/// The number of the pack file named `name`, if it is one.
pub(super) fn pack_number(name: &str) -> Option<u32> {
    name.strip_suffix(".pack")?.parse().ok()
}

/// What one commit must do: sync `files`, then index `entries` and record
/// `pack_lengths`.
pub(super) struct Commit {
    pub files: Vec<Arc<File>>,
    pub entries: Vec<(B3Digest, Entry)>,
    pub pack_lengths: Vec<(u32, u64)>,
}

pub(super) struct Appender {
    packs_dir: PathBuf,
    pack: u32,
    file: Arc<File>,
    /// Bytes of the current pack written to its file.
    written: u64,
    /// Bytes appended after `written`, not yet written.
    buffer: Vec<u8>,
    /// Packs finished since the last commit, with their final lengths.
    sealed: Vec<(u32, Arc<File>, u64)>,
    /// Entries appended since the last commit, in order.
    uncommitted: Vec<(B3Digest, Entry)>,
    /// Bytes appended since the last commit.
    pub(super) uncommitted_bytes: u64,
    /// Every entry not yet in the index: appended since the last commit or
    /// being committed now.
    pending: HashMap<B3Digest, Entry>,
    /// Set when writing or syncing failed: what was appended may not be on
    /// disk, so nothing more is accepted.
    pub(super) failed: Option<String>,
}

impl Appender {
    /// Appends to pack `pack`, whose committed length is `length`, creating
    /// it if needed.
    pub(super) fn open(packs_dir: PathBuf, pack: u32, length: u64) -> io::Result<Self> {
        let file = open_pack(&packs_dir, pack)?;
        Ok(Self {
            packs_dir,
            pack,
            file: Arc::new(file),
            written: length,
            buffer: Vec::new(),
            sealed: Vec::new(),
            uncommitted: Vec::new(),
            uncommitted_bytes: 0,
            pending: HashMap::new(),
            failed: None,
        })
    }

    pub(super) fn pending(&self, digest: &B3Digest) -> Option<Entry> {
        self.pending.get(digest).cloned()
    }

    /// Appends a blob unless it is pending already.
    pub(super) fn append(&mut self, digest: B3Digest, data: &[u8]) -> io::Result<()> {
        if let Some(failure) = &self.failed {
            return Err(io::Error::other(format!(
                "the pack store failed earlier: {failure}"
            )));
        }
        if self.pending.contains_key(&digest) {
            return Ok(());
        }
        let len = data.len() as u64;
        let end = self.written + self.buffer.len() as u64;
        if end > 0 && end + len > PACK_MAX {
            self.start_next_pack()?;
        }
        let offset = self.written + self.buffer.len() as u64;
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= WRITE_BUFFER {
            self.write_buffer()?;
        }
        let entry = Entry::Stored {
            pack: self.pack,
            offset,
            len,
        };
        self.add(digest, entry);
        self.uncommitted_bytes += len;
        Ok(())
    }

    /// Adds an entry whose bytes are appended already (a chunk list).
    pub(super) fn add(&mut self, digest: B3Digest, entry: Entry) {
        self.pending.insert(digest, entry.clone());
        self.uncommitted.push((digest, entry));
    }

    /// The bytes of a pending stored blob that are still in the buffer;
    /// `None` if they were written to the pack file.
    pub(super) fn buffered(&self, pack: u32, offset: u64, len: u64) -> Option<Vec<u8>> {
        if pack != self.pack || offset < self.written {
            return None;
        }
        let start = usize::try_from(offset - self.written).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.buffer.get(start..end).map(<[u8]>::to_vec)
    }

    /// Whether pack bytes before `end` of pack `pack` may be in the buffer
    /// rather than in the file.
    pub(super) fn maybe_buffered(&self, pack: u32, end: u64) -> bool {
        pack == self.pack && end > self.written
    }

    /// Writes the buffer and hands out everything appended since the last
    /// commit; nothing if nothing was.
    pub(super) fn take_commit(&mut self) -> io::Result<Option<Commit>> {
        if self.uncommitted.is_empty() {
            return Ok(None);
        }
        self.write_buffer()?;
        let mut files = Vec::new();
        let mut pack_lengths = Vec::new();
        for (pack, file, length) in self.sealed.drain(..) {
            files.push(file);
            pack_lengths.push((pack, length));
        }
        files.push(self.file.clone());
        pack_lengths.push((self.pack, self.written));
        self.uncommitted_bytes = 0;
        Ok(Some(Commit {
            files,
            entries: std::mem::take(&mut self.uncommitted),
            pack_lengths,
        }))
    }

    /// A commit is in the index: its entries are found there now.
    pub(super) fn committed(&mut self, entries: &[(B3Digest, Entry)]) {
        for (digest, _) in entries {
            self.pending.remove(digest);
        }
    }

    fn write_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all_at(&self.buffer, self.written) {
            self.failed = Some(e.to_string());
            return Err(e);
        }
        self.written += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    fn start_next_pack(&mut self) -> io::Result<()> {
        self.write_buffer()?;
        let next = self
            .pack
            .checked_add(1)
            .ok_or_else(|| io::Error::other("out of pack numbers"))?;
        let file = Arc::new(open_pack(&self.packs_dir, next)?);
        let previous = std::mem::replace(&mut self.file, file);
        self.sealed.push((self.pack, previous, self.written));
        self.pack = next;
        self.written = 0;
        Ok(())
    }
}

/// Opens (creating if needed) a pack for appending, and makes its name
/// durable in the directory.
fn open_pack(packs_dir: &Path, pack: u32) -> io::Result<File> {
    let path = pack_path(packs_dir, pack);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    File::open(packs_dir)?.sync_all()?;
    Ok(file)
}
