//! A file tree as plain data, and the sync and async readers and writers
//! driven over it, so that every test is written once for all of them.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, BufRead, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::nar::{reader, writer};

/// A file tree, with entries in NAR order (bytewise, like `BTreeMap`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tree {
    File { executable: bool, contents: Vec<u8> },
    Symlink(Vec<u8>),
    Directory(BTreeMap<Vec<u8>, Tree>),
}

impl Tree {
    pub(super) fn file(contents: &[u8]) -> Tree {
        Tree::File {
            executable: false,
            contents: contents.to_vec(),
        }
    }

    pub(super) fn executable(contents: &[u8]) -> Tree {
        Tree::File {
            executable: true,
            contents: contents.to_vec(),
        }
    }

    pub(super) fn symlink(target: &[u8]) -> Tree {
        Tree::Symlink(target.to_vec())
    }

    pub(super) fn directory<const N: usize>(entries: [(&[u8], Tree); N]) -> Tree {
        Tree::Directory(
            entries
                .into_iter()
                .map(|(name, tree)| (name.to_vec(), tree))
                .collect(),
        )
    }
}

/// One implementation of the reader and writer, fed in one way.
#[derive(Debug, Clone, Copy)]
pub(super) enum Impl {
    Sync,
    /// The sync reader fed one byte per read.
    SyncTrickle,
    Async,
    /// The async reader fed one byte per poll, with a pending poll between
    /// each: exercises resuming in the middle of every token.
    AsyncTrickle,
}

pub(super) const ALL: [Impl; 4] = [
    Impl::Sync,
    Impl::SyncTrickle,
    Impl::Async,
    Impl::AsyncTrickle,
];

