//! HTTP range requests (RFC 9110 §14) on uncompressed NARs: parsing the
//! `Range` header, and a writer that keeps only the requested bytes of the
//! rendered NAR.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// What a `Range` header asks of a NAR of a given size.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    /// The whole NAR: no header, or one we do not serve ranges for (several
    /// ranges, another unit, a malformed value), which RFC 9110 lets a
    /// server ignore.
    Whole,
    /// These bytes.
    Part(Range<u64>),
    /// A single range entirely outside the NAR: 416.
    Unsatisfiable,
}

/// Reads a `Range` header value for a NAR of `size` bytes.
pub fn parse(header: Option<&str>, size: u64) -> Requested {
    let Some(spec) = header.and_then(|value| value.trim().strip_prefix("bytes=")) else {
        return Requested::Whole;
    };
    if spec.contains(',') {
        return Requested::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Requested::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => return Requested::Unsatisfiable,
            Some(n) => size.saturating_sub(n)..size,
            None => return Requested::Whole,
        },
        // bytes=A-: from A to the end.
        (false, true) => match number(first) {
            Some(start) => start..size,
            None => return Requested::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(last)) if start <= last => start..last.saturating_add(1).min(size),
            _ => return Requested::Whole,
        },
        (true, true) => return Requested::Whole,
    };
    if range.start >= size {
        Requested::Unsatisfiable
    } else {
        Requested::Part(range)
    }
}

/// Passes on only the bytes at `range` of what is written through it; once
/// past the range, writes fail with [past_range], so that the renderer
/// stops instead of rendering the rest for nothing.
pub struct RangeWriter<W> {
    inner: W,
    /// Offset of the next byte written.
    position: u64,
    range: Range<u64>,
}

impl<W> RangeWriter<W> {
    pub fn new(inner: W, range: Range<u64>) -> Self {
        Self {
            inner,
            position: 0,
            range,
        }
    }
}

/// What a [RangeWriter] stops the renderer with.
#[derive(Debug, thiserror::Error)]
#[error("end of the requested range")]
struct PastRange;

fn past_range() -> io::Error {
    io::Error::other(PastRange)
}

/// Whether `error` is only a [RangeWriter] saying it has all it wanted.
pub fn is_past_range(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<PastRange>())
}

impl<W: AsyncWrite + Unpin> AsyncWrite for RangeWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.position >= this.range.end {
            return Poll::Ready(Err(past_range()));
        }
        let len = buf.len() as u64;
        let end = this.position + len;
        if end <= this.range.start {
            this.position = end;
            return Poll::Ready(Ok(buf.len()));
        }
        // Skip what is before the range, write at most up to its end.
        let skip = this.range.start.saturating_sub(this.position);
        let take = (end.min(this.range.end) - this.position - skip) as usize;
        let skip = skip as usize;
        match Pin::new(&mut this.inner).poll_write(cx, &buf[skip..skip + take]) {
            Poll::Ready(Ok(written)) => {
                this.position += (skip + written) as u64;
                Poll::Ready(Ok(skip + written))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[rstest]
    #[case::absent(None, Requested::Whole)]
    #[case::first_bytes(Some("bytes=0-9"), Requested::Part(0..10))]
    #[case::middle(Some("bytes=10-19"), Requested::Part(10..20))]
    #[case::open_end(Some("bytes=90-"), Requested::Part(90..100))]
    #[case::suffix(Some("bytes=-5"), Requested::Part(95..100))]
    #[case::suffix_longer_than_nar(Some("bytes=-500"), Requested::Part(0..100))]
    #[case::last_beyond_end(Some("bytes=50-500"), Requested::Part(50..100))]
    #[case::start_beyond_end(Some("bytes=100-"), Requested::Unsatisfiable)]
    #[case::empty_suffix(Some("bytes=-0"), Requested::Unsatisfiable)]
    #[case::reversed(Some("bytes=9-1"), Requested::Whole)]
    #[case::several(Some("bytes=0-1,5-6"), Requested::Whole)]
    #[case::other_unit(Some("items=0-1"), Requested::Whole)]
    #[case::garbage(Some("bytes=a-b"), Requested::Whole)]
    fn parse_range(#[case] header: Option<&str>, #[case] expected: Requested) {
        assert_eq!(expected, parse(header, 100));
    }

    /// Whatever the write sizes, exactly the range comes out, and writing
    /// stops after it.
    #[rstest]
    #[case::one_write(100, 10..20)]
    #[case::small_writes(3, 10..20)]
    #[case::from_start(7, 0..50)]
    #[case::to_end(7, 90..100)]
    #[tokio::test]
    async fn range_writer(#[case] write_size: usize, #[case] range: Range<u64>) {
        let data: Vec<u8> = (0..100u8).collect();
        let mut writer = RangeWriter::new(Vec::new(), range.clone());
        let mut result = Ok(());
        for chunk in data.chunks(write_size) {
            result = writer.write_all(chunk).await;
            if result.is_err() {
                break;
            }
        }
        if range.end < 100 {
            assert!(result.as_ref().is_err_and(is_past_range), "{result:?}");
        }
        assert_eq!(
            &data[range.start as usize..range.end as usize],
            writer.inner.as_slice()
        );
    }
}
