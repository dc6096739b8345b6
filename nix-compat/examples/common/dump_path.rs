//! Serialises a host filesystem path as a NAR, as `nix-store --dump` does.
//!
//! Shared by the `nar-hash` example and the `nar` benchmark; it lives here,
//! not in the library, because reading the host filesystem is I/O policy
//! that nix-compat leaves to its callers.

use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use sha2::{Digest, Sha256};

use nix_compat::nar::writer::{self, Node};

/// Files are read in blocks of this size, so the writer sees few large copies.
const READ_BUFFER: usize = 1 << 17;

/// Writes the NAR of `path` to `out`.
pub fn dump_path<W: Write>(path: &Path, out: &mut W) -> io::Result<()> {
    dump_node(path, writer::open(out)?)
}

fn dump_node<W: Write>(path: &Path, node: Node<'_, W>) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        node.symlink(fs::read_link(path)?.as_os_str().as_bytes())
    } else if file_type.is_file() {
        // Nix looks at the owner's executable bit only.
        let executable = meta.permissions().mode() & 0o100 != 0;
        let mut contents = BufReader::with_capacity(READ_BUFFER, File::open(path)?);
        node.file(executable, meta.len(), &mut contents)
    } else if file_type.is_dir() {
        let mut names = fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut dir = node.directory()?;
        for name in names {
            dump_node(&path.join(&name), dir.entry(name.as_bytes())?)?;
        }
        dir.close()
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a regular file, directory or symlink", path.display()),
        ))
    }
}

/// Bytes handed to the hashing thread at once.
const HASH_CHUNK: usize = 1 << 20;

/// A writer that sha256-hashes and counts what passes through, on a second
/// thread: reading files and hashing each take about one core at NAR
/// speeds, so pipelining them nearly halves the time of `nix-hash`'s job.
pub struct HashingSink {
    buf: Vec<u8>,
    len: u64,
    to_hasher: mpsc::SyncSender<Vec<u8>>,
    /// Buffers the hasher is done with, reused to avoid allocations.
    recycled: mpsc::Receiver<Vec<u8>>,
    hasher: thread::JoinHandle<[u8; 32]>,
}

impl HashingSink {
    pub fn new() -> Self {
        let (to_hasher, chunks) = mpsc::sync_channel::<Vec<u8>>(4);
        let (give_back, recycled) = mpsc::channel();
        let hasher = thread::spawn(move || {
            let mut hasher = Sha256::new();
            for chunk in chunks {
                hasher.update(&chunk);
                // The writer may be gone already; then the buffer is dropped.
                let _ = give_back.send(chunk);
            }
            hasher.finalize().into()
        });
        HashingSink {
            buf: Vec::with_capacity(HASH_CHUNK),
            len: 0,
            to_hasher,
            recycled,
            hasher,
        }
    }

    /// Hashes what is left and returns the sha256 and the byte count.
    pub fn finish(mut self) -> io::Result<([u8; 32], u64)> {
        self.send_chunk()?;
        drop(self.to_hasher);
        let digest = self
            .hasher
            .join()
            .map_err(|_| io::Error::other("hashing thread panicked"))?;
        Ok((digest, self.len))
    }

    fn send_chunk(&mut self) -> io::Result<()> {
        let mut next = self.recycled.try_recv().unwrap_or_default();
        next.clear();
        let chunk = std::mem::replace(&mut self.buf, next);
        self.to_hasher
            .send(chunk)
            .map_err(|_| io::Error::other("hashing thread stopped"))
    }
}

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        self.len += buf.len() as u64;
        if self.buf.len() >= HASH_CHUNK {
            self.send_chunk()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