impl Impl {
    /// Writes `tree` as a NAR.
    pub(super) fn write(self, tree: &Tree) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            Impl::Sync | Impl::SyncTrickle => write_sync(writer::open(&mut out)?, tree)?,
            Impl::Async | Impl::AsyncTrickle => {
                block_on(async { write_async(writer::r#async::open(&mut out).await?, tree).await })?
            }
        }
        Ok(out)
    }

    /// Reads a NAR into a tree, returning it with the bytes left unread.
    pub(super) fn read(self, nar: &[u8]) -> io::Result<(Tree, Vec<u8>)> {
        match self {
            Impl::Sync => {
                let mut input = nar;
                let tree = read_sync(reader::open(&mut input)?)?;
                Ok((tree, input.to_vec()))
            }
            Impl::SyncTrickle => {
                let mut input = Trickle::new(nar);
                let tree = read_sync(reader::open(&mut input)?)?;
                Ok((tree, input.data.to_vec()))
            }
            Impl::Async => block_on(async {
                let mut input = nar;
                let tree = read_async(reader::r#async::open(&mut input).await?).await?;
                Ok((tree, input.to_vec()))
            }),
            Impl::AsyncTrickle => block_on(async {
                let mut input = Trickle::new(nar);
                let tree = read_async(reader::r#async::open(&mut input).await?).await?;
                Ok((tree, input.data.to_vec()))
            }),
        }
    }

    /// Streams a NAR from the reader straight into the writer.
    pub(super) fn copy(self, nar: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            Impl::Sync => copy_sync(reader::open(&mut &nar[..])?, writer::open(&mut out)?)?,
            Impl::SyncTrickle => copy_sync(
                reader::open(&mut Trickle::new(nar))?,
                writer::open(&mut out)?,
            )?,
            Impl::Async => block_on(async {
                let mut input = nar;
                let node = reader::r#async::open(&mut input).await?;
                copy_async(node, writer::r#async::open(&mut out).await?).await
            })?,
            Impl::AsyncTrickle => block_on(async {
                let mut input = Trickle::new(nar);
                let node = reader::r#async::open(&mut input).await?;
                copy_async(node, writer::r#async::open(&mut out).await?).await
            })?,
        }
        Ok(out)
    }
}

pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
        .block_on(future)
}

fn write_sync<W: Write + ?Sized>(node: writer::Node<'_, W>, tree: &Tree) -> io::Result<()> {
    match tree {
        Tree::File {
            executable,
            contents,
        } => node.file(*executable, contents.len() as u64, &mut &contents[..]),
        Tree::Symlink(target) => node.symlink(target),
        Tree::Directory(entries) => {
            let mut dir = node.directory()?;
            for (name, child) in entries {
                write_sync(dir.entry(name)?, child)?;
            }
            dir.close()
        }
    }
}

async fn write_async<W: AsyncWrite + Unpin + ?Sized>(
    node: writer::r#async::Node<'_, W>,
    tree: &Tree,
) -> io::Result<()> {
    match tree {
        Tree::File {
            executable,
            contents,
        } => {
            node.file(*executable, contents.len() as u64, &mut &contents[..])
                .await
        }
        Tree::Symlink(target) => node.symlink(target).await,
        Tree::Directory(entries) => {
            let mut dir = node.directory().await?;
            for (name, child) in entries {
                Box::pin(write_async(dir.entry(name).await?, child)).await?;
            }
            dir.close().await
        }
    }
}

fn read_sync<R: BufRead + ?Sized>(node: reader::Node<'_, R>) -> io::Result<Tree> {
    Ok(match node {
        reader::Node::Symlink { target } => Tree::Symlink(target),
        reader::Node::File {
            executable,
            mut reader,
        } => {
            let mut contents = Vec::new();
            reader.read_to_end(&mut contents)?;
            assert_eq!(contents.len() as u64, reader.len());
            Tree::File {
                executable,
                contents,
            }
        }
        reader::Node::Directory(mut dir) => {
            let mut entries = BTreeMap::new();
            while let Some(entry) = dir.next()? {
                entries.insert(entry.name.to_vec(), read_sync(entry.node)?);
            }
            Tree::Directory(entries)
        }
    })
}

async fn read_async<R: AsyncBufRead + Unpin + ?Sized>(
    node: reader::r#async::Node<'_, R>,
) -> io::Result<Tree> {
    use reader::r#async::Node;
    Ok(match node {
        Node::Symlink { target } => Tree::Symlink(target),
        Node::File {
            executable,
            mut reader,
        } => {
            let mut contents = Vec::new();
            reader.read_to_end(&mut contents).await?;
            assert_eq!(contents.len() as u64, reader.len());
            Tree::File {
                executable,
                contents,
            }
        }
        Node::Directory(mut dir) => {
            let mut entries = BTreeMap::new();
            while let Some(entry) = dir.next().await? {
                let name = entry.name.to_vec();
                entries.insert(name, Box::pin(read_async(entry.node)).await?);
            }
            Tree::Directory(entries)
        }
    })
}

fn copy_sync<R: BufRead + ?Sized, W: Write + ?Sized>(
    from: reader::Node<'_, R>,
    to: writer::Node<'_, W>,
) -> io::Result<()> {
    match from {
        reader::Node::Symlink { target } => to.symlink(&target),
        reader::Node::File { executable, reader } => {
            let len = reader.len();
            to.file(executable, len, &mut io::BufReader::new(reader))
        }
        reader::Node::Directory(mut from) => {
            let mut to = to.directory()?;
            while let Some(entry) = from.next()? {
                copy_sync(entry.node, to.entry(entry.name)?)?;
            }
            to.close()
        }
    }
}

async fn copy_async<R: AsyncBufRead + Unpin + ?Sized, W: AsyncWrite + Unpin + ?Sized>(
    from: reader::r#async::Node<'_, R>,
    to: writer::r#async::Node<'_, W>,
) -> io::Result<()> {
    use reader::r#async::Node;
    match from {
        Node::Symlink { target } => to.symlink(&target).await,
        Node::File { executable, reader } => {
            let len = reader.len();
            to.file(executable, len, &mut tokio::io::BufReader::new(reader))
                .await
        }
        Node::Directory(mut from) => {
            let mut to = to.directory().await?;
            while let Some(entry) = from.next().await? {
                Box::pin(copy_async(entry.node, to.entry(entry.name).await?)).await?;
            }
            to.close().await
        }
    }
}

/// A reader that hands out one byte at a time; async polls alternate
/// between pending and one byte.
pub(super) struct Trickle<'a> {
    data: &'a [u8],
    pending: bool,
}

impl<'a> Trickle<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Trickle {
            data,
            pending: false,
        }
    }

    /// The next byte, if any, if `room` allows.
    fn next_byte(&self, room: usize) -> &'a [u8] {
        &self.data[..self.data.len().min(room).min(1)]
    }

    /// Every other poll is pending (and wakes itself at once).
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> bool {
        self.pending = !self.pending;
        if self.pending {
            cx.waker().wake_by_ref();
        }
        self.pending
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let byte = self.next_byte(buf.len());
        buf[..byte.len()].copy_from_slice(byte);
        self.consume(byte.len());
        Ok(byte.len())
    }
}

impl BufRead for Trickle<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.next_byte(1))
    }

    fn consume(&mut self, amt: usize) {
        self.data = &self.data[amt..];
    }
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_pending(cx) {
            return Poll::Pending;
        }
        let byte = this.next_byte(buf.remaining());
        buf.put_slice(byte);
        this.data = &this.data[byte.len()..];
        Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for Trickle<'_> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.poll_pending(cx) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(this.next_byte(1)))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.data = &this.data[amt..];
    }
}
