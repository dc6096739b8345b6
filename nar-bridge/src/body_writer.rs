//! A response body fed by an [AsyncWrite] ([BodyWriter]): the store's
//! [ChunkWriter], whose chunks the connection sends as they are, so that a
//! compressor writing into it runs at most a few chunks ahead of the
//! client.

use std::io;

use axum::body::Body;
use tokio::sync::mpsc;
use tvix_store::nar::ChunkWriter;

/// Chunks in flight between the writer and the connection.
const CHUNKS_IN_FLIGHT: usize = 4;

/// What writes a body: failing it ([ChunkWriter::fail]) ends the body with
/// an I/O error, so the client sees a broken transfer.
pub type BodyWriter = ChunkWriter<io::Error>;

/// A writer and the body that streams what is written to it. The body
/// ends when the writer is shut down or dropped; [ChunkWriter::fail] ends
/// it with an error instead.
pub fn body_writer() -> (BodyWriter, Body) {
    let (sender, mut receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let chunks = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    (ChunkWriter::new(sender), Body::from_stream(chunks))
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
        let data: Vec<u8> = (0..3 * 256 * 1024 + 17).map(|i| i as u8).collect();
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
        let data = vec![0; 16 * 1024 * 1024];
        let error = writer.write_all(&data).await.expect_err("nobody reads");
        assert_eq!(io::ErrorKind::BrokenPipe, error.kind());
    }
}
