//! The reader's grammar, kept free of I/O so the sync and async readers
//! share every decision and only differ in how they wait for bytes.

use super::error::{Error, Expected, Field};
use crate::nar::wire::{
    self, SEQ_ENTRY, SEQ_EXECUTABLE, SEQ_HEADER, SEQ_NODE, SEQ_REGULAR, SEQ_SYMLINK, TOK_CLOSE,
    TOK_DIRECTORY,
};

/// A point in the grammar where one of a few token runs must follow.
///
/// The runs never share their first `head_len` bytes (the length of the
/// shortest), so reading that many bytes picks the run, and reading the rest
/// of that run confirms it: two reads and two comparisons whatever the input.
pub(super) struct Choice<T: 'static> {
    options: &'static [(&'static [u8], T)],
    head_len: usize,
    expected: Expected,
}

impl<T: Copy> Choice<T> {
    const fn new(options: &'static [(&'static [u8], T)], expected: Expected) -> Self {
        let mut head_len = wire::MAX_TOKEN_LEN;
        let mut i = 0;
        while i < options.len() {
            if options[i].0.len() < head_len {
                head_len = options[i].0.len();
            }
            i += 1;
        }
        Choice {
            options,
            head_len,
            expected,
        }
    }

    /// How many bytes to read first.
    pub(super) fn head_len(&self) -> usize {
        self.head_len
    }

    /// Picks the option that starts with `head`, returning how many more
    /// bytes to read for it.
    pub(super) fn match_head(&self, head: &[u8]) -> Result<(usize, usize), Error> {
        self.options
            .iter()
            .position(|(token, _)| token.starts_with(head))
            .map(|index| (index, self.options[index].0.len() - head.len()))
            .ok_or(Error::UnexpectedToken(self.expected))
    }

    /// Checks the rest of option `index`, returning its value.
    pub(super) fn match_rest(&self, index: usize, rest: &[u8]) -> Result<T, Error> {
        let (token, value) = self.options[index];
        if token.ends_with(rest) {
            Ok(value)
        } else {
            Err(Error::UnexpectedToken(self.expected))
        }
    }
}

/// What a node's type tokens announce.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum NodeType {
    Regular,
    Executable,
    Symlink,
    Directory,
}

/// Whether a directory goes on with an entry or ends.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum DirItem {
    Entry,
    End,
}

pub(super) const HEADER: Choice<()> = Choice::new(&[(&SEQ_HEADER, ())], Expected::Header);
pub(super) const NODE_TYPE: Choice<NodeType> = Choice::new(
    &[
        (&SEQ_REGULAR, NodeType::Regular),
        (&SEQ_EXECUTABLE, NodeType::Executable),
        (&SEQ_SYMLINK, NodeType::Symlink),
        (&TOK_DIRECTORY, NodeType::Directory),
    ],
    Expected::NodeType,
);
pub(super) const ENTRY_OR_END: Choice<DirItem> = Choice::new(
    &[(&SEQ_ENTRY, DirItem::Entry), (&TOK_CLOSE, DirItem::End)],
    Expected::EntryOrEnd,
);
pub(super) const NODE_START: Choice<()> = Choice::new(&[(&SEQ_NODE, ())], Expected::NodeStart);
pub(super) const NODE_END: Choice<()> = Choice::new(&[(&TOK_CLOSE, ())], Expected::NodeEnd);
pub(super) const ENTRY_END: Choice<()> = Choice::new(&[(&TOK_CLOSE, ())], Expected::EntryEnd);

/// Splits a padded field read from the wire into its `len` bytes, checking
/// that the padding is zero.
pub(super) fn unpad(padded: &[u8], len: usize, field: Field) -> Result<&[u8], Error> {
    let (value, padding) = padded.split_at(len.min(padded.len()));
    if padding.iter().all(|b| *b == 0) {
        Ok(value)
    } else {
        Err(Error::NonZeroPadding(field))
    }
}

/// The wire size of a file's tail: the last word of contents with its
/// padding, then the `")"` ending the node.
const TAIL_SIZE: usize = 8 + TOK_CLOSE.len();

/// Where a file reader is within a file's contents.
///
/// The contents pass straight through up to their last word (the body);
/// that word is read together with its padding and the `")"` ending the
/// node (the tail), and handed out only once all of it checked out. So the
/// reader has consumed the node entirely by the time it returns the last
/// byte, without needing one more read that finds the end.
pub(super) struct Contents {
    len: u64,
    body_left: u64,
    tail: [u8; TAIL_SIZE],
    /// Wire bytes in the tail: [TAIL_SIZE], or just the `")"` for an empty file.
    tail_size: usize,
    tail_loaded: usize,
    /// Content bytes at the start of the tail.
    tail_contents: usize,
    tail_served: usize,
}

