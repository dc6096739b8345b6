//! One set of tables for every reader and writer of the wire primitives:
//! each case runs through the sync code and (with the `async` feature) the
//! async functions, [`BytesReader`]/[`BytesWriter`], and those again over a
//! pipe that moves a single byte at a time. All of them must agree exactly.

use std::io;
use std::ops::RangeInclusive;

use proptest::prelude::*;
use rstest::rstest;

use super::WireError;
use super::bytes::padding_len;
use super::sync;

/// An error reduced to what the tests compare: its kind and wire cause.
#[derive(Debug, PartialEq)]
struct Failure {
    kind: io::ErrorKind,
    wire: Option<WireError>,
}

impl Failure {
    fn eof() -> Self {
        Self {
            kind: io::ErrorKind::UnexpectedEof,
            wire: None,
        }
    }
}

impl From<WireError> for Failure {
    fn from(wire: WireError) -> Self {
        Self {
            kind: io::Error::from(wire.clone()).kind(),
            wire: Some(wire),
        }
    }
}

fn failure(err: io::Error) -> Failure {
    Failure {
        kind: err.kind(),
        wire: err
            .get_ref()
            .and_then(|e| e.downcast_ref::<WireError>())
            .cloned(),
    }
}

type Outcome<T> = Result<T, Failure>;

/// The outcome and the number of input bytes left unread.
fn run_sync<T>(
    input: &[u8],
    read: impl FnOnce(&mut &[u8]) -> io::Result<T>,
) -> (Outcome<T>, usize) {
    let mut rest = input;
    let outcome = read(&mut rest).map_err(failure);
    (outcome, rest.len())
}

#[cfg(feature = "async")]
mod both {
    //! Runs async readers and writers next to the sync ones.

    use std::future::Future;
    use std::ops::RangeInclusive;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

    use super::{Outcome, failure};
    use crate::wire::bytes::{BytesReader, BytesWriter, widen};

    pub fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("test runtime")
            .block_on(future)
    }

    /// A reader that hands out `input` one byte per read, so that every
    /// partial-read path is taken. Must be called inside a runtime.
    pub fn trickle(input: &[u8]) -> DuplexStream {
        let (mut tx, rx) = tokio::io::duplex(1);
        let input = input.to_vec();
        tokio::spawn(async move {
            // The reader may stop early (on an error); that is not ours to report.
            let _ = tx.write_all(&input).await;
        });
        rx
    }

    /// Streams one packet's payload through a [`BytesReader`].
    pub async fn through_bytes_reader<R: AsyncRead + Unpin>(
        inner: R,
        allowed: &RangeInclusive<usize>,
    ) -> Outcome<Vec<u8>> {
        let mut reader = BytesReader::new(inner, widen(allowed))
            .await
            .map_err(failure)?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.map_err(failure)?;
        assert_eq!(reader.len(), out.len() as u64, "BytesReader::len");
        Ok(out)
    }

    /// Writes one packet through a [`BytesWriter`] onto `inner`.
    pub async fn through_bytes_writer<W: AsyncWrite + Unpin>(inner: W, payload: &[u8]) -> W {
        let mut writer = BytesWriter::new(inner, payload.len() as u64);
        writer.write_all(payload).await.expect("write payload");
        writer.shutdown().await.expect("finish packet");
        writer.into_inner()
    }

    /// Everything written into the other end of the pipe, until it closes.
    pub async fn drain(rx: &mut DuplexStream) -> Vec<u8> {
        let mut out = Vec::new();
        rx.read_to_end(&mut out).await.expect("drain pipe");
        out
    }
}

/// Reads one bytes packet with every reader; asserts they agree on the
/// outcome and, where they succeed, that exactly the packet was consumed.
fn read_bytes_everywhere(input: &[u8], allowed: RangeInclusive<usize>) -> Outcome<Vec<u8>> {
    let (outcome, _) = run_sync(input, |r| sync::read_bytes(r, allowed.clone()));

    #[cfg(feature = "async")]
    {
        use super::bytes::read_bytes;

        let mut rest = input;
        let async_outcome = both::block_on(read_bytes(&mut rest, allowed.clone())).map_err(failure);
        assert_eq!(async_outcome, outcome, "async read_bytes");

        let streamed = both::block_on(both::through_bytes_reader(input, &allowed));
        assert_eq!(streamed, outcome, "BytesReader");

        let trickled = both::block_on(async {
            both::through_bytes_reader(both::trickle(input), &allowed).await
        });
        assert_eq!(trickled, outcome, "BytesReader, one byte at a time");
    }

    outcome
}

