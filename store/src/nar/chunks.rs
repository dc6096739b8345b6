//! A rendered NAR as a stream of [Bytes] chunks ([NarChunks]), and the two
//! writers that produce them: [ChunkWriter] for the async renderer and
//! [ChunkSink] for the blocking one, which also takes whole [Bytes] (pieces
//! of a blob read buffer) and sends the large ones on without a copy.
//!
//! A consumer that goes away (drops the stream) makes the next send fail,
//! which stops the rendering.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

use super::RenderError;

/// Size at which gathered small writes are sent as a chunk.
const CHUNK_SIZE: usize = 256 * 1024;
/// Chunks in flight between a renderer and its consumer.
pub(super) const CHUNKS_IN_FLIGHT: usize = 8;
/// [Bytes] at least this large are sent as chunks of their own; smaller
/// ones are copied into the chunk being gathered (many tiny chunks would
/// cost their consumer a system call each).
const SEND_WHOLE: usize = 64 * 1024;

type Chunk = Result<Bytes, RenderError>;

/// The NAR of a node, in order, as [super::render_nar] renders it in the
/// background. An error ends the stream; a stream that ends without one
/// held the whole NAR.
pub struct NarChunks(mpsc::Receiver<Chunk>);

impl NarChunks {
    /// The next chunk, waited for on a blocking thread.
    pub(super) fn blocking_next(&mut self) -> Option<Chunk> {
        self.0.blocking_recv()
    }
}

impl Stream for NarChunks {
    type Item = Chunk;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

/// A channel for a renderer's chunks.
pub(super) fn channel() -> (mpsc::Sender<Chunk>, NarChunks) {
    let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    (sender, NarChunks(receiver))
}

fn consumer_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the reader of the chunks went away",
    )
}

/// An [AsyncWrite] whose bytes are sent as chunks of [CHUNK_SIZE] over a
/// bounded channel, so the writer runs at most a few chunks ahead of its
/// reader and each byte is copied once on its way. `E` is the error a
/// failed stream ends with ([ChunkWriter::fail]): the async renderer's
/// [RenderError], or `io::Error` for an HTTP body (nar-bridge's compressed
/// NARs). Shutting it down ends the stream.
pub struct ChunkWriter<E> {
    buffer: BytesMut,
    sender: PollSender<Result<Bytes, E>>,
}

impl<E: Send + 'static> ChunkWriter<E> {
    pub fn new(sender: mpsc::Sender<Result<Bytes, E>>) -> Self {
        Self {
            buffer: BytesMut::with_capacity(CHUNK_SIZE),
            sender: PollSender::new(sender),
        }
    }

    /// Ends the stream with `error`, so its reader sees a failure rather
    /// than a complete-looking end.
    pub async fn fail(self, error: E) {
        if let Some(sender) = self.sender.get_ref() {
            // Nobody is listening any more if this fails.
            let _ = sender.send(Err(error)).await;
        }
    }

    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.sender.poll_reserve(cx)).map_err(|_| consumer_gone())?;
        let chunk = self.buffer.split().freeze();
        self.sender
            .send_item(Ok(chunk))
            .map_err(|_| consumer_gone())?;
        self.buffer.reserve(CHUNK_SIZE);
        Poll::Ready(Ok(()))
    }
}

impl<E: Send + 'static> AsyncWrite for ChunkWriter<E> {
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

/// Where [ChunkSink] puts the NAR: chunks on a channel to an async reader,
/// or a blocking writer (a file, stdout) written on the sink's own thread,
/// which saves a hand-over and a wake-up of the reader per chunk.
pub(super) enum Output {
    Chunks(mpsc::Sender<Chunk>),
    Writer(Box<dyn io::Write + Send>),
}

/// A blocking [io::Write] for a renderer on a blocking thread, whose bytes
/// go to an [Output] in chunks of [CHUNK_SIZE] or more.
pub(super) struct ChunkSink {
    buffer: BytesMut,
    output: Output,
}

impl ChunkSink {
    pub(super) fn new(output: Output) -> Self {
        Self {
            buffer: BytesMut::with_capacity(CHUNK_SIZE),
            output,
        }
    }

    /// Writes `data`, passing it on as it is if it is large.
    pub(super) fn write_bytes(&mut self, data: Bytes) -> io::Result<()> {
        if data.len() < SEND_WHOLE {
            return io::Write::write_all(self, &data);
        }
        self.send_buffer()?;
        self.send(data)
    }

    /// Ends the output with `error`: a stream of chunks ends with it (and
    /// `Ok` is returned), a writer gets nothing more and it is returned.
    pub(super) fn fail(self, error: RenderError) -> Result<(), RenderError> {
        match self.output {
            Output::Chunks(sender) => {
                // Nobody is listening any more if this fails.
                let _ = sender.blocking_send(Err(error));
                Ok(())
            }
            Output::Writer(_) => Err(error),
        }
    }

    fn send(&mut self, chunk: Bytes) -> io::Result<()> {
        match &mut self.output {
            Output::Chunks(sender) => sender.blocking_send(Ok(chunk)).map_err(|_| consumer_gone()),
            Output::Writer(writer) => writer.write_all(&chunk),
        }
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if let Output::Writer(writer) = &mut self.output {
            writer.write_all(&self.buffer)?;
            self.buffer.clear();
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.buffer.reserve(CHUNK_SIZE);
        self.send(chunk)
    }
}

impl io::Write for ChunkSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK_SIZE {
            self.send_buffer()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()?;
        match &mut self.output {
            Output::Chunks(_) => Ok(()),
            Output::Writer(writer) => writer.flush(),
        }
    }
}
