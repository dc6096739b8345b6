//! The NAR size and sha256 of a tree being imported, computed on a thread
//! of its own from what the walk read.
//!
//! sha256 is the most expensive step of an import (more than reading and
//! blake3 together), and the NAR hash is one sequential stream. So the
//! walking thread only reads: it describes the tree in NAR order as
//! [NarPart]s, handing over the very buffers it read (shared, not copied),
//! and this thread writes the NAR into a hashing sink. The walk, this hash
//! and the blob uploads then each get a core's share.

use std::io::{self, Write};
use std::sync::mpsc::Receiver;

use bytes::Bytes;
use nix_compat::nar::writer as nar;

use super::single_pass::{RED_ZONE, SEGMENT};
use crate::nar::{HashingSink, NarSummary};

/// One step of a tree in NAR order: a node is a [NarPart::File], a
/// [NarPart::Symlink], or a [NarPart::Directory] followed by an
/// [NarPart::Entry] and its node for each entry, in name order, and an
/// [NarPart::End].
pub(super) enum NarPart {
    Directory,
    /// The name of the next entry of the directory.
    Entry(Vec<u8>),
    /// The end of the directory.
    End,
    File {
        executable: bool,
        size: u64,
        contents: Contents,
    },
    Symlink(Vec<u8>),
}

/// The contents of a file, as the walk read them.
pub(super) enum Contents {
    Whole(Bytes),
    /// A large file, in pieces that arrive as the walk reads them.
    Pieces(Receiver<Bytes>),
}

/// Hashes the NAR of the tree described by `parts` (one node, sent in
/// batches). Fails if the parts end early or do not make up one node,
/// which happens only when the walk failed (and then its error counts).
pub(super) fn hash_nar(parts: Receiver<Vec<NarPart>>) -> io::Result<NarSummary> {
    let mut parts = parts.into_iter().flatten();
    let mut sink = HashingSink::default();
    node(nar::open(&mut sink)?, &mut parts)?;
    if parts.next().is_some() {
        return Err(malformed("parts after the root node"));
    }
    Ok(sink.finish())
}

/// Writes the next node of `parts` as `nar_node`.
fn node<W: Write>(
    nar_node: nar::Node<'_, W>,
    parts: &mut impl Iterator<Item = NarPart>,
) -> io::Result<()> {
    match parts.next() {
        Some(NarPart::File {
            executable,
            size,
            contents: Contents::Whole(contents),
        }) => nar_node.file_with(executable, size, |writer| {
            writer.write_all(&contents)?;
            Ok(contents.len() as u64)
        }),
        Some(NarPart::File {
            executable,
            size,
            contents: Contents::Pieces(pieces),
        }) => nar_node.file_with(executable, size, |writer| {
            let mut written = 0;
            for piece in pieces {
                writer.write_all(&piece)?;
                written += piece.len() as u64;
            }
            Ok(written)
        }),
        Some(NarPart::Symlink(target)) => nar_node.symlink(&target),
        Some(NarPart::Directory) => {
            let mut directory = nar_node.directory()?;
            loop {
                match parts.next() {
                    Some(NarPart::Entry(name)) => {
                        let entry = directory.entry(&name)?;
                        stacker::maybe_grow(RED_ZONE, SEGMENT, || node(entry, parts))?;
                    }
                    Some(NarPart::End) => break,
                    _ => return Err(malformed("a directory without its end")),
                }
            }
            directory.close()
        }
        Some(NarPart::Entry(_) | NarPart::End) => Err(malformed("an entry outside a directory")),
        None => Err(malformed("the walk ended early")),
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the NAR of the walk is incomplete: {what}"),
    )
}