/// Writes one bytes packet with every writer; asserts they agree.
fn write_bytes_everywhere(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    sync::write_bytes(&mut out, payload).expect("sync write_bytes");

    #[cfg(feature = "async")]
    {
        use super::bytes::write_bytes;

        let mut async_out = Vec::new();
        both::block_on(write_bytes(&mut async_out, payload)).expect("async write_bytes");
        assert_eq!(async_out, out, "async write_bytes");

        let streamed = both::block_on(both::through_bytes_writer(Vec::new(), payload));
        assert_eq!(streamed, out, "BytesWriter");

        let trickled = both::block_on(async {
            let (tx, mut rx) = tokio::io::duplex(1);
            let (_, received) = tokio::join!(
                async { drop(both::through_bytes_writer(tx, payload).await) },
                both::drain(&mut rx)
            );
            received
        });
        assert_eq!(trickled, out, "BytesWriter, one byte at a time");
    }

    out
}

/// `n` as the 8 little-endian bytes of the wire.
fn le(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[rstest]
#[case::zero(0, 0)]
#[case::one(1, 7)]
#[case::seven(7, 1)]
#[case::eight(8, 0)]
#[case::nine(9, 7)]
#[case::max_minus_one(u64::MAX - 1, 2)]
#[case::max(u64::MAX, 1)]
fn padding_len_to_next_multiple_of_8(#[case] len: u64, #[case] expected: u8) {
    assert_eq!(padding_len(len), expected);
}

#[rstest]
#[case::empty(b"", cat(&[&le(0)]))]
#[case::one_byte(b"a", cat(&[&le(1), b"a", &[0; 7]]))]
#[case::seven_bytes(b"abcdefg", cat(&[&le(7), b"abcdefg", &[0; 1]]))]
#[case::eight_bytes_no_padding(b"abcdefgh", cat(&[&le(8), b"abcdefgh"]))]
#[case::nine_bytes(b"abcdefghi", cat(&[&le(9), b"abcdefghi", &[0; 7]]))]
#[case::sixteen_bytes(b"0123456789abcdef", cat(&[&le(16), b"0123456789abcdef"]))]
#[case::binary(&[0, 0xff, 0], cat(&[&le(3), &[0, 0xff, 0], &[0; 5]]))]
fn bytes_packet_round_trip(#[case] payload: &[u8], #[case] wire: Vec<u8>) {
    assert_eq!(write_bytes_everywhere(payload), wire);
    assert_eq!(
        read_bytes_everywhere(&wire, 0..=usize::MAX),
        Ok(payload.to_vec())
    );
}

#[rstest]
#[case::longer_than_allowed(cat(&[&le(5), b"abcde", &[0; 3]]), 0..=4,
    WireError::LengthOutOfRange { len: 5, min: 0, max: 4 }.into())]
#[case::shorter_than_allowed(cat(&[&le(1), b"a", &[0; 7]]), 2..=10,
    WireError::LengthOutOfRange { len: 1, min: 2, max: 10 }.into())]
// Rejected from the prefix alone: no payload follows, nothing is allocated.
#[case::huge_length(le(u64::MAX), 0..=1024,
    WireError::LengthOutOfRange { len: u64::MAX, min: 0, max: 1024 }.into())]
#[case::nonzero_padding_first(cat(&[&le(1), b"a", &[1, 0, 0, 0, 0, 0, 0]]), 0..=8,
    WireError::NonZeroPadding { len: 1, padding: vec![1, 0, 0, 0, 0, 0, 0] }.into())]
#[case::nonzero_padding_last(cat(&[&le(5), b"abcde", &[0, 0, 0x80]]), 0..=8,
    WireError::NonZeroPadding { len: 5, padding: vec![0, 0, 0x80] }.into())]
#[case::nonzero_padding_long_packet(cat(&[&le(9), b"abcdefghi", &[0, 0, 0, 0, 0, 0, 1]]), 0..=16,
    WireError::NonZeroPadding { len: 9, padding: vec![0, 0, 0, 0, 0, 0, 1] }.into())]
#[case::truncated_length(vec![1, 0, 0], 0..=8, Failure::eof())]
#[case::no_payload(le(3), 0..=8, WireError::TruncatedPayload { len: 3, received: 0 }.into())]
#[case::truncated_payload(cat(&[&le(3), b"ab"]), 0..=8,
    WireError::TruncatedPayload { len: 3, received: 2 }.into())]
#[case::truncated_long_payload(cat(&[&le(20), b"0123456789"]), 0..=20,
    WireError::TruncatedPayload { len: 20, received: 10 }.into())]
