//! Counting and sha256-hashing NAR bytes as they stream by, for the NAR
//! size and hash Nix records.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use super::NarSummary;

/// Size of the read buffer of [HashingBufReader].
const READ_BUFFER: usize = 64 * 1024;

#[derive(Default, Clone)]
struct Hasher {
    sha256: Sha256,
    len: u64,
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        self.len += bytes.len() as u64;
    }

    fn finish(self) -> NarSummary {
        NarSummary {
            nar_size: self.len,
            nar_sha256: self.sha256.finalize().into(),
        }
    }
}

/// A sink that keeps only the size and sha256 of what is written to it,
/// sync or async.
#[derive(Default)]
pub(crate) struct HashingSink(Hasher);

impl HashingSink {
    pub(crate) fn finish(self) -> NarSummary {
        self.0.finish()
    }
}

impl io::Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncWrite for HashingSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().0.update(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A buffered reader that hashes exactly the bytes its consumer consumes,
/// so bytes buffered but never consumed (anything after the NAR) are not
/// counted, and [HashingBufReader::consumed] is the position in the stream.
pub(super) struct HashingBufReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[pos..filled]` is read from `inner` but not consumed yet.
    pos: usize,
    filled: usize,
    hasher: Hasher,
}

impl<R: AsyncRead + Unpin> HashingBufReader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            pos: 0,
            filled: 0,
            hasher: Hasher::default(),
        }
    }

    /// How many bytes were consumed so far.
    pub(super) fn consumed(&self) -> u64 {
        self.hasher.len
    }

    /// The size and sha256 of the bytes consumed so far.
    pub(super) fn summary(&self) -> NarSummary {
        self.hasher.clone().finish()
    }

    /// The size and sha256 of the bytes consumed.
    pub(super) fn finish(self) -> NarSummary {
        self.hasher.finish()
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for HashingBufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos == this.filled {
            let mut read_buf = ReadBuf::new(&mut this.buf);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read_buf))?;
            this.filled = read_buf.filled().len();
            this.pos = 0;
        }
        Poll::Ready(Ok(this.buf.get(this.pos..this.filled).unwrap_or_default()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let end = this.pos.saturating_add(amt).min(this.filled);
        if let Some(consumed) = this.buf.get(this.pos..end) {
            this.hasher.update(consumed);
        }
        this.pos = end;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingBufReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Large reads of file contents skip the buffer when it is empty.
        if this.pos == this.filled && out.remaining() >= this.buf.len() {
            let before = out.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, out))?;
            let read = out.filled().get(before..).unwrap_or_default();
            this.hasher.update(read);
            return Poll::Ready(Ok(()));
        }
        let available = ready!(Pin::new(&mut *this).poll_fill_buf(cx))?;
        let n = available.len().min(out.remaining());
        out.put_slice(available.get(..n).unwrap_or_default());
        Pin::new(this).consume(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Mixed small buffered reads and large direct reads hash the stream
    /// exactly, and unconsumed bytes stay out of the hash.
    #[tokio::test]
    async fn reader_hashes_consumed_bytes() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = HashingBufReader::new(data.as_slice());
        let mut small = [0; 10];
        reader.read_exact(&mut small).await.expect("small read");
        let mut large = vec![0; 150_000];
        reader.read_exact(&mut large).await.expect("large read");
        assert!(!reader.fill_buf().await.expect("fill").is_empty());
        assert_eq!(150_010, reader.consumed());
        assert_eq!(
            NarSummary {
                nar_size: 150_010,
                nar_sha256: Sha256::digest(&data[..150_010]).into(),
            },
            reader.finish()
        );
    }

    #[tokio::test]
    async fn sink_hashes_everything() {
        let mut sink = HashingSink::default();
        sink.write_all(b"nix-").await.expect("write");
        sink.write_all(b"archive-1").await.expect("write");
        assert_eq!(
            NarSummary {
                nar_size: 13,
                nar_sha256: Sha256::digest(b"nix-archive-1").into(),
            },
            sink.finish()
        );
    }
}
