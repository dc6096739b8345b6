//! The NAR reader over [tokio::io::AsyncBufRead]: the same grammar and
//! checks as the sync reader in [crate::nar::reader], with `async` methods
//! and an [AsyncRead] for file contents.
//!
//! [open] and [DirReader::next] are not cancellation safe: a future
//! dropped midway leaves the archive in the middle of a token, so the
//! reader must then be discarded. [FileReader] resumes like any
//! [AsyncRead].

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, ReadBuf};

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
/// Reading stops right after the root node's closing `")"`, as CppNix does;
/// see [crate::nar::reader::open].
pub async fn open<R: AsyncBufRead + Unpin + ?Sized>(reader: &mut R) -> io::Result<Node<'_, R>> {
    let mut archive = ArchiveReader::new(reader);
    read_choice(archive.inner, &HEADER)
        .await
        .map_err(|e| archive.poison(e))?;
    Node::read(archive).await
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

impl<'a, R: AsyncBufRead + Unpin + ?Sized> Node<'a, R> {
    /// Reads a node after its `"type"` token.
    async fn read(mut archive: ArchiveReader<'a, R>) -> io::Result<Self> {
        let node_type = read_choice(archive.inner, &NODE_TYPE)
            .await
            .map_err(|e| archive.poison(e))?;
        Ok(match node_type {
            NodeType::Regular | NodeType::Executable => Node::File {
                executable: node_type == NodeType::Executable,
                reader: FileReader::new(archive).await?,
            },
            NodeType::Symlink => {
                let target = read_target(archive.inner)
                    .await
                    .map_err(|e| archive.poison(e))?;
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

impl<'a, R: AsyncBufRead + Unpin + ?Sized> FileReader<'a, R> {
    /// Reads the contents' length; an empty file is consumed right away.
    async fn new(mut archive: ArchiveReader<'a, R>) -> io::Result<Self> {
        let len = archive
            .inner
            .read_u64_le()
            .await
            .map_err(|e| archive.poison(e))?;
        let mut file = FileReader {
            archive,
            contents: Contents::new(len),
        };
        if len == 0 {
            let loaded = std::future::poll_fn(|cx| file.poll_load_tail(cx)).await;
            file.settle(loaded)?;
        }
        Ok(file)
    }

    fn poll_load_tail(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.contents.tail_loaded() {
            let mut buf = ReadBuf::new(self.contents.tail_to_load());
            ready!(Pin::new(&mut *self.archive.inner).poll_read(cx, &mut buf))?;
            let n = buf.filled().len();
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            self.contents.loaded_tail(n)?;
        }
        Poll::Ready(Ok(()))
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

    fn poll_read_contents(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let body_left = self.contents.body_left();
        if body_left > 0 {
            let max = usize::try_from(body_left)
                .map_or(buf.remaining(), |left| left.min(buf.remaining()));
            let mut body = ReadBuf::new(buf.initialize_unfilled_to(max));
            ready!(Pin::new(&mut *self.archive.inner).poll_read(cx, &mut body))?;
            let n = body.filled().len();
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            buf.advance(n);
            self.contents.consumed_body(n);
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_load_tail(cx))?;
        let tail = self.contents.unserved_tail(buf.remaining());
        let n = tail.len();
        buf.put_slice(tail);
        self.contents.served_tail(n);
        Poll::Ready(Ok(()))
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

impl<R: AsyncBufRead + Unpin + ?Sized> AsyncRead for FileReader<'_, R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.archive.check();
        if buf.remaining() == 0 || this.contents.is_done() {
            return Poll::Ready(Ok(()));
        }
        let result = ready!(this.poll_read_contents(cx, buf));
        Poll::Ready(this.settle(result))
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

impl<R: AsyncBufRead + Unpin + ?Sized> DirReader<'_, R> {
    /// The next entry, or `None` once the directory's end was read (and on
    /// every later call).
    ///
    /// The entry's node must be used up (files read to their end,
    /// directories until `next` returns `None`) before this is called again.
    pub async fn next(&mut self) -> io::Result<Option<Entry<'_, R>>> {
        self.archive.check();
        if self.done {
            return Ok(None);
        }
        match self.read_entry_start().await {
            Err(e) => Err(self.archive.poison(e)),
            Ok(DirItem::End) => {
                self.done = true;
                self.archive.finish();
                Ok(None)
            }
            Ok(DirItem::Entry) => Ok(Some(Entry {
                name: &self.name,
                node: Node::read(self.archive.child()).await?,
            })),
        }
    }

    /// Reads up to an entry's node type, or the directory's end.
    async fn read_entry_start(&mut self) -> io::Result<DirItem> {
        let reader = &mut *self.archive.inner;
        if !self.name.is_empty() {
            read_choice(reader, &ENTRY_END).await?;
        }
        if read_choice(reader, &ENTRY_OR_END).await? == DirItem::End {
            return Ok(DirItem::End);
        }
        let len = rules::check_name_len(reader.read_u64_le().await?).map_err(Error::Name)?;
        let mut padded = [0; wire::padded_len(rules::MAX_NAME_LEN)];
        let padded = &mut padded[..wire::padded_len(len)];
        reader.read_exact(padded).await?;
        let name = format::unpad(padded, len, Field::Name)?;
        let prev = Some(&self.name[..]).filter(|prev| !prev.is_empty());
        rules::check_entry_name(prev, name).map_err(Error::Name)?;
        self.name.clear();
        self.name.extend_from_slice(name);
        read_choice(reader, &NODE_START).await?;
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
async fn read_choice<T: Copy, R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    choice: &Choice<T>,
) -> io::Result<T> {
    let mut buf = [0; MAX_TOKEN_LEN];
    let head = &mut buf[..choice.head_len()];
    reader.read_exact(head).await?;
    let (index, rest_len) = choice.match_head(head)?;
    let rest = &mut buf[..rest_len];
    reader.read_exact(rest).await?;
    Ok(choice.match_rest(index, rest)?)
}

/// Reads a symlink's target and the `")"` ending its node.
async fn read_target<R: AsyncRead + Unpin + ?Sized>(reader: &mut R) -> io::Result<Vec<u8>> {
    let len = rules::check_target_len(reader.read_u64_le().await?).map_err(Error::Target)?;
    let mut target = vec![0; wire::padded_len(len)];
    reader.read_exact(&mut target).await?;
    format::unpad(&target, len, Field::Target)?;
    target.truncate(len);
    rules::check_target(&target).map_err(Error::Target)?;
    read_choice(reader, &NODE_END).await?;
    Ok(target)
}