#[case::no_padding(cat(&[&le(3), b"abc"]), 0..=8,
    WireError::TruncatedPadding { len: 3, expected: 5, received: 0 }.into())]
#[case::truncated_padding(cat(&[&le(3), b"abc", &[0, 0]]), 0..=8,
    WireError::TruncatedPadding { len: 3, expected: 5, received: 2 }.into())]
fn bytes_packet_rejected(
    #[case] wire: Vec<u8>,
    #[case] allowed: RangeInclusive<usize>,
    #[case] expected: Failure,
) {
    assert_eq!(read_bytes_everywhere(&wire, allowed), Err(expected));
}

/// Every strict prefix of a valid packet is an error (never a panic, never
/// a short payload), and an "input ended" one.
#[rstest]
#[case::empty(b"")]
#[case::one_byte(b"a")]
#[case::eight_bytes(b"abcdefgh")]
#[case::eleven_bytes(b"abcdefghijk")]
fn bytes_packet_truncated_anywhere(#[case] payload: &[u8]) {
    let wire = write_bytes_everywhere(payload);
    for end in 0..wire.len() {
        let outcome = read_bytes_everywhere(&wire[..end], 0..=usize::MAX);
        let err = outcome.expect_err("a strict prefix must not parse");
        assert_eq!(
            err.kind,
            io::ErrorKind::UnexpectedEof,
            "prefix of {end} bytes"
        );
    }
}

#[test]
fn read_bytes_leaves_what_follows_the_packet() {
    let wire = cat(&[&le(2), b"ab", &[0; 6], b"next"]);
    let (outcome, left) = run_sync(&wire, |r| sync::read_bytes(r, 0..=8));
    assert_eq!((outcome, left), (Ok(b"ab".to_vec()), 4));

    #[cfg(feature = "async")]
    {
        let mut rest = &wire[..];
        let read = both::block_on(super::bytes::read_bytes(&mut rest, 0..=8));
        assert_eq!(
            (read.map_err(failure), rest),
            (Ok(b"ab".to_vec()), &b"next"[..])
        );
    }
}

#[rstest]
#[case::zero(0, vec![0; 8])]
#[case::one(1, vec![1, 0, 0, 0, 0, 0, 0, 0])]
#[case::byte_order(0x0102_0304_0506_0708, vec![8, 7, 6, 5, 4, 3, 2, 1])]
#[case::max(u64::MAX, vec![0xff; 8])]
fn u64_round_trip(#[case] value: u64, #[case] wire: Vec<u8>) {
    let mut out = Vec::new();
    sync::write_u64(&mut out, value).expect("write");
    assert_eq!(out, wire);
    assert_eq!(run_sync(&wire, |r| sync::read_u64(r)), (Ok(value), 0));

    #[cfg(feature = "async")]
    {
        use super::primitive::{read_u64, write_u64};
        let mut out = Vec::new();
        both::block_on(write_u64(&mut out, value)).expect("write");
        assert_eq!(out, wire);
        let read = both::block_on(async { read_u64(&mut both::trickle(&wire)).await });
        assert_eq!(read.map_err(failure), Ok(value));
    }
}

#[rstest]
#[case::zero_is_false(le(0), false)]
#[case::one_is_true(le(1), true)]
#[case::two_is_true(le(2), true)]
#[case::high_bit_is_true(le(1 << 63), true)]
fn read_bool_like_nix(#[case] wire: Vec<u8>, #[case] expected: bool) {
    assert_eq!(run_sync(&wire, |r| sync::read_bool(r)), (Ok(expected), 0));

    #[cfg(feature = "async")]
    {
        let mut rest = &wire[..];
        let read = both::block_on(super::primitive::read_bool(&mut rest));
        assert_eq!(read.map_err(failure), Ok(expected));
    }
}

#[rstest]
#[case::truthy(true, le(1))]
#[case::falsy(false, le(0))]
fn write_bool_as_one_or_zero(#[case] value: bool, #[case] wire: Vec<u8>) {
    let mut out = Vec::new();
    sync::write_bool(&mut out, value).expect("write");
    assert_eq!(out, wire);

    #[cfg(feature = "async")]
    {
        let mut out = Vec::new();
        both::block_on(super::primitive::write_bool(&mut out, value)).expect("write");
        assert_eq!(out, wire);
    }
}

