//! [`BytesReader`]: the payload of one bytes packet as an [`AsyncRead`].

use std::io;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::{check_len, check_padding, padding_len};
use crate::wire::WireError;

/// Streams the payload of one bytes packet, without buffering it.
///
/// The packet's last 8-byte block (the end of the payload plus its padding)
/// is read whole and checked before any of its payload bytes are handed
/// out. So a reader that takes exactly [`len`](Self::len) bytes has also
/// consumed and validated the padding, and never sees the final byte of a
/// packet whose padding is bad or missing.
#[derive(Debug)]
pub struct BytesReader<R> {
    inner: R,
    len: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Passing through the payload before the last block; `remaining` bytes
    /// of it are still to come.
    Body { remaining: u64 },
    /// Collecting the last block; `filled` of its 8 bytes have arrived.
    Tail { block: [u8; 8], filled: usize },
    /// The last block is valid; its payload bytes `pos..end` are still to
    /// be handed out.
    Release {
        block: [u8; 8],
        pos: usize,
        end: usize,
    },
}

impl<R: AsyncRead + Unpin> BytesReader<R> {
    /// Reads the length prefix and checks it against `allowed_size`.
    ///
    /// The bound is a `u64` because nothing is allocated for the payload;
    /// it only limits what the caller is willing to stream.
    pub async fn new(mut inner: R, allowed_size: RangeInclusive<u64>) -> io::Result<Self> {
        let len = inner.read_u64_le().await?;
        check_len(len, &allowed_size)?;
        let state = if len == 0 {
            // No payload and no padding: there is no last block to read.
            State::Release {
                block: [0; 8],
                pos: 0,
                end: 0,
            }
        } else {
            State::Body {
                remaining: len - tail_payload_len(len) as u64,
            }
        };
        Ok(Self { inner, len, state })
    }

    /// The length of the payload, as announced by the packet.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Gives back the underlying reader, positioned wherever reading stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// How many payload bytes the last 8-byte block of a non-empty packet of
/// `len` bytes holds: 1 to 8.
fn tail_payload_len(len: u64) -> usize {
    ((len - 1) % 8 + 1) as usize
}

/// The error for input that ended after `filled` bytes of the last block,
/// whose first `payload` bytes belong to the payload.
fn truncated_tail(len: u64, payload: usize, filled: usize) -> WireError {
    if filled < payload {
        WireError::TruncatedPayload {
            len,
            received: len - (payload - filled) as u64,
        }
    } else {
        WireError::TruncatedPadding {
            len,
            expected: padding_len(len),
            received: (filled - payload) as u8,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BytesReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let len = this.len;
        loop {
            match &mut this.state {
                State::Body { remaining: 0 } => {
                    this.state = State::Tail {
                        block: [0; 8],
                        filled: 0,
                    };
                }
                State::Body { remaining } => {
                    if buf.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let want = (*remaining).min(buf.remaining() as u64) as usize;
                    let mut limited = ReadBuf::new(buf.initialize_unfilled_to(want));
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
                    let got = limited.filled().len();
                    if got == 0 {
                        let body_len = len - tail_payload_len(len) as u64;
                        return Poll::Ready(Err(WireError::TruncatedPayload {
                            len,
                            received: body_len - *remaining,
                        }
                        .into()));
                    }
                    *remaining -= got as u64;
                    buf.advance(got);
                    return Poll::Ready(Ok(()));
                }
                State::Tail { block, filled } => {
                    let payload = tail_payload_len(len);
                    while *filled < block.len() {
                        let mut rest = ReadBuf::new(&mut block[*filled..]);
                        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rest))?;
                        let got = rest.filled().len();
                        if got == 0 {
                            return Poll::Ready(Err(truncated_tail(len, payload, *filled).into()));
                        }
                        *filled += got;
                    }
                    check_padding(len, &block[payload..])?;
                    let block = *block;
                    this.state = State::Release {
                        block,
                        pos: 0,
                        end: payload,
                    };
                }
                State::Release { block, pos, end } => {
                    let n = (*end - *pos).min(buf.remaining());
                    buf.put_slice(&block[*pos..*pos + n]);
                    *pos += n;
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}