impl Contents {
    pub(super) fn new(len: u64) -> Self {
        // 1..=8 bytes of contents in the tail, none for an empty file.
        let tail_contents = if len == 0 { 0 } else { (len - 1) % 8 + 1 };
        let word = if len == 0 { 0 } else { 8 };
        Contents {
            len,
            body_left: len - tail_contents,
            tail: [0; TAIL_SIZE],
            tail_size: word + TOK_CLOSE.len(),
            tail_loaded: 0,
            tail_contents: tail_contents as usize,
            tail_served: 0,
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// How many bytes of the body are still to be passed through.
    pub(super) fn body_left(&self) -> u64 {
        self.body_left
    }

    pub(super) fn consumed_body(&mut self, n: usize) {
        self.body_left = self.body_left.saturating_sub(n as u64);
    }

    pub(super) fn tail_loaded(&self) -> bool {
        self.tail_loaded == self.tail_size
    }

    /// The part of the tail still to be read from the wire.
    pub(super) fn tail_to_load(&mut self) -> &mut [u8] {
        &mut self.tail[self.tail_loaded..self.tail_size]
    }

    /// Records `n` more tail bytes read, and checks the tail once complete.
    pub(super) fn loaded_tail(&mut self, n: usize) -> Result<(), Error> {
        self.tail_loaded = (self.tail_loaded + n).min(self.tail_size);
        if !self.tail_loaded() {
            return Ok(());
        }
        let (word, close) = self.tail[..self.tail_size].split_at(self.tail_size - TOK_CLOSE.len());
        unpad(word, self.tail_contents, Field::Contents)?;
        NODE_END.match_rest(0, close)
    }

    /// Up to `max` contents bytes from the loaded tail not handed out yet.
    pub(super) fn unserved_tail(&self, max: usize) -> &[u8] {
        let left = self.tail_contents - self.tail_served;
        &self.tail[self.tail_served..self.tail_served + left.min(max)]
    }

    pub(super) fn served_tail(&mut self, n: usize) {
        self.tail_served = (self.tail_served + n).min(self.tail_contents);
    }

    /// Whether the node is consumed and every byte handed out.
    pub(super) fn is_done(&self) -> bool {
        self.tail_loaded() && self.tail_served == self.tail_contents
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The options of a choice must differ within the head, or reading the
    /// head could pick the wrong one.
    #[test]
    fn heads_are_distinct() {
        assert_heads_distinct(&NODE_TYPE);
        assert_heads_distinct(&ENTRY_OR_END);
    }

    fn assert_heads_distinct<T: Copy>(choice: &Choice<T>) {
        for (i, (a, _)) in choice.options.iter().enumerate() {
            for (b, _) in &choice.options[i + 1..] {
                assert_ne!(a[..choice.head_len], b[..choice.head_len]);
            }
        }
    }

    #[rstest]
    #[case::regular(&SEQ_REGULAR, NodeType::Regular)]
    #[case::executable(&SEQ_EXECUTABLE, NodeType::Executable)]
    #[case::symlink(&SEQ_SYMLINK, NodeType::Symlink)]
    #[case::directory(&TOK_DIRECTORY, NodeType::Directory)]
    fn node_type_choice(#[case] wire: &[u8], #[case] expected: NodeType) {
        let (head, rest) = wire.split_at(NODE_TYPE.head_len());
        let (index, rest_len) = NODE_TYPE.match_head(head).unwrap();
        assert_eq!(rest_len, rest.len());
        assert_eq!(NODE_TYPE.match_rest(index, rest), Ok(expected));
    }

    #[test]
    fn choice_rejects_unknown_head() {
        assert_eq!(
            NODE_TYPE.match_head(&[0xff; 24]),
            Err(Error::UnexpectedToken(Expected::NodeType))
        );
    }

    #[rstest]
    #[case::empty(0, 0, 16, 0)]
    #[case::one_byte(1, 0, 24, 1)]
    #[case::one_word(8, 0, 24, 8)]
    #[case::word_and_one(9, 8, 24, 1)]
    #[case::two_words(16, 8, 24, 8)]
    fn contents_layout(
        #[case] len: u64,
        #[case] body: u64,
        #[case] tail_size: usize,
        #[case] tail_contents: usize,
    ) {
        let contents = Contents::new(len);
        assert_eq!(
            (
                contents.body_left,
                contents.tail_size,
                contents.tail_contents
            ),
            (body, tail_size, tail_contents)
        );
    }

    #[rstest]
    #[case::ok(b"ab\0\0\0\0\0\0", Ok(()))]
    #[case::nonzero_padding(b"ab\0\0\0\0\0x", Err(Error::NonZeroPadding(Field::Contents)))]
    fn contents_tail(#[case] word: &[u8; 8], #[case] expected: Result<(), Error>) {
        let mut contents = Contents::new(2);
        contents
            .tail_to_load()
            .copy_from_slice(&[&word[..], &TOK_CLOSE].concat());
        assert_eq!(contents.loaded_tail(TAIL_SIZE), expected);
        assert_eq!(contents.unserved_tail(8), b"ab");
    }

    #[test]
    fn contents_tail_needs_close() {
        let mut contents = Contents::new(0);
        contents.tail_to_load().copy_from_slice(&wire::TOK_OPEN);
        assert_eq!(
            contents.loaded_tail(16),
            Err(Error::UnexpectedToken(Expected::NodeEnd))
        );
    }
}
