//! HTTP range requests (RFC 9110 §14) on uncompressed NARs: parsing the
//! `Range` header, and keeping only the requested bytes of the rendered
//! NAR's chunks.

use std::ops::Range;

use bytes::Bytes;
use futures::{Stream, StreamExt};

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

/// Only the bytes at `range` of a NAR coming as `chunks` (cut out of the
/// chunks, not copied). The stream ends once the range is complete,
/// dropping `chunks`, which stops the rendering of the rest.
pub fn keep<S, E>(chunks: S, range: Range<u64>) -> impl Stream<Item = Result<Bytes, E>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    // (the chunks, the offset of the next chunk's first byte)
    futures::stream::unfold((chunks, 0u64), move |(mut chunks, mut position)| {
        let range = range.clone();
        async move {
            while position < range.end {
                let chunk = match chunks.next().await? {
                    Ok(chunk) => chunk,
                    Err(error) => return Some((Err(error), (chunks, u64::MAX))),
                };
                let start = position;
                position += chunk.len() as u64;
                if position <= range.start {
                    continue;
                }
                // The chunk overlaps the range: start < range.end and
                // position > range.start, so from < to <= chunk.len().
                let from = range.start.saturating_sub(start) as usize;
                let to = (range.end.min(position) - start) as usize;
                return Some((Ok(chunk.slice(from..to)), (chunks, position)));
            }
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

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

    /// Whatever the chunk sizes, exactly the range comes out, and the
    /// chunks after it are not asked for.
    #[rstest]
    #[case::one_chunk(100, 10..20)]
    #[case::small_chunks(3, 10..20)]
    #[case::from_start(7, 0..50)]
    #[case::to_end(7, 90..100)]
    #[tokio::test]
    async fn keep_range(#[case] chunk_size: usize, #[case] range: Range<u64>) {
        let data: Vec<u8> = (0..100u8).collect();
        let taken = std::sync::atomic::AtomicUsize::new(0);
        let chunks = futures::stream::iter(data.chunks(chunk_size).map(|chunk| {
            taken.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            Ok::<_, ()>(Bytes::copy_from_slice(chunk))
        }));
        let kept: Vec<u8> = keep(chunks, range.clone())
            .map(|chunk| chunk.expect("no error").to_vec())
            .concat()
            .await;
        assert_eq!(&data[range.start as usize..range.end as usize], kept);
        let taken = taken.load(std::sync::atomic::Ordering::Relaxed) as u64;
        assert!(taken < range.end + chunk_size as u64, "{taken}");
    }
}
