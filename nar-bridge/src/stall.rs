//! Dropping clients that stop reading.
//!
//! A client that requests a NAR and then reads nothing holds a connection,
//! a render in progress and its buffers for as long as it likes. Every
//! accepted connection is wrapped in a [StallGuard], which fails a write
//! to the client that could not make progress for the stall timeout; hyper
//! then closes the connection, which ends the response and with it the
//! render feeding it. Reads are not guarded: an idle keep-alive connection
//! waits for its next request, and uploads have their own idle timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// A TCP listener for `axum::serve` whose connections are [StallGuard]s.
pub struct StallGuardListener {
    inner: TcpListener,
    timeout: Duration,
}

impl StallGuardListener {
    pub fn new(inner: TcpListener, timeout: Duration) -> Self {
        Self { inner, timeout }
    }
}

impl axum::serve::Listener for StallGuardListener {
    type Io = StallGuard<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (StallGuard::new(stream, self.timeout), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection whose writes fail with [io::ErrorKind::TimedOut] once the
/// peer has taken nothing for `timeout`.
pub struct StallGuard<S> {
    inner: S,
    timeout: Duration,
    /// Armed while a write waits for the peer.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> StallGuard<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// After the inner stream answered a write with `Pending`: starts the
    /// clock (its waker is registered too), or reports that it ran out.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(sleep.as_mut().poll(cx));
        tracing::info!(?timeout, "client stopped reading, dropping the connection");
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        ))
    }

    fn progressed<T>(&mut self, result: Poll<T>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(value) => {
                self.stalled = None;
                Poll::Ready(Ok(value))
            }
            Poll::Pending => self.poll_stalled(cx).map(Err),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(written)) => this.progressed(Poll::Ready(written), cx),
            Poll::Pending => this.progressed(Poll::<usize>::Pending, cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(written)) => this.progressed(Poll::Ready(written), cx),
            Poll::Pending => this.progressed(Poll::<usize>::Pending, cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(())) => this.progressed(Poll::Ready(()), cx),
            Poll::Pending => this.progressed(Poll::<()>::Pending, cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A peer that reads nothing: writes fill the pipe, then fail once the
    /// timeout passed; a peer that reads keeps the writer going.
    #[tokio::test(start_paused = true)]
    async fn stalled_peer_times_out() {
        let (near, _far) = tokio::io::duplex(1024);
        let mut guarded = StallGuard::new(near, Duration::from_secs(5));
        let error = guarded
            .write_all(&[0; 4096])
            .await
            .expect_err("the peer reads nothing");
        assert_eq!(io::ErrorKind::TimedOut, error.kind());

        let (near, mut far2) = tokio::io::duplex(1024);
        let mut guarded = StallGuard::new(near, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut far2, &mut sink)
                .await
                .map(|_| sink.len())
        });
        guarded
            .write_all(&[0; 4096])
            .await
            .expect("read by the peer");
        guarded.shutdown().await.expect("shutdown");
        drop(guarded);
        assert_eq!(4096, reader.await.expect("task").expect("read"));
    }
}
