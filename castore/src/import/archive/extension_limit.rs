//! [ExtensionLimit]: refuses GNU long-name/long-link and PAX records larger
//! than [MAX_EXTENSION_LEN] before the tar reader reads them.
//!
//! The tar reader reads such a record whole into memory, at whatever size
//! its header declares, before it hands out the entry it describes: an
//! archive of a few kilobytes of gzip could make it allocate gigabytes.
//! So the decompressed stream passes through this reader, which follows
//! the archive's headers as the tar reader will (entry sizes, a PAX `size`
//! overriding the next entry's) and fails the read that brings a header
//! declaring too large a record. A header whose checksum does not match
//! ends the following: the tar reader refuses it anyway.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The longest GNU long-name/long-link or PAX record accepted: a path is
/// at most 4096 bytes, and PAX records of real archives (paths, times,
/// extended attributes) stay far below this.
pub const MAX_EXTENSION_LEN: u64 = 1024 * 1024;

const BLOCK: usize = 512;

/// A header declared an extension record above [MAX_EXTENSION_LEN]. Carried
/// inside the [io::Error] the tar reader passes on.
#[derive(Debug, thiserror::Error)]
#[error("a {kind} record of {size} bytes, more than {MAX_EXTENSION_LEN}")]
pub struct ExtensionTooLong {
    pub kind: &'static str,
    pub size: u64,
}

/// See the module documentation.
pub struct ExtensionLimit<R> {
    inner: R,
    header: [u8; BLOCK],
    /// Bytes of `header` read so far.
    filled: usize,
    /// Bytes of entry data (with padding) before the next header.
    skip: u64,
    /// The data (with padding) of the PAX record being read, and its
    /// length without padding, to find its `size`.
    pax: Option<(Vec<u8>, usize)>,
    /// The `size` of the last PAX record, for the next entry.
    pax_size: Option<u64>,
    /// The end of the archive, or a header the tar reader will refuse.
    done: bool,
}

impl<R> ExtensionLimit<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            header: [0; BLOCK],
            filled: 0,
            skip: 0,
            pax: None,
            pax_size: None,
            done: false,
        }
    }

    /// Follows the archive through `data`, the next bytes of the stream.
    fn follow(&mut self, mut data: &[u8]) -> Result<(), ExtensionTooLong> {
        while !data.is_empty() && !self.done {
            if self.skip > 0 {
                let n = usize::try_from(self.skip).map_or(data.len(), |skip| skip.min(data.len()));
                let (skipped, rest) = data.split_at(n);
                if let Some((pax, _)) = &mut self.pax {
                    pax.extend_from_slice(skipped);
                }
                self.skip -= n as u64;
                data = rest;
                self.end_of_data();
                continue;
            }
            let n = (BLOCK - self.filled).min(data.len());
            let (head, rest) = data.split_at(n);
            self.header[self.filled..self.filled + n].copy_from_slice(head);
            self.filled += n;
            data = rest;
            if self.filled == BLOCK {
                self.filled = 0;
                self.header_complete()?;
            }
        }
        Ok(())
    }

    fn header_complete(&mut self) -> Result<(), ExtensionTooLong> {
        let header = &self.header;
        let checksum: u32 = header[..148]
            .iter()
            .chain(&header[156..])
            .map(|b| u32::from(*b))
            .sum::<u32>()
            + 8 * 32;
        let (Some(size), Some(declared)) = (number(&header[124..136]), number(&header[148..156]))
        else {
            self.done = true;
            return Ok(());
        };
        if header.iter().all(|b| *b == 0) || u64::from(checksum) != declared {
            self.done = true;
            return Ok(());
        }
        let kind = match header[156] {
            b'L' => Some("GNU long name"),
            b'K' => Some("GNU long link"),
            b'x' => Some("PAX"),
            b'g' => Some("PAX global"),
            _ => None,
        };
        let size = match kind {
            Some(kind) if size > MAX_EXTENSION_LEN => return Err(ExtensionTooLong { kind, size }),
            Some(_) => size,
            None => self.pax_size.take().unwrap_or(size),
        };
        // The tar reader keeps a PAX record only from a ustar header.
        if header[156] == b'x' && &header[257..263] == b"ustar\0" && size > 0 {
            // At most MAX_EXTENSION_LEN, checked above.
            let len = usize::try_from(size).unwrap_or(0);
            self.pax = Some((Vec::with_capacity(len), len));
        }
        self.skip = size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64);
        self.end_of_data();
        Ok(())
    }

    /// At the end of an entry's data, a PAX record read is parsed.
    fn end_of_data(&mut self) {
        if self.skip == 0
            && let Some((pax, len)) = self.pax.take()
        {
            self.pax_size = pax.get(..len).and_then(pax_size);
        }
    }
}

/// A numeric header field: octal digits between spaces and NULs, or
/// big-endian base-256 if its first byte has the high bit set. `None` if
/// malformed (the tar reader refuses the header then).
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let (high, low) = field.split_at(field.len().saturating_sub(8));
        if high.iter().skip(1).any(|b| *b != 0) || high.first().is_some_and(|b| b & 0x7f != 0) {
            return Some(u64::MAX);
        }
        return Some(low.iter().fold(0, |n, b| (n << 8) | u64::from(*b)));
    }
    let digits = field.trim_ascii_start();
    let end = digits
        .iter()
        .position(|b| *b == 0 || *b == b' ')
        .unwrap_or(digits.len());
    let digits = std::str::from_utf8(&digits[..end]).ok()?;
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// The `size` of a PAX record's `LEN key=value\n` lines, if it has one.
fn pax_size(pax: &[u8]) -> Option<u64> {
    let mut rest = pax;
    let mut size = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        let record = rest.get(space + 1..len)?;
        rest = &rest[len..];
        let record = record.strip_suffix(b"\n")?;
        if let Some(value) = record.strip_prefix(b"size=") {
            size = std::str::from_utf8(value).ok()?.parse().ok();
        }
    }
    size
}

impl<R: AsyncRead + Unpin> AsyncRead for ExtensionLimit<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        futures::ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let this = &mut *self;
        let result = this.follow(&buf.filled()[before..]);
        Poll::Ready(result.map_err(io::Error::other))
    }
}
