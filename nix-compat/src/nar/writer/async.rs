//! The NAR writer over [tokio::io::AsyncWrite]: the same checks and output
//! as the sync writer in [crate::nar::writer], with `async` methods.
//!
//! No method is cancellation safe: a future dropped midway leaves the
//! archive in the middle of a token, so the writer must then be discarded.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use super::{Entries, Error, file_start, mark_finished, padding};
use crate::nar::rules;
use crate::nar::wire::{SEQ_ENTRY, SEQ_HEADER, SEQ_NODE, SEQ_SYMLINK, TOK_CLOSE, TOK_DIRECTORY};

/// Starts a NAR: writes the header and returns the root node to fill in.
pub async fn open<W: AsyncWrite + Unpin + ?Sized>(writer: &mut W) -> io::Result<Node<'_, W>> {
    writer.write_all(&SEQ_HEADER).await?;
    Ok(Node {
        writer,
        finished: None,
    })
}

/// A node still to be written: call exactly one of its methods.
#[must_use = "an unwritten node leaves the NAR incomplete"]
pub struct Node<'a, W: ?Sized> {
    writer: &'a mut W,
    /// Where to record that the node was written completely, for the
    /// directory holding it.
    finished: Option<&'a mut bool>,
}

impl<'a, W: AsyncWrite + Unpin + ?Sized> Node<'a, W> {
    /// Writes a symlink to `target`.
    pub async fn symlink(self, target: &[u8]) -> io::Result<()> {
        rules::check_target(target).map_err(Error::Target)?;
        self.writer.write_all(&SEQ_SYMLINK).await?;
        write_str(self.writer, target).await?;
        self.writer.write_all(&TOK_CLOSE).await?;
        mark_finished(self.finished);
        Ok(())
    }

    /// Writes a file of `size` bytes, streamed from `reader`, which must
    /// hold exactly that many (wrap a longer stream in
    /// [tokio::io::AsyncReadExt::take]).
    pub async fn file<R: AsyncBufRead + Unpin + ?Sized>(
        self,
        executable: bool,
        size: u64,
        reader: &mut R,
    ) -> io::Result<()> {
        self.writer.write_all(file_start(executable)).await?;
        self.writer.write_all(&size.to_le_bytes()).await?;
        let mut left = size;
        while left > 0 {
            let buf = reader.fill_buf().await?;
            if buf.is_empty() {
                return Err(Error::ContentsTooShort {
                    declared: size,
                    read: size - left,
                }
                .into());
            }
            let n = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
            self.writer.write_all(&buf[..n]).await?;
            reader.consume(n);
            left -= n as u64;
        }
        if !reader.fill_buf().await?.is_empty() {
            return Err(Error::ContentsTooLong { declared: size }.into());
        }
        self.writer.write_all(padding(size)).await?;
        self.writer.write_all(&TOK_CLOSE).await?;
        mark_finished(self.finished);
        Ok(())
    }

    /// Starts a directory, whose entries are then added in order.
    pub async fn directory(self) -> io::Result<Directory<'a, W>> {
        self.writer.write_all(&TOK_DIRECTORY).await?;
        Ok(Directory {
            writer: self.writer,
            finished: self.finished,
            entries: Entries::default(),
        })
    }
}

/// A directory being written.
#[must_use = "an unclosed directory leaves the NAR incomplete"]
pub struct Directory<'a, W: ?Sized> {
    writer: &'a mut W,
    finished: Option<&'a mut bool>,
    entries: Entries,
}

impl<W: AsyncWrite + Unpin + ?Sized> Directory<'_, W> {
    /// Adds an entry named `name`, returning its node to fill in.
    ///
    /// Names must be valid and strictly ascending by bytes, and the
    /// previous entry's node must have been written; if not, nothing is
    /// written and the directory stays usable.
    pub async fn entry(&mut self, name: &[u8]) -> io::Result<Node<'_, W>> {
        if self.entries.admit(name)? {
            self.writer.write_all(&TOK_CLOSE).await?;
        }
        self.writer.write_all(&SEQ_ENTRY).await?;
        write_str(self.writer, name).await?;
        self.writer.write_all(&SEQ_NODE).await?;
        Ok(Node {
            writer: &mut *self.writer,
            finished: Some(&mut self.entries.node_finished),
        })
    }

    /// Ends the directory; its last entry's node must have been written.
    pub async fn close(self) -> io::Result<()> {
        if self.entries.end()? {
            self.writer.write_all(&TOK_CLOSE).await?;
        }
        self.writer.write_all(&TOK_CLOSE).await?;
        mark_finished(self.finished);
        Ok(())
    }
}

/// Writes a short string (a name or a target) in its padded wire form.
async fn write_str<W: AsyncWrite + Unpin + ?Sized>(writer: &mut W, s: &[u8]) -> io::Result<()> {
    writer.write_all(&(s.len() as u64).to_le_bytes()).await?;
    writer.write_all(s).await?;
    writer.write_all(padding(s.len() as u64)).await
}
