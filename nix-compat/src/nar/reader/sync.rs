//! The NAR reader over [std::io::BufRead].

use std::fmt;
use std::io::{self, BufRead, Read};

use super::archive::ArchiveReader;
use super::error::{Error, Field};
use super::format::{
    self, Choice, Contents, DirItem, ENTRY_END, ENTRY_OR_END, HEADER, NODE_END, NODE_START,
    NODE_TYPE, NodeType,
};
use crate::nar::rules;
use crate::nar::wire::{self, MAX_TOKEN_LEN};

/// Starts reading a NAR, up to its root node.
///
/// Reading stops right after the root node's closing `")"`, as CppNix does,
/// so a NAR can be read from a stream that carries more data after it (the
/// daemon protocol does). To reject trailing data, check that `reader` is at
/// its end once the root node is consumed.
pub fn open<R: BufRead + ?Sized>(reader: &mut R) -> io::Result<Node<'_, R>> {
    let mut archive = ArchiveReader::new(reader);
    read_choice(archive.inner, &HEADER).map_err(|e| archive.poison(e))?;
    Node::read(archive)
}

/// A node of the archive, as it is reached.
pub enum Node<'a, R: ?Sized> {
    /// A symlink, read entirely (its target is at most
    /// [rules::MAX_TARGET_LEN] bytes).
    Symlink { target: Vec<u8> },
    /// A file, whose contents `reader` streams.
    File {
        executable: bool,
        reader: FileReader<'a, R>,
    },
    /// A directory, whose entries the reader yields in order.
    Directory(DirReader<'a, R>),
}

impl<'a, R: BufRead + ?Sized> Node<'a, R> {
    /// Reads a node after its `"type"` token.
    fn read(mut archive: ArchiveReader<'a, R>) -> io::Result<Self> {
        let node_type = read_choice(archive.inner, &NODE_TYPE).map_err(|e| archive.poison(e))?;
        Ok(match node_type {
            NodeType::Regular | NodeType::Executable => Node::File {
                executable: node_type == NodeType::Executable,
                reader: FileReader::new(archive)?,
            },
            NodeType::Symlink => {
                let target = read_target(archive.inner).map_err(|e| archive.poison(e))?;
                archive.finish();
                Node::Symlink { target }
            }
            NodeType::Directory => Node::Directory(DirReader {
                archive,
                name: Vec::new(),
                done: false,
            }),
        })
    }
}

impl<R: ?Sized> fmt::Debug for Node<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Symlink { target } => f
                .debug_struct("Symlink")
                .field("target", &bstr::BStr::new(target))
                .finish(),
            Node::File { executable, reader } => f
                .debug_struct("File")
                .field("executable", executable)
                .field("len", &reader.len())
                .finish(),
            Node::Directory(_) => f.write_str("Directory"),
        }
    }
}

/// The contents of a file: exactly [FileReader::len] bytes.
///
/// The file's node is consumed along with its last byte; read it to the end
/// before reading further entries of the parent directory.
pub struct FileReader<'a, R: ?Sized> {
    archive: ArchiveReader<'a, R>,
    contents: Contents,
}

impl<'a, R: BufRead + ?Sized> FileReader<'a, R> {
    /// Reads the contents' length; an empty file is consumed right away.
    fn new(mut archive: ArchiveReader<'a, R>) -> io::Result<Self> {
        let len = read_u64(archive.inner).map_err(|e| archive.poison(e))?;
        let mut file = FileReader {
            archive,
            contents: Contents::new(len),
        };
        if len == 0 {
            let loaded = file.load_tail();
            file.settle(loaded)?;
        }
        Ok(file)
    }

    fn load_tail(&mut self) -> io::Result<()> {
        self.archive
            .inner
            .read_exact(self.contents.tail_to_load())?;
        let loaded = self.contents.tail_to_load().len();
        Ok(self.contents.loaded_tail(loaded)?)
    }

    /// Poisons the archive on an error, or frees the parent once done.
    fn settle<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        match result {
            Err(e) => Err(self.archive.poison(e)),
            Ok(value) => {
                if self.contents.is_done() {
                    self.archive.finish();
                }
                Ok(value)
            }
        }
    }

    fn read_contents(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let body_left = self.contents.body_left();
        if body_left > 0 {
            let max = usize::try_from(body_left).map_or(buf.len(), |left| left.min(buf.len()));
            let n = self.archive.inner.read(&mut buf[..max])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.contents.consumed_body(n);
            return Ok(n);
        }
        if !self.contents.tail_loaded() {
            self.load_tail()?;
        }
        let tail = self.contents.unserved_tail(buf.len());
        let n = tail.len();
        buf[..n].copy_from_slice(tail);
        self.contents.served_tail(n);
        Ok(n)
    }
}

