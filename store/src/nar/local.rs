//! Rendering a NAR on blocking threads from a blob service that reads
//! blobs on the calling thread ([BulkBlobReader]: the local pack store).
//!
//! Two threads, so that both cores work: one reads the files' blobs in NAR
//! order (neighbouring blobs with one read or map) and has them verified
//! (the pack store hashes on threads of its own meanwhile), handing the
//! pieces over in batches of about [PIECE_BATCH_BYTES]; the other writes
//! the NAR around them into [ChunkSink], which passes large pieces on as
//! they are (slices of the read buffer or map, no copy) and gathers the
//! rest, into a stream of chunks or straight into a blocking writer.
//! Hand-offs are per batch and per chunk, never per blob.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use bstr::{BStr, BString, ByteSlice};
use nix_compat::nar::writer as nar;
use tvix_castore::blobservice::{BlobPiece, BulkBlobReader, BulkReadError};
use tvix_castore::{B3Digest, Directory, Node};

use super::RenderError;
use super::chunks::{ChunkSink, Output};
use super::renderer::{file_error, lookup, push_name};

/// A batch of pieces is handed over once it holds this many bytes...
const PIECE_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// ... or this many pieces.
const PIECE_BATCH_LEN: usize = 1024;
/// Batches read ahead of the file being written.
const BATCHES_AHEAD: usize = 2;
/// Room left on the stack below which the walk moves to a new segment, and
/// the size of each new segment (trees can be [super::MAX_DEPTH] deep).
const RED_ZONE: usize = 64 * 1024;
const SEGMENT: usize = 1024 * 1024;

type Batch = Vec<Result<BlobPiece, BulkReadError>>;

/// Starts rendering `root` into `output` on two blocking threads; the
/// directories are fetched and the files listed in NAR order already. The
/// task ends with the writer's error; a stream of chunks gets it as its
/// last item instead.
pub(super) fn spawn(
    root: Node,
    directories: HashMap<B3Digest, Directory>,
    files: Vec<B3Digest>,
    reader: Arc<dyn BulkBlobReader>,
    output: Output,
) -> tokio::task::JoinHandle<Result<(), RenderError>> {
    let (batches, received) = std_mpsc::sync_channel(BATCHES_AHEAD);
    tokio::task::spawn_blocking(move || read(&*reader, files, batches));
    tokio::task::spawn_blocking(move || {
        let mut sink = ChunkSink::new(output);
        let mut pieces = Pieces {
            batches: received,
            batch: VecDeque::new(),
        };
        let rendered = nar::open(&mut sink)
            .map_err(|source| RenderError::Io {
                path: BString::default(),
                source,
            })
            .and_then(|nar_root| {
                let mut walk = Walk {
                    directories: &directories,
                    pieces: &mut pieces,
                    file: 0,
                };
                walk.node(nar_root, &root, &mut BString::default())
            })
            .and_then(|()| {
                io::Write::flush(&mut sink).map_err(|source| RenderError::Io {
                    path: BString::default(),
                    source,
                })
            });
        match rendered {
            Ok(()) => Ok(()),
            Err(error) => sink.fail(error),
        }
    })
}

/// Reads the blobs of `files` and sends their pieces in batches, until
/// they are all sent, reading fails or the writer stops listening.
fn read(reader: &dyn BulkBlobReader, files: Vec<B3Digest>, batches: std_mpsc::SyncSender<Batch>) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    for piece in reader.read_in_order(files) {
        bytes += piece.as_ref().map_or(0, |piece| piece.data.len());
        batch.push(piece);
        if (bytes >= PIECE_BATCH_BYTES || batch.len() >= PIECE_BATCH_LEN)
            && batches.send(std::mem::take(&mut batch)).is_err()
        {
            return;
        }
        if bytes >= PIECE_BATCH_BYTES {
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        let _ = batches.send(batch);
    }
}

/// The pieces, as the writer takes them.
struct Pieces {
    batches: std_mpsc::Receiver<Batch>,
    batch: VecDeque<Result<BlobPiece, BulkReadError>>,
}

