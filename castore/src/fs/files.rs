//! Reading the files of a mounted castore, two ways.
//!
//! [LocalFile]: when the blob service keeps the file's chunks in local files
//! ([BlobService::locate], the pack store), a read is answered on the FUSE
//! thread with positioned reads, with no hop onto the runtime. Each chunk
//! is checked against its digest the first time this process serves it
//! ([VerifiedDigests]); later reads of it (after the kernel dropped its pages, or
//! from another file sharing it) read straight from the store's file into
//! the reply. Reads hold no per-handle state, so the kernel may send them
//! in any order and on any thread.
//!
//! [ServiceFile]: for every other backend, the blob service's seekable
//! reader, driven on the runtime; it verifies what it hands out itself.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, SeekFrom};
use std::os::fd::AsRawFd;

use fuse_backend_rs::api::filesystem::ZeroCopyWriter;
use fuse_backend_rs::file_buf::FileVolatileSlice;
use fuse_backend_rs::file_traits::FileReadWriteVolatile;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::B3Digest;
use crate::blobservice::{BlobLocation, BlobReader, VerifiedDigests};

/// The largest chunk read whole into memory to be verified; a store
/// claiming a larger one is served through its reader instead.
pub const MAX_LOCAL_CHUNK: u64 = 16 * 1024 * 1024;

/// A file whose chunks lie in local files.
pub struct LocalFile {
    /// Offset of the first byte of each chunk within the file.
    starts: Vec<u64>,
    chunks: Vec<BlobLocation>,
    size: u64,
}

thread_local! {
    /// Where a chunk is read to be verified: one per FUSE thread, grown to
    /// the largest chunk and kept, so reads do not allocate.
    static CHUNK_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl LocalFile {
    /// The file of `size` bytes made of `chunks`, or `None` if they do not
    /// add up to `size` or one is too large to verify in memory (then the
    /// blob service's reader, which checks what it can, serves it).
    pub fn new(chunks: Vec<BlobLocation>, size: u64) -> Option<Self> {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut end: u64 = 0;
        for chunk in &chunks {
            if chunk.len > MAX_LOCAL_CHUNK {
                return None;
            }
            starts.push(end);
            end = end.checked_add(chunk.len)?;
        }
        (end == size).then_some(Self {
            starts,
            chunks,
            size,
        })
    }

    /// Writes up to `len` bytes from `offset` into `w`, fewer only at the
    /// end of the file; every byte from a chunk verified by now.
    pub fn read(
        &self,
        verified: &VerifiedDigests,
        offset: u64,
        len: usize,
        w: &mut dyn ZeroCopyWriter,
    ) -> io::Result<usize> {
        let end = offset.saturating_add(len as u64).min(self.size);
        if offset >= end {
            return Ok(0);
        }
        // The chunk holding `offset`: the last one starting at or before it
        // (empty chunks share their start with the next and are skipped).
        let first = self.starts.partition_point(|start| *start <= offset) - 1;
        let mut pos = offset;
        for (chunk, start) in self.chunks[first..].iter().zip(&self.starts[first..]) {
            if pos >= end {
                break;
            }
            let chunk_end = start + chunk.len;
            if chunk_end <= pos {
                continue;
            }
            let from = pos - start;
            let count = usize::try_from(chunk_end.min(end) - pos).unwrap_or(usize::MAX);
            if verified.contains(&chunk.digest) {
                w.write_all_from(&mut PackFile(&chunk.file), count, chunk.offset + from)?;
            } else {
                read_verified(chunk, |data| {
                    verified.extend([chunk.digest]);
                    // `from + count` is within the chunk by construction.
                    w.write_all(&data[from as usize..from as usize + count])
                })?;
            }
            pos += count as u64;
        }
        Ok((pos - offset) as usize)
    }
}

/// Reads `chunk` whole, checks it against its digest and hands it to `use_`.
fn read_verified(
    chunk: &BlobLocation,
    use_: impl FnOnce(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    CHUNK_BUFFER.with_borrow_mut(|buffer| {
        // At most MAX_LOCAL_CHUNK, checked in `LocalFile::new`.
        let len = chunk.len as usize;
        if buffer.len() < len {
            buffer.resize(len, 0);
        }
        let data = &mut buffer[..len];
        std::os::unix::fs::FileExt::read_exact_at(&*chunk.file, data, chunk.offset)?;
        let actual = B3Digest::of(data);
        if actual != chunk.digest {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("chunk {} has digest {actual}", chunk.digest),
            ));
        }
        use_(data)
    })
}

/// A store's file as `fuse-backend-rs` reads into a reply: positioned reads
/// only, since the file is shared between threads.
struct PackFile<'a>(&'a File);

impl FileReadWriteVolatile for PackFile<'_> {
    fn read_volatile(&mut self, _slice: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn write_volatile(&mut self, _slice: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        let offset =
            i64::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: the kernel writes at most `slice.len()` bytes to the
        // memory `slice` describes, which is the reply buffer, valid and
        // not otherwise accessed for the duration of the call.
        let read = unsafe {
            libc::pread(
                self.0.as_raw_fd(),
                slice.as_ptr().cast(),
                slice.len(),
                offset,
            )
        };
        usize::try_from(read).map_err(|_| io::Error::last_os_error())
    }

    fn write_at_volatile(&mut self, _slice: FileVolatileSlice, _offset: u64) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// A file read through the blob service's reader, and where it stands.
pub struct ServiceFile {
    reader: Box<dyn BlobReader>,
    pos: u64,
    size: u64,
    /// The buffer every read of this handle fills, kept so a read does not
    /// allocate (and fault in) fresh pages each time.
    buffer: Vec<u8>,
}

impl ServiceFile {
    pub fn new(reader: Box<dyn BlobReader>, size: u64) -> Self {
        Self {
            reader,
            pos: 0,
            size,
            buffer: Vec::new(),
        }
    }

    /// Up to `len` bytes from `offset`, fewer only at the end of the file,
    /// in the handle's buffer.
    pub async fn read_at(&mut self, offset: u64, len: usize) -> io::Result<&[u8]> {
        let len = usize::try_from(self.size.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(len);
        if len == 0 {
            return Ok(&[]);
        }
        if self.pos != offset {
            self.reader.seek(SeekFrom::Start(offset)).await?;
            self.pos = offset;
        }
        // Only grown, and only zeroed when it grows: `read` writes into it.
        if self.buffer.len() < len {
            self.buffer.resize(len, 0);
        }
        let mut filled = 0;
        while filled < len {
            let n = self.reader.read(&mut self.buffer[filled..len]).await?;
            if n == 0 {
                break;
            }
            filled += n;
            self.pos += n as u64;
        }
        if filled < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("blob ends at {}, before its size {}", self.pos, self.size),
            ));
        }
        Ok(&self.buffer[..len])
    }
}
