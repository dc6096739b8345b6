//! The NAR writer over [std::io::Write].

use std::io::{self, BufRead, Write};

use super::{Entries, Error, file_start, mark_finished, padding};
use crate::nar::rules;
use crate::nar::wire::{SEQ_ENTRY, SEQ_HEADER, SEQ_NODE, SEQ_SYMLINK, TOK_CLOSE, TOK_DIRECTORY};

/// Starts a NAR: writes the header and returns the root node to fill in.
pub fn open<W: Write + ?Sized>(writer: &mut W) -> io::Result<Node<'_, W>> {
    writer.write_all(&SEQ_HEADER)?;
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

impl<'a, W: Write + ?Sized> Node<'a, W> {
    /// Writes a symlink to `target`.
    pub fn symlink(self, target: &[u8]) -> io::Result<()> {
        rules::check_target(target).map_err(Error::Target)?;
        self.writer.write_all(&SEQ_SYMLINK)?;
        write_str(self.writer, target)?;
        self.writer.write_all(&TOK_CLOSE)?;
        self.finish();
        Ok(())
    }

    /// Writes a file of `size` bytes, streamed from `reader`, which must
    /// hold exactly that many (wrap a longer stream in [io::Read::take]).
    ///
    /// Copies go straight from `reader`'s buffer to the writer, so a large
    /// [io::BufReader] capacity means few, large writes.
    pub fn file<R: BufRead + ?Sized>(
        self,
        executable: bool,
        size: u64,
        reader: &mut R,
    ) -> io::Result<()> {
        self.writer.write_all(file_start(executable))?;
        self.writer.write_all(&size.to_le_bytes())?;
        let mut left = size;
        while left > 0 {
            let buf = match reader.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => result?,
            };
            if buf.is_empty() {
                return Err(Error::ContentsTooShort {
                    declared: size,
                    read: size - left,
                }
                .into());
            }
            let n = usize::try_from(left).map_or(buf.len(), |left| left.min(buf.len()));
            self.writer.write_all(&buf[..n])?;
            reader.consume(n);
            left -= n as u64;
        }
        if !reader.fill_buf()?.is_empty() {
            return Err(Error::ContentsTooLong { declared: size }.into());
        }
        self.writer.write_all(padding(size))?;
        self.writer.write_all(&TOK_CLOSE)?;
        self.finish();
        Ok(())
    }

    /// Writes a file of `size` bytes whose contents `contents` writes to
    /// the writer itself, returning how many bytes it wrote. For writers
    /// that take contents without a copy (pieces of a read buffer handed
    /// on as they are), which going through a [BufRead] would force.
    pub fn file_with<F>(self, executable: bool, size: u64, contents: F) -> io::Result<()>
    where
        F: FnOnce(&mut W) -> io::Result<u64>,
    {
        self.writer.write_all(file_start(executable))?;
        self.writer.write_all(&size.to_le_bytes())?;
        let written = contents(self.writer)?;
        if written < size {
            return Err(Error::ContentsTooShort {
                declared: size,
                read: written,
            }
            .into());
        }
        if written > size {
            return Err(Error::ContentsTooLong { declared: size }.into());
        }
        self.writer.write_all(padding(size))?;
        self.writer.write_all(&TOK_CLOSE)?;
        self.finish();
        Ok(())
    }

    /// Starts a directory, whose entries are then added in order.
    pub fn directory(self) -> io::Result<Directory<'a, W>> {
        self.writer.write_all(&TOK_DIRECTORY)?;
        Ok(Directory {
            writer: self.writer,
            finished: self.finished,
            entries: Entries::default(),
        })
    }

    fn finish(self) {
        mark_finished(self.finished);
    }
}

/// A directory being written.
#[must_use = "an unclosed directory leaves the NAR incomplete"]
pub struct Directory<'a, W: ?Sized> {
    writer: &'a mut W,
    finished: Option<&'a mut bool>,
    entries: Entries,
}

impl<W: Write + ?Sized> Directory<'_, W> {
    /// Adds an entry named `name`, returning its node to fill in.
    ///
    /// Names must be valid and strictly ascending by bytes, and the
    /// previous entry's node must have been written; if not, nothing is
    /// written and the directory stays usable.
    pub fn entry(&mut self, name: &[u8]) -> io::Result<Node<'_, W>> {
        if self.entries.admit(name)? {
            self.writer.write_all(&TOK_CLOSE)?;
        }
        self.writer.write_all(&SEQ_ENTRY)?;
        write_str(self.writer, name)?;
        self.writer.write_all(&SEQ_NODE)?;
        Ok(Node {
            writer: &mut *self.writer,
            finished: Some(&mut self.entries.node_finished),
        })
    }

    /// Ends the directory; its last entry's node must have been written.
    pub fn close(self) -> io::Result<()> {
        if self.entries.end()? {
            self.writer.write_all(&TOK_CLOSE)?;
        }
        self.writer.write_all(&TOK_CLOSE)?;
        mark_finished(self.finished);
        Ok(())
    }
}

/// Writes a short string (a name or a target) in its padded wire form.
fn write_str<W: Write + ?Sized>(writer: &mut W, s: &[u8]) -> io::Result<()> {
    writer.write_all(&(s.len() as u64).to_le_bytes())?;
    writer.write_all(s)?;
    writer.write_all(padding(s.len() as u64))
}