impl Pieces {
    /// The next piece or error, without taking it; `None` at the end.
    fn peek(&mut self) -> Option<&Result<BlobPiece, BulkReadError>> {
        while self.batch.is_empty() {
            self.batch = self.batches.recv().ok()?.into();
        }
        self.batch.front()
    }

    /// Takes the next piece if it is of file `file`; an error about file
    /// `file` (or an earlier one, which cannot be) is taken too.
    fn take(&mut self, file: usize) -> Option<Result<BlobPiece, BulkReadError>> {
        let of_this_file = match self.peek()? {
            Ok(piece) => piece.index == file,
            Err(error) => error.index() <= file,
        };
        if of_this_file {
            self.batch.pop_front()
        } else {
            None
        }
    }
}

struct Walk<'a> {
    directories: &'a HashMap<B3Digest, Directory>,
    pieces: &'a mut Pieces,
    /// The index of the next file in NAR order.
    file: usize,
}

impl Walk<'_> {
    /// Writes `node`, found at `path`, as `nar_node`. `path` is pushed to
    /// and popped, one buffer for the whole walk, and copied only into an
    /// error.
    fn node(
        &mut self,
        nar_node: nar::Node<'_, ChunkSink>,
        node: &Node,
        path: &mut BString,
    ) -> Result<(), RenderError> {
        match node {
            Node::Symlink { target } => {
                nar_node
                    .symlink(target.as_bytes())
                    .map_err(|source| RenderError::Io {
                        path: path.clone(),
                        source,
                    })
            }
            Node::File {
                digest,
                size,
                executable,
            } => {
                let file = self.file;
                self.file += 1;
                let mut failure = None;
                let written = nar_node.file_with(*executable, *size, |sink| {
                    self.contents(sink, file, path.as_bstr(), &mut failure)
                });
                match (failure, written) {
                    (Some(failure), _) => Err(failure),
                    (None, Ok(())) => Ok(()),
                    (None, Err(e)) => Err(file_error(path.clone(), *digest, *size, e)),
                }
            }
            Node::Directory { digest, .. } => {
                let directory = lookup(self.directories, digest, path.as_bstr())?;
                let mut nar_directory = nar_node.directory().map_err(|source| RenderError::Io {
                    path: path.clone(),
                    source,
                })?;
                for (name, child) in directory.nodes() {
                    let end = path.len();
                    push_name(path, name.as_bytes());
                    let nar_child = match nar_directory.entry(name.as_bytes()) {
                        Ok(nar_child) => nar_child,
                        Err(source) => {
                            return Err(RenderError::Io {
                                path: path.clone(),
                                source,
                            });
                        }
                    };
                    stacker::maybe_grow(RED_ZONE, SEGMENT, || self.node(nar_child, child, path))?;
                    path.truncate(end);
                }
                nar_directory.close().map_err(|source| RenderError::Io {
                    path: path.clone(),
                    source,
                })
            }
        }
    }

    /// Writes the pieces of file number `file` (at `path`) to `sink` and
    /// returns how many bytes they held. A read error is put in `failure`.
    fn contents(
        &mut self,
        sink: &mut ChunkSink,
        file: usize,
        path: &BStr,
        failure: &mut Option<RenderError>,
    ) -> io::Result<u64> {
        let mut written = 0;
        while let Some(piece) = self.pieces.take(file) {
            match piece {
                Ok(piece) => {
                    written += piece.data.len() as u64;
                    sink.write_bytes(piece.data)?;
                }
                Err(error) => {
                    *failure = Some(read_error(path, error));
                    return Err(io::Error::other("reading the blob failed"));
                }
            }
        }
        Ok(written)
    }
}

fn read_error(path: &BStr, error: BulkReadError) -> RenderError {
    match error {
        BulkReadError::NotFound { digest, .. } => RenderError::BlobNotFound {
            path: path.to_owned(),
            digest,
        },
        BulkReadError::Io { digest, source, .. } => RenderError::OpenBlob {
            path: path.to_owned(),
            digest,
            source,
        },
    }
}
