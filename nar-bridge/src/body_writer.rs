//! [BodyWriter]: an [AsyncWrite] whose bytes become a response body, in
//! chunks sent over a bounded channel, so that a renderer writing into it
//! runs at most a few chunks ahead of the client, and each byte is copied
//! once on its way (into a chunk, which the connection then sends as is).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

/// Size of the chunks sent.
const CHUNK_SIZE: usize = 256 * 1024;
/// Chunks in flight between the writer and the connection.
const CHUNKS_IN_FLIGHT: usize = 4;

type Chunk = Result<Bytes, io::Error>;

pub struct BodyWriter {
    buffer: BytesMut,
    sender: PollSender<Chunk>,
}

/// A writer and the body that streams what is written to it. The body
/// ends when the writer is shut down or dropped; [BodyWriter::fail] ends it
/// with an error instead.
pub fn body_writer() -> (BodyWriter, Body) {
    let (sender, mut receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let writer = BodyWriter {
        buffer: BytesMut::with_capacity(CHUNK_SIZE),
        sender: PollSender::new(sender),
    };
    let chunks = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    (writer, Body::from_stream(chunks))
}

fn client_gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")
}

impl BodyWriter {
    /// Ends the body with `error`, so the client sees a failed transfer
    /// rather than a complete-looking one.
    pub async fn fail(self, error: io::Error) {
        if let Some(sender) = self.sender.get_ref() {
            // The client may be gone already; then nobody needs to know.
            let _ = sender.send(Err(error)).await;
        }
    }

    /// Sends the buffered bytes as one chunk.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.sender.poll_reserve(cx)).map_err(|_| client_gone())?;
        let chunk = self.buffer.split().freeze();
        self.sender
            .send_item(Ok(chunk))
            .map_err(|_| client_gone())?;
        self.buffer.reserve(CHUNK_SIZE);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for BodyWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.buffer.len() >= CHUNK_SIZE {
            ready!(self.poll_send(cx))?;
        }
        let n = buf.len().min(CHUNK_SIZE - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.buffer.is_empty() {
            ready!(self.poll_send(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        self.sender.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// Writes of any size arrive in order; shutting down ends the body.
    #[tokio::test]
    async fn writes_arrive_in_order() {
        let (mut writer, body) = body_writer();
        let data: Vec<u8> = (0..3 * CHUNK_SIZE + 17).map(|i| i as u8).collect();
        let reading = tokio::spawn(async move {
            let mut received = Vec::new();
            let mut chunks = body.into_data_stream();
            while let Some(chunk) = chunks.next().await {
                received.extend_from_slice(&chunk.expect("no error"));
            }
            received
        });
        for piece in data.chunks(1000) {
            writer.write_all(piece).await.expect("write");
        }
        writer.shutdown().await.expect("shutdown");
        assert!(data == reading.await.expect("reader"));
    }

    /// A failure after some bytes ends the body with an error, not
    /// with a clean end.
    #[tokio::test]
    async fn failure_ends_the_body_with_an_error() {
        let (mut writer, body) = body_writer();
        writer.write_all(b"the start").await.expect("write");
        writer.flush().await.expect("flush");
        writer.fail(io::Error::other("rendering broke")).await;
        let items: Vec<_> = body.into_data_stream().collect().await;
        assert_eq!(2, items.len());
        assert_eq!(b"the start", &items[0].as_ref().expect("data")[..]);
        assert!(items[1].is_err());
    }

    /// A writer whose client went away fails instead of blocking.
    #[tokio::test]
    async fn client_gone() {
        let (mut writer, body) = body_writer();
        drop(body);
        let data = vec![0; 2 * CHUNK_SIZE];
        let error = writer.write_all(&data).await.expect_err("nobody reads");
        assert_eq!(io::ErrorKind::BrokenPipe, error.kind());
    }
}
