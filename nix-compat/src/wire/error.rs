//! The ways a wire value can be malformed, shared by the sync and async code.

use std::io;

use thiserror::Error;

/// Why a value read from (or written to) the wire is invalid.
///
/// Readers and writers return [`io::Error`] so they compose with the rest of
/// an I/O stack; the cause is a `WireError` inside it, reachable with
/// `err.get_ref().and_then(|e| e.downcast_ref::<WireError>())`. A plain
/// [`io::ErrorKind::UnexpectedEof`] without a `WireError` means the input
/// ended inside a fixed-size `u64`.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum WireError {
    /// The length prefix of a bytes packet is outside the caller's bounds.
    #[error("bytes packet of {len} bytes is outside the allowed size {min}..={max}")]
    LengthOutOfRange { len: u64, min: u64, max: u64 },
    /// The input ended inside the payload of a bytes packet.
    #[error("bytes packet of {len} bytes ended after {received} bytes of payload")]
    TruncatedPayload { len: u64, received: u64 },
    /// The input ended inside the padding of a bytes packet.
    #[error(
        "bytes packet of {len} bytes ended after {received} of its {expected} bytes of padding"
    )]
    TruncatedPadding {
        len: u64,
        expected: u8,
        received: u8,
    },
    /// Nix rejects padding that is not all zero, so do we.
    #[error("padding after a bytes packet of {len} bytes is not zero: {padding:02x?}")]
    NonZeroPadding { len: u64, padding: Vec<u8> },
    /// A list of strings holds more than the caller's total bound (each
    /// string counted with its bookkeeping, [`super::STRING_OVERHEAD`]).
    #[error("list of strings exceeds {max_total} bytes in total")]
    ListTooLarge { max_total: usize },
    /// A string field holds bytes that are not UTF-8.
    #[error("string of {len} bytes is not UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 { len: usize, valid_up_to: usize },
    /// A [`BytesWriter`](crate::wire::bytes::BytesWriter) was handed more
    /// bytes than it declared.
    #[error("bytes packet declared {declared} bytes, but {attempted} were written")]
    TooManyBytes { declared: u64, attempted: u64 },
    /// A [`BytesWriter`](crate::wire::bytes::BytesWriter) was shut down
    /// before all declared bytes were written.
    #[error("bytes packet declared {declared} bytes, but only {written} were written")]
    TooFewBytes { declared: u64, written: u64 },
}

impl From<WireError> for io::Error {
    fn from(err: WireError) -> Self {
        let kind = match err {
            WireError::LengthOutOfRange { .. }
            | WireError::NonZeroPadding { .. }
            | WireError::InvalidUtf8 { .. }
            | WireError::ListTooLarge { .. } => io::ErrorKind::InvalidData,
            WireError::TruncatedPayload { .. } | WireError::TruncatedPadding { .. } => {
                io::ErrorKind::UnexpectedEof
            }
            // The caller broke its own promise; the peer is not at fault.
            WireError::TooManyBytes { .. } | WireError::TooFewBytes { .. } => {
                io::ErrorKind::InvalidInput
            }
        };
        io::Error::new(kind, err)
    }
}
