//! Bytes packets: a `u64` length, the payload, zero padding to a multiple of 8.
//!
//! [`padding_len`] and the checks every reader applies live here, so that
//! the sync readers in [`crate::wire::sync`], [`read_bytes`] and the
//! streaming [`BytesReader`] all reject the same inputs with the same errors.

use std::ops::RangeInclusive;

use super::WireError;

#[cfg(feature = "async")]
mod reader;
#[cfg(feature = "async")]
mod writer;

#[cfg(feature = "async")]
pub use async_io::{read_bytes, write_bytes};
#[cfg(feature = "async")]
pub use reader::BytesReader;
#[cfg(feature = "async")]
pub use writer::BytesWriter;

/// Enough zeroes for the longest padding (7 bytes).
const ZEROES: [u8; 7] = [0; 7];

/// The number of zero bytes that follow a payload of `len` bytes, bringing
/// the packet to the next multiple of 8.
///
/// Defined for every `u64`: `len % 8` is below 8, so nothing can overflow,
/// not even for lengths near `u64::MAX` that no real packet has.
pub const fn padding_len(len: u64) -> u8 {
    ((8 - len % 8) % 8) as u8
}

/// The padding to write after a payload of `len` bytes.
pub(crate) fn padding_for(len: u64) -> &'static [u8] {
    // `padding_len` is at most 7, so the range is always inside `ZEROES`.
    &ZEROES[..usize::from(padding_len(len))]
}

/// Widens a caller's `usize` bounds to the `u64` of the wire (lossless on
/// every platform Rust supports).
pub(crate) fn widen(allowed: &RangeInclusive<usize>) -> RangeInclusive<u64> {
    (*allowed.start() as u64)..=(*allowed.end() as u64)
}

/// Rejects a length prefix outside the caller's bounds, before any payload
/// is read or allocated.
/// The allowed size of the next string of a list that has used `used` of
/// `max_total` bytes (see [`crate::wire::STRING_OVERHEAD`]), or the error
/// if not even its bookkeeping fits.
pub(crate) fn list_element_size(
    allowed_size: &RangeInclusive<usize>,
    used: usize,
    max_total: usize,
) -> Result<RangeInclusive<usize>, WireError> {
    let remaining = max_total
        .checked_sub(used)
        .and_then(|rest| rest.checked_sub(crate::wire::STRING_OVERHEAD))
        .ok_or(WireError::ListTooLarge { max_total })?;
    let end = (*allowed_size.end()).min(remaining);
    if end < *allowed_size.start() {
        return Err(WireError::ListTooLarge { max_total });
    }
    Ok(*allowed_size.start()..=end)
}

pub(crate) fn check_len(len: u64, allowed: &RangeInclusive<u64>) -> Result<(), WireError> {
    if allowed.contains(&len) {
        Ok(())
    } else {
        Err(WireError::LengthOutOfRange {
            len,
            min: *allowed.start(),
            max: *allowed.end(),
        })
    }
}

/// Rejects a payload cut short by the end of the input.
pub(crate) fn check_payload_complete(len: u64, received: u64) -> Result<(), WireError> {
    if received == len {
        Ok(())
    } else {
        Err(WireError::TruncatedPayload { len, received })
    }
}

/// Checks the padding that followed a payload of `len` bytes: all of it
/// must have arrived, and all of it must be zero.
pub(crate) fn check_padding(len: u64, padding: &[u8]) -> Result<(), WireError> {
    let expected = padding_len(len);
    if padding.len() != usize::from(expected) {
        return Err(WireError::TruncatedPadding {
            len,
            expected,
            // Shorter than `expected`, so it fits.
            received: padding.len() as u8,
        });
    }
    if padding.iter().any(|&b| b != 0) {
        return Err(WireError::NonZeroPadding {
            len,
            padding: padding.to_vec(),
        });
    }
    Ok(())
}

/// Turns the payload of a string packet into a `String`, which on this wire
/// must be UTF-8.
pub(crate) fn into_string(payload: Vec<u8>) -> Result<String, WireError> {
    String::from_utf8(payload).map_err(|err| WireError::InvalidUtf8 {
        len: err.as_bytes().len(),
        valid_up_to: err.utf8_error().valid_up_to(),
    })
}

#[cfg(feature = "async")]
mod async_io {
    use std::io;
    use std::ops::RangeInclusive;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::{check_len, check_padding, check_payload_complete, padding_for, widen};

    /// Reads one bytes packet whose length must lie in `allowed_size`.
    ///
    /// The length is checked before anything else is read, and the buffer
    /// grows only as payload arrives, so a peer announcing a huge packet and
    /// then hanging up costs nothing. Non-zero padding is an error.
    pub async fn read_bytes<R>(
        reader: &mut R,
        allowed_size: RangeInclusive<usize>,
    ) -> io::Result<Vec<u8>>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        let len = reader.read_u64_le().await?;
        check_len(len, &widen(&allowed_size))?;

        let mut payload = Vec::new();
        (&mut *reader).take(len).read_to_end(&mut payload).await?;
        check_payload_complete(len, payload.len() as u64)?;

        let mut padding = Vec::new();
        let expected = padding_for(len).len() as u64;
        (&mut *reader)
            .take(expected)
            .read_to_end(&mut padding)
            .await?;
        check_padding(len, &padding)?;

        Ok(payload)
    }

    /// Writes `bytes` as one bytes packet: length, payload, padding.
    pub async fn write_bytes<W>(writer: &mut W, bytes: &[u8]) -> io::Result<()>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let len = bytes.len() as u64;
        writer.write_all(&len.to_le_bytes()).await?;
        writer.write_all(bytes).await?;
        writer.write_all(padding_for(len)).await
    }
}
