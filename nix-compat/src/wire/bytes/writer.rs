//! [`BytesWriter`]: one bytes packet of a declared length, as an [`AsyncWrite`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::AsyncWrite;

use super::padding_for;
use crate::wire::WireError;

/// Writes one bytes packet whose length is declared up front, so a payload
/// can be streamed without being buffered.
///
/// The length prefix goes out before the first payload byte, the payload is
/// passed through, and [`poll_shutdown`](AsyncWrite::poll_shutdown) writes
/// the padding. Writing more than declared fails at once (nothing of the
/// offending write is sent); shutting down after fewer fails too, since
/// the packet can then never be completed.
///
/// Shutting down finishes the packet and flushes, but does not shut down the
/// underlying writer: on a daemon connection more messages follow. Use
/// [`into_inner`](Self::into_inner) to carry on with it.
#[derive(Debug)]
pub struct BytesWriter<W> {
    inner: W,
    declared: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    /// `written` bytes of the length prefix are out.
    Header { written: usize },
    /// `written` bytes of the payload are out.
    Payload { written: u64 },
    /// The payload is complete; `written` bytes of padding are out.
    Padding { written: usize },
    /// The packet is complete.
    Done,
}

impl<W: AsyncWrite + Unpin> BytesWriter<W> {
    /// Prepares a packet of exactly `declared` payload bytes on `inner`.
    /// Nothing is written until the first poll.
    pub fn new(inner: W, declared: u64) -> Self {
        Self {
            inner,
            declared,
            state: State::Header { written: 0 },
        }
    }

    /// Gives back the underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Drives the length prefix out, if it is not yet.
    fn poll_header(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let header = self.declared.to_le_bytes();
        while let State::Header { written } = &mut self.state {
            match header.get(*written..) {
                Some(rest) if !rest.is_empty() => {
                    let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    *written += n;
                }
                _ => self.state = State::Payload { written: 0 },
            }
        }
        Poll::Ready(Ok(()))
    }

    /// How many payload bytes have been written so far.
    fn payload_written(&self) -> u64 {
        match self.state {
            State::Header { .. } => 0,
            State::Payload { written } => written,
            State::Padding { .. } | State::Done => self.declared,
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for BytesWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let attempted = this.payload_written().saturating_add(buf.len() as u64);
        if attempted > this.declared {
            return Poll::Ready(Err(WireError::TooManyBytes {
                declared: this.declared,
                attempted,
            }
            .into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_header(cx))?;
        // A non-empty write that fits can only happen before the payload is
        // complete, so the state is `Payload` here.
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        if let State::Payload { written } = &mut this.state {
            *written += n as u64;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                // An empty packet still needs its length prefix.
                State::Header { .. } => ready!(this.poll_header(cx))?,
                State::Payload { written } => {
                    if *written != this.declared {
                        return Poll::Ready(Err(WireError::TooFewBytes {
                            declared: this.declared,
                            written: *written,
                        }
                        .into()));
                    }
                    this.state = State::Padding { written: 0 };
                }
                State::Padding { written } => {
                    let padding = padding_for(this.declared);
                    match padding.get(*written..) {
                        Some(rest) if !rest.is_empty() => {
                            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, rest))?;
                            if n == 0 {
                                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                            }
                            *written += n;
                        }
                        _ => this.state = State::Done,
                    }
                }
                State::Done => return Pin::new(&mut this.inner).poll_flush(cx),
            }
        }
    }
}