impl<R: ?Sized> FileReader<'_, R> {
    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.contents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<R: BufRead + ?Sized> Read for FileReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.archive.check();
        if buf.is_empty() || self.contents.is_done() {
            return Ok(0);
        }
        let result = self.read_contents(buf);
        self.settle(result)
    }
}

/// The entries of a directory, in the order the NAR holds them.
pub struct DirReader<'a, R: ?Sized> {
    archive: ArchiveReader<'a, R>,
    /// The last entry's name; empty before the first entry.
    name: Vec<u8>,
    /// Whether the directory's end was read.
    done: bool,
}

impl<R: BufRead + ?Sized> DirReader<'_, R> {
    /// The next entry, or `None` once the directory's end was read (and on
    /// every later call).
    ///
    /// The entry's node must be used up (files read to their end,
    /// directories until `next` returns `None`) before this is called again.
    #[allow(clippy::should_implement_trait)] // entries borrow the reader, so no Iterator
    pub fn next(&mut self) -> io::Result<Option<Entry<'_, R>>> {
        self.archive.check();
        if self.done {
            return Ok(None);
        }
        match self.read_entry_start() {
            Err(e) => Err(self.archive.poison(e)),
            Ok(DirItem::End) => {
                self.done = true;
                self.archive.finish();
                Ok(None)
            }
            Ok(DirItem::Entry) => Ok(Some(Entry {
                name: &self.name,
                node: Node::read(self.archive.child())?,
            })),
        }
    }

    /// Reads up to an entry's node type, or the directory's end.
    fn read_entry_start(&mut self) -> io::Result<DirItem> {
        let reader = &mut *self.archive.inner;
        if !self.name.is_empty() {
            read_choice(reader, &ENTRY_END)?;
        }
        if read_choice(reader, &ENTRY_OR_END)? == DirItem::End {
            return Ok(DirItem::End);
        }
        let len = rules::check_name_len(read_u64(reader)?).map_err(Error::Name)?;
        let mut padded = [0; wire::padded_len(rules::MAX_NAME_LEN)];
        let padded = &mut padded[..wire::padded_len(len)];
        reader.read_exact(padded)?;
        let name = format::unpad(padded, len, Field::Name)?;
        let prev = Some(&self.name[..]).filter(|prev| !prev.is_empty());
        rules::check_entry_name(prev, name).map_err(Error::Name)?;
        self.name.clear();
        self.name.extend_from_slice(name);
        read_choice(reader, &NODE_START)?;
        Ok(DirItem::Entry)
    }
}

/// An entry of a directory.
pub struct Entry<'a, R: ?Sized> {
    pub name: &'a [u8],
    pub node: Node<'a, R>,
}

impl<R: ?Sized> fmt::Debug for Entry<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &bstr::BStr::new(self.name))
            .field("node", &self.node)
            .finish()
    }
}

/// Reads the token run one of `choice`'s options spells, returning its value.
fn read_choice<T: Copy, R: Read + ?Sized>(reader: &mut R, choice: &Choice<T>) -> io::Result<T> {
    let mut buf = [0; MAX_TOKEN_LEN];
    let head = &mut buf[..choice.head_len()];
    reader.read_exact(head)?;
    let (index, rest_len) = choice.match_head(head)?;
    let rest = &mut buf[..rest_len];
    reader.read_exact(rest)?;
    Ok(choice.match_rest(index, rest)?)
}

fn read_u64<R: Read + ?Sized>(reader: &mut R) -> io::Result<u64> {
    let mut buf = [0; 8];
    reader.read_exact(&mut buf)?;
    Ok(u64::from_le_bytes(buf))
}

/// Reads a symlink's target and the `")"` ending its node.
fn read_target<R: Read + ?Sized>(reader: &mut R) -> io::Result<Vec<u8>> {
    let len = rules::check_target_len(read_u64(reader)?).map_err(Error::Target)?;
    let mut target = vec![0; wire::padded_len(len)];
    reader.read_exact(&mut target)?;
    format::unpad(&target, len, Field::Target)?;
    target.truncate(len);
    rules::check_target(&target).map_err(Error::Target)?;
    read_choice(reader, &NODE_END)?;
    Ok(target)
}