/// Reads one string with the sync and async readers; asserts they agree.
fn read_string_everywhere(wire: &[u8], allowed: RangeInclusive<usize>) -> Outcome<String> {
    let (outcome, _) = run_sync(wire, |r| sync::read_string(r, allowed.clone()));

    #[cfg(feature = "async")]
    {
        let mut rest = wire;
        let read = both::block_on(super::primitive::read_string(&mut rest, allowed));
        assert_eq!(read.map_err(failure), outcome, "async read_string");
    }

    outcome
}

#[rstest]
#[case::ascii("hello", cat(&[&le(5), b"hello", &[0; 3]]))]
#[case::two_byte_char("ü", cat(&[&le(2), &[0xc3, 0xbc], &[0; 6]]))]
#[case::empty("", le(0))]
fn string_round_trip(#[case] value: &str, #[case] wire: Vec<u8>) {
    let mut out = Vec::new();
    sync::write_string(&mut out, value).expect("write");
    assert_eq!(out, wire);

    #[cfg(feature = "async")]
    {
        let mut out = Vec::new();
        both::block_on(super::primitive::write_string(&mut out, value)).expect("write");
        assert_eq!(out, wire);
    }

    assert_eq!(read_string_everywhere(&wire, 0..=64), Ok(value.to_string()));
}

#[rstest]
#[case::lone_continuation_byte(cat(&[&le(2), b"a", &[0x80], &[0; 6]]),
    WireError::InvalidUtf8 { len: 2, valid_up_to: 1 })]
#[case::cut_two_byte_char(cat(&[&le(1), &[0xc3], &[0; 7]]),
    WireError::InvalidUtf8 { len: 1, valid_up_to: 0 })]
fn string_must_be_utf8(#[case] wire: Vec<u8>, #[case] expected: WireError) {
    assert_eq!(read_string_everywhere(&wire, 0..=64), Err(expected.into()));
}

#[rstest]
#[case::none(&[], le(0))]
#[case::two(&["a", "bc"], cat(&[&le(2), &le(1), b"a", &[0; 7], &le(2), b"bc", &[0; 6]]))]
fn strings_round_trip(#[case] values: &[&str], #[case] wire: Vec<u8>) {
    let mut out = Vec::new();
    sync::write_strings(&mut out, values).expect("write");
    assert_eq!(out, wire);
    let expected: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        run_sync(&wire, |r| sync::read_strings(r, 0..=8, 1024)),
        (Ok(expected.clone()), 0)
    );

    #[cfg(feature = "async")]
    {
        use super::primitive::{read_strings, write_strings};
        let mut out = Vec::new();
        both::block_on(write_strings(&mut out, values)).expect("write");
        assert_eq!(out, wire);
        let mut rest = &wire[..];
        let read = both::block_on(read_strings(&mut rest, 0..=8, 1024));
        assert_eq!(read.map_err(failure), Ok(expected));
    }
}

/// A list announcing more strings than follow fails where the input ends.
#[rstest]
#[case::count_only(le(3), Failure::eof())]
#[case::second_missing(cat(&[&le(2), &le(1), b"a", &[0; 7]]), Failure::eof())]
#[case::element_too_long(cat(&[&le(1), &le(9), b"abcdefghi", &[0; 7]]),
    WireError::LengthOutOfRange { len: 9, min: 0, max: 8 }.into())]
// 1024 bytes hold 42 strings of 0 bytes (24 each): the 43rd is refused
// before it is read, whatever the count announced.
#[case::many_empty(cat(&[&le(u64::MAX), &le(0).repeat(43)]),
    WireError::ListTooLarge { max_total: 1024 }.into())]
// Strings of 8 bytes cost 32 each: 32 fill the 1024 bytes, and the 33rd
// is refused before its length is read.
#[case::many_full(cat(&[&le(u64::MAX), &cat(&[&le(8), b"abcdefgh"]).repeat(33)]),
    WireError::ListTooLarge { max_total: 1024 }.into())]
fn strings_rejected(#[case] wire: Vec<u8>, #[case] expected: Failure) {
    let (outcome, _) = run_sync(&wire, |r| sync::read_strings(r, 0..=8, 1024));
    assert_eq!(outcome, Err(expected));

    #[cfg(feature = "async")]
    {
        let mut rest = &wire[..];
        let read = both::block_on(super::primitive::read_strings(&mut rest, 0..=8, 1024));
        assert_eq!(read.map_err(failure), outcome);
    }
}

