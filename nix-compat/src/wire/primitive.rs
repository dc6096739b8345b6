//! Async reading and writing of the values built from `u64`s and bytes
//! packets: integers, booleans, strings and lists of strings.
//!
//! The sync twins are in [`crate::wire::sync`].

use std::io;
use std::ops::RangeInclusive;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::bytes::{into_string, list_element_size, read_bytes, write_bytes};

/// Reads a little-endian `u64`.
pub async fn read_u64<R>(reader: &mut R) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
{
    reader.read_u64_le().await
}

/// Writes a little-endian `u64`.
pub async fn write_u64<W>(writer: &mut W, value: u64) -> io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    writer.write_all(&value.to_le_bytes()).await
}

/// Reads a boolean, which is a `u64`; like Nix, anything but 0 is `true`.
pub async fn read_bool<R>(reader: &mut R) -> io::Result<bool>
where
    R: AsyncRead + Unpin + ?Sized,
{
    Ok(read_u64(reader).await? != 0)
}

/// Writes a boolean as the `u64` 1 or 0.
pub async fn write_bool<W>(writer: &mut W, value: bool) -> io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    write_u64(writer, u64::from(value)).await
}

/// Reads a bytes packet whose length lies in `allowed_size` and whose
/// payload must be UTF-8.
pub async fn read_string<R>(
    reader: &mut R,
    allowed_size: RangeInclusive<usize>,
) -> io::Result<String>
where
    R: AsyncRead + Unpin + ?Sized,
{
    Ok(into_string(read_bytes(reader, allowed_size).await?)?)
}

/// Writes a string as a bytes packet.
pub async fn write_string<W>(writer: &mut W, value: &str) -> io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    write_bytes(writer, value.as_bytes()).await
}

/// Reads a list of strings: a `u64` count, then that many strings, each
/// bounded by `allowed_size`, all together by `max_total` bytes (each
/// string counted with [`super::STRING_OVERHEAD`]).
///
/// The count is not trusted for allocation: the list grows as strings
/// arrive, each costing the peer at least 8 bytes.
pub async fn read_strings<R>(
    reader: &mut R,
    allowed_size: RangeInclusive<usize>,
    max_total: usize,
) -> io::Result<Vec<String>>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let count = read_u64(reader).await?;
    let mut strings = Vec::new();
    let mut used = 0;
    for _ in 0..count {
        let allowed = list_element_size(&allowed_size, used, max_total)?;
        let string = read_string(reader, allowed).await?;
        used += string.len() + super::STRING_OVERHEAD;
        strings.push(string);
    }
    Ok(strings)
}

/// Writes a list of strings: their count, then each string.
pub async fn write_strings<W, I, S>(writer: &mut W, strings: I) -> io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    let strings = strings.into_iter();
    write_u64(writer, strings.len() as u64).await?;
    for s in strings {
        write_string(writer, s.as_ref()).await?;
    }
    Ok(())
}
