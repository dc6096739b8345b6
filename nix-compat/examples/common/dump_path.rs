//! Serialises a host filesystem path as a NAR, as `nix-store --dump` does.
//!
//! Shared by the `nar-hash` example and the `nar` benchmark; it lives here,
//! not in the library, because reading the host filesystem is I/O policy
//! that nix-compat leaves to its callers.
//!
//! Reading and serialising run on two threads: a walker thread reads
//! directories and file contents into owned buffers and sends them, in
//! batches so that small files don't cost a thread hand-off each, over a
//! bounded channel; the caller's thread feeds them to the NAR writer.
//! The writer's sink (a hasher, say) then works on the very buffers the
//! kernel filled, with no copy between, while the next file is being read:
//! that makes `nix-hash`'s job about as fast as sha256 itself.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use nix_compat::nar::writer::{self, Node};

/// File contents travel in buffers of at most this size.
const CHUNK: usize = 1 << 20;
/// A batch is sent once it holds this many bytes of contents…
const BATCH_BYTES: usize = 4 << 20;
/// …or this many events.
const BATCH_EVENTS: usize = 512;
/// Batches in flight between the threads; with the limits above, this
/// bounds the memory used to a few MiB.
const IN_FLIGHT: usize = 8;

/// What the walker found, in NAR order: directory entries sorted, each
/// entry's node right after its name, file contents right after the file.
enum Event {
    Symlink(Vec<u8>),
    File { executable: bool, size: u64 },
    Data(Vec<u8>),
    DirStart,
    Entry(OsString),
    DirEnd,
    Failed(io::Error),
}

/// Writes the NAR of `path` to `out`.
pub fn dump_path<W: Write>(path: &Path, out: &mut W) -> io::Result<()> {
    let (to_writer, batches) = mpsc::sync_channel(IN_FLIGHT);
    let (recycle, recycled) = mpsc::channel();
    let root = path.to_owned();
    let walker = thread::spawn(move || {
        let mut batcher = Batcher {
            to_writer,
            batch: Vec::new(),
            bytes: 0,
        };
        let result = walk(&root, &mut batcher, &recycled);
        if let Err(e) = result {
            batcher.batch.push(Event::Failed(e));
        }
        // The writer may have stopped already; then nobody listens.
        let _ = batcher.flush();
    });
    let mut events = Events {
        batches,
        current: Vec::new().into_iter(),
        recycle,
    };
    let result = writer::open(out).and_then(|root| write_node(&mut events, root));
    // Dropping the receiver stops a walker that is still going.
    drop(events);
    walker
        .join()
        .map_err(|_| io::Error::other("the walker thread panicked"))?;
    result
}

/// The walker's end of the channel: collects events into batches.
struct Batcher {
    to_writer: mpsc::SyncSender<Vec<Event>>,
    batch: Vec<Event>,
    bytes: usize,
}

impl Batcher {
    fn push(&mut self, event: Event) -> io::Result<()> {
        if let Event::Data(data) = &event {
            self.bytes += data.len();
        }
        self.batch.push(event);
        if self.bytes >= BATCH_BYTES || self.batch.len() >= BATCH_EVENTS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.bytes = 0;
        let batch = std::mem::take(&mut self.batch);
        self.to_writer
            .send(batch)
            .map_err(|_| io::Error::other("the NAR writer stopped"))
    }
}

fn walk(path: &Path, out: &mut Batcher, recycled: &mpsc::Receiver<Vec<u8>>) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        out.push(Event::Symlink(
            fs::read_link(path)?.into_os_string().into_encoded_bytes(),
        ))
    } else if file_type.is_file() {
        let mut file = File::open(path)?;
        let size = meta.len();
        // Nix looks at the owner's executable bit only.
        let executable = meta.permissions().mode() & 0o100 != 0;
        out.push(Event::File { executable, size })?;
        let mut left = size;
        while left > 0 {
            let n = usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK));
            // Full chunks reuse buffers the writer is done with; smaller
            // ones get their own, so a batch of small files stays small.
            let mut buf = if n == CHUNK {
                recycled.try_recv().unwrap_or_default()
            } else {
                Vec::with_capacity(n)
            };
            buf.clear();
            // read_to_end fills spare capacity without zeroing it first.
            let read = (&mut file).take(n as u64).read_to_end(&mut buf);
            match read {
                Ok(got) if got == n => {}
                Ok(got) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: shrank to {got} of {n} bytes while read",
                            path.display()
                        ),
                    ));
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            }
            out.push(Event::Data(buf))?;
            left -= n as u64;
        }
        Ok(())
    } else if file_type.is_dir() {
        let mut names = fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        out.push(Event::DirStart)?;
        for name in names {
            let child = path.join(&name);
            out.push(Event::Entry(name))?;
            walk(&child, out, recycled)?;
        }
        out.push(Event::DirEnd)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: not a regular file, directory or symlink",
                path.display()
            ),
        ))
    }
}

/// The writer's end of the channel.
struct Events {
    batches: mpsc::Receiver<Vec<Event>>,
    current: std::vec::IntoIter<Event>,
    recycle: mpsc::Sender<Vec<u8>>,
}

impl Events {
    fn next(&mut self) -> io::Result<Event> {
        loop {
            match self.current.next() {
                Some(Event::Failed(e)) => return Err(e),
                Some(event) => return Ok(event),
                None => {
                    self.current = self
                        .batches
                        .recv()
                        .map_err(|_| io::Error::other("the walker stopped early"))?
                        .into_iter()
                }
            }
        }
    }
}

fn unexpected() -> io::Error {
    io::Error::other("the walker sent events out of NAR order")
}

fn write_node<W: Write>(events: &mut Events, node: Node<'_, W>) -> io::Result<()> {
    match events.next()? {
        Event::Symlink(target) => node.symlink(&target),
        Event::File { executable, size } => {
            let mut contents = Contents {
                events,
                buf: Vec::new(),
                pos: 0,
                left: size,
            };
            node.file(executable, size, &mut contents)
        }
        Event::DirStart => {
            let mut dir = node.directory()?;
            loop {
                match events.next()? {
                    Event::Entry(name) => write_node(events, dir.entry(name.as_bytes())?)?,
                    Event::DirEnd => return dir.close(),
                    _ => return Err(unexpected()),
                }
            }
        }
        _ => Err(unexpected()),
    }
}

/// A file's contents as they arrive from the walker, lent out in place.
struct Contents<'a> {
    events: &'a mut Events,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes of the file not yet received.
    left: u64,
}

impl Read for Contents<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Contents<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.buf.len() && self.left > 0 {
            let Event::Data(next) = self.events.next()? else {
                return Err(unexpected());
            };
            self.left = self.left.saturating_sub(next.len() as u64);
            let done = std::mem::replace(&mut self.buf, next);
            if done.len() == CHUNK {
                // The walker may be finished; then the buffer is dropped.
                let _ = self.events.recycle.send(done);
            }
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// A writer that only sha256-hashes and counts what passes through.
#[derive(Default)]
pub struct HashingSink {
    hasher: sha2::Sha256,
    len: u64,
}

impl HashingSink {
    /// The sha256 and the byte count of everything written.
    pub fn finish(self) -> ([u8; 32], u64) {
        (sha2::Digest::finalize(self.hasher).into(), self.len)
    }
}

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sha2::Digest::update(&mut self.hasher, buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
