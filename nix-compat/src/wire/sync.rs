//! Blocking ([`std::io`]) twins of [`crate::wire::bytes`] and
//! [`crate::wire::primitive`], for callers without an async runtime.
//!
//! They share the checks and errors of the async code and are tested
//! against the same tables, so both accept and reject exactly the same bytes.

use std::io::{self, Read, Write};
use std::ops::RangeInclusive;

use super::bytes::{
    check_len, check_padding, check_payload_complete, into_string, padding_for, widen,
};

/// Reads a little-endian `u64`.
pub fn read_u64<R: Read + ?Sized>(reader: &mut R) -> io::Result<u64> {
    let mut buf = [0; 8];
    reader.read_exact(&mut buf)?;
    Ok(u64::from_le_bytes(buf))
}

/// Writes a little-endian `u64`.
pub fn write_u64<W: Write + ?Sized>(writer: &mut W, value: u64) -> io::Result<()> {
    writer.write_all(&value.to_le_bytes())
}

/// Reads a boolean, which is a `u64`; like Nix, anything but 0 is `true`.
pub fn read_bool<R: Read + ?Sized>(reader: &mut R) -> io::Result<bool> {
    Ok(read_u64(reader)? != 0)
}

/// Writes a boolean as the `u64` 1 or 0.
pub fn write_bool<W: Write + ?Sized>(writer: &mut W, value: bool) -> io::Result<()> {
    write_u64(writer, u64::from(value))
}

/// Reads one bytes packet whose length must lie in `allowed_size`; see
/// [`crate::wire::bytes::read_bytes`].
pub fn read_bytes<R: Read + ?Sized>(
    reader: &mut R,
    allowed_size: RangeInclusive<usize>,
) -> io::Result<Vec<u8>> {
    let len = read_u64(reader)?;
    check_len(len, &widen(&allowed_size))?;

    let mut payload = Vec::new();
    (&mut *reader).take(len).read_to_end(&mut payload)?;
    check_payload_complete(len, payload.len() as u64)?;

    let mut padding = Vec::new();
    let expected = padding_for(len).len() as u64;
    (&mut *reader).take(expected).read_to_end(&mut padding)?;
    check_padding(len, &padding)?;

    Ok(payload)
}

/// Writes `bytes` as one bytes packet: length, payload, padding.
pub fn write_bytes<W: Write + ?Sized>(writer: &mut W, bytes: &[u8]) -> io::Result<()> {
    let len = bytes.len() as u64;
    write_u64(writer, len)?;
    writer.write_all(bytes)?;
    writer.write_all(padding_for(len))
}

/// Reads a bytes packet whose length lies in `allowed_size` and whose
/// payload must be UTF-8.
pub fn read_string<R: Read + ?Sized>(
    reader: &mut R,
    allowed_size: RangeInclusive<usize>,
) -> io::Result<String> {
    Ok(into_string(read_bytes(reader, allowed_size)?)?)
}

/// Writes a string as a bytes packet.
pub fn write_string<W: Write + ?Sized>(writer: &mut W, value: &str) -> io::Result<()> {
    write_bytes(writer, value.as_bytes())
}

/// Reads a list of strings: a `u64` count, then that many strings, each
/// bounded by `allowed_size`, all together by `max_total` bytes (each
/// string counted with [`super::STRING_OVERHEAD`]). The list grows as
/// strings arrive, never by the announced count.
pub fn read_strings<R: Read + ?Sized>(
    reader: &mut R,
    allowed_size: RangeInclusive<usize>,
    max_total: usize,
) -> io::Result<Vec<String>> {
    let count = read_u64(reader)?;
    let mut strings = Vec::new();
    let mut used = 0;
    for _ in 0..count {
        let allowed = crate::wire::bytes::list_element_size(&allowed_size, used, max_total)?;
        let string = read_string(reader, allowed)?;
        used += string.len() + super::STRING_OVERHEAD;
        strings.push(string);
    }
    Ok(strings)
}

/// Writes a list of strings: their count, then each string.
pub fn write_strings<W, I, S>(writer: &mut W, strings: I) -> io::Result<()>
where
    W: Write + ?Sized,
    I: IntoIterator<Item = S>,
    I::IntoIter: ExactSizeIterator,
    S: AsRef<str>,
{
    let strings = strings.into_iter();
    write_u64(writer, strings.len() as u64)?;
    for s in strings {
        write_string(writer, s.as_ref())?;
    }
    Ok(())
}