proptest! {
    #[test]
    fn any_bytes_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..80)) {
        let wire = write_bytes_everywhere(&payload);
        prop_assert_eq!(wire.len() % 8, 0);
        prop_assert_eq!(read_bytes_everywhere(&wire, 0..=80), Ok(payload));
    }

    #[test]
    fn any_u64_round_trip(value in any::<u64>()) {
        let mut wire = Vec::new();
        sync::write_u64(&mut wire, value).expect("write");
        prop_assert_eq!(run_sync(&wire, |r| sync::read_u64(r)), (Ok(value), 0));
    }

    #[test]
    fn any_strings_round_trip(values in proptest::collection::vec(".{0,20}", 0..5)) {
        let mut wire = Vec::new();
        sync::write_strings(&mut wire, &values).expect("write");
        prop_assert_eq!(run_sync(&wire, |r| sync::read_strings(r, 0..=80, 4096)), (Ok(values), 0));
    }

    /// No input makes a reader panic; whatever parses, parses the same way
    /// everywhere (checked inside the helper).
    #[test]
    fn arbitrary_input_never_panics(wire in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = read_bytes_everywhere(&wire, 0..=16);
    }
}

#[cfg(feature = "async")]
mod streams {
    //! Behaviour of [`BytesReader`] and [`BytesWriter`] beyond the shared tables.

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{Failure, both::block_on, cat, failure, le};
    use crate::wire::WireError;
    use crate::wire::bytes::{BytesReader, BytesWriter};

    #[test]
    fn reader_knows_len_before_reading_payload() {
        let wire = cat(&[&le(9), b"abcdefghi", &[0; 7]]);
        let reader = block_on(BytesReader::new(&wire[..], 0..=9)).expect("header");
        assert_eq!((reader.len(), reader.is_empty()), (9, false));
    }

    /// Reading exactly `len` bytes also consumes and checks the padding, so
    /// the inner reader is left at the next message.
    #[test]
    fn reader_consumes_padding_with_last_byte() {
        let wire = cat(&[&le(3), b"abc", &[0; 5], b"next"]);
        let rest = block_on(async {
            let mut reader = BytesReader::new(&wire[..], 0..=8).await?;
            let mut payload = [0; 3];
            reader.read_exact(&mut payload).await?;
            assert_eq!(&payload, b"abc");
            Ok::<_, std::io::Error>(reader.into_inner())
        })
        .expect("read");
        assert_eq!(rest, b"next");
    }

    /// The bytes before the last block stream out; the last block's payload
    /// is held back until its padding is checked.
    #[test]
    fn reader_withholds_last_block_until_padding_checked() {
        let wire = cat(&[&le(9), b"abcdefghi", &[0, 0, 0, 0, 0, 0, 7]]);
        let (body, last) = block_on(async {
            let mut reader = BytesReader::new(&wire[..], 0..=9).await.expect("header");
            let mut body = [0; 8];
            reader.read_exact(&mut body).await.expect("body");
            let mut last = [0; 1];
            (body, reader.read_exact(&mut last).await.map_err(failure))
        });
        assert_eq!(&body, b"abcdefgh");
        assert_eq!(
            last,
            Err(Failure::from(WireError::NonZeroPadding {
                len: 9,
                padding: vec![0, 0, 0, 0, 0, 0, 7],
            }))
        );
    }

    #[test]
    fn writer_rejects_more_than_declared_before_writing_it() {
        let (outcome, inner) = block_on(async {
            let mut writer = BytesWriter::new(Vec::new(), 2);
            let outcome = writer.write_all(b"abc").await.map_err(failure);
            (outcome, writer.into_inner())
        });
        assert_eq!(
            outcome,
            Err(WireError::TooManyBytes {
                declared: 2,
                attempted: 3
            }
            .into())
        );
        assert_eq!(inner, Vec::<u8>::new());
    }

    #[test]
    fn writer_rejects_overrun_across_writes() {
        let (outcome, inner) = block_on(async {
            let mut writer = BytesWriter::new(Vec::new(), 2);
            writer.write_all(b"ab").await.expect("fits");
            let outcome = writer.write_all(b"c").await.map_err(failure);
            (outcome, writer.into_inner())
        });
        assert_eq!(
            outcome,
            Err(WireError::TooManyBytes {
                declared: 2,
                attempted: 3
            }
            .into())
        );
        assert_eq!(inner, cat(&[&le(2), b"ab"]));
    }

    #[test]
    fn writer_rejects_shutdown_before_all_declared() {
        let outcome = block_on(async {
            let mut writer = BytesWriter::new(Vec::new(), 2);
            writer.write_all(b"a").await.expect("fits");
            writer.shutdown().await.map_err(failure)
        });
        assert_eq!(
            outcome,
            Err(WireError::TooFewBytes {
                declared: 2,
                written: 1
            }
            .into())
        );
    }
}
