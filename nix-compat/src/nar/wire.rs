//! The NAR tokens as the bytes they occupy on the wire.
//!
//! Every token is precomputed with its length prefix and padding, so the
//! reader and the writer handle whole tokens (and runs of tokens that always
//! come together) with one read or write and one comparison, instead of
//! framing and checking strings one by one.

/// The length of `len` bytes once padded to a multiple of 8.
pub const fn padded_len(len: usize) -> usize {
    len.next_multiple_of(8)
}

/// The wire length of `strings` framed one after another.
const fn framed_len(strings: &[&[u8]]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < strings.len() {
        total += 8 + padded_len(strings[i].len());
        i += 1;
    }
    total
}

/// Frames `strings` one after another into an array of exactly their wire
/// length; a wrong `N` fails the build, since this only runs in constants.
const fn frame<const N: usize>(strings: &[&[u8]]) -> [u8; N] {
    assert!(
        N == framed_len(strings),
        "array length must be the framed length"
    );
    let mut out = [0u8; N];
    let mut pos = 0;
    let mut i = 0;
    while i < strings.len() {
        let s = strings[i];
        let len = (s.len() as u64).to_le_bytes();
        let mut j = 0;
        while j < 8 {
            out[pos + j] = len[j];
            j += 1;
        }
        pos += 8;
        let mut j = 0;
        while j < s.len() {
            out[pos + j] = s[j];
            j += 1;
        }
        pos += padded_len(s.len());
        i += 1;
    }
    out
}

/// `"nix-archive-1"`, the magic string every NAR starts with.
pub const TOK_MAGIC: [u8; 24] = frame(&[b"nix-archive-1"]);
/// `"("`, opens a node or a directory entry.
pub const TOK_OPEN: [u8; 16] = frame(&[b"("]);
/// `")"`, closes a node or a directory entry.
pub const TOK_CLOSE: [u8; 16] = frame(&[b")"]);
/// `"type"`, introduces the node type.
pub const TOK_TYPE: [u8; 16] = frame(&[b"type"]);
/// `"regular"`, the node type of files.
pub const TOK_REGULAR: [u8; 16] = frame(&[b"regular"]);
/// `"executable"`, marks a file executable (followed by [TOK_EMPTY]).
pub const TOK_EXECUTABLE: [u8; 24] = frame(&[b"executable"]);
/// `""`, the value of the executable marker.
pub const TOK_EMPTY: [u8; 8] = frame(&[b""]);
/// `"contents"`, introduces a file's contents.
pub const TOK_CONTENTS: [u8; 16] = frame(&[b"contents"]);
/// `"symlink"`, the node type of symlinks.
pub const TOK_SYMLINK: [u8; 16] = frame(&[b"symlink"]);
/// `"target"`, introduces a symlink's target.
pub const TOK_TARGET: [u8; 16] = frame(&[b"target"]);
/// `"directory"`, the node type of directories.
pub const TOK_DIRECTORY: [u8; 24] = frame(&[b"directory"]);
/// `"entry"`, introduces a directory entry.
pub const TOK_ENTRY: [u8; 16] = frame(&[b"entry"]);
/// `"name"`, introduces a directory entry's name.
pub const TOK_NAME: [u8; 16] = frame(&[b"name"]);
/// `"node"`, introduces a directory entry's node.
pub const TOK_NODE: [u8; 16] = frame(&[b"node"]);

/// `"nix-archive-1" "(" "type"`: the start of every NAR.
pub const SEQ_HEADER: [u8; 56] = frame(&[b"nix-archive-1", b"(", b"type"]);
/// `"regular" "contents"`: a non-executable file, up to its contents' length.
pub const SEQ_REGULAR: [u8; 32] = frame(&[b"regular", b"contents"]);
/// `"regular" "executable" "" "contents"`: an executable file, up to its
/// contents' length.
pub const SEQ_EXECUTABLE: [u8; 64] = frame(&[b"regular", b"executable", b"", b"contents"]);
/// `"symlink" "target"`: a symlink, up to its target.
pub const SEQ_SYMLINK: [u8; 32] = frame(&[b"symlink", b"target"]);
/// `"entry" "(" "name"`: a directory entry, up to its name.
pub const SEQ_ENTRY: [u8; 48] = frame(&[b"entry", b"(", b"name"]);
/// `"node" "(" "type"`: between an entry's name and its node's type.
pub const SEQ_NODE: [u8; 48] = frame(&[b"node", b"(", b"type"]);

/// The longest token or token run, for stack buffers that hold any of them.
pub(crate) const MAX_TOKEN_LEN: usize = SEQ_EXECUTABLE.len();

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::magic(&TOK_MAGIC, b"\x0d\0\0\0\0\0\0\0nix-archive-1\0\0\0")]
    #[case::open(&TOK_OPEN, b"\x01\0\0\0\0\0\0\0(\0\0\0\0\0\0\0")]
    #[case::empty(&TOK_EMPTY, b"\0\0\0\0\0\0\0\0")]
    #[case::contents_fills_word(&TOK_CONTENTS, b"\x08\0\0\0\0\0\0\0contents")]
    #[case::directory(&TOK_DIRECTORY, b"\x09\0\0\0\0\0\0\0directory\0\0\0\0\0\0\0")]
    fn token_bytes(#[case] token: &[u8], #[case] expected: &[u8]) {
        assert_eq!(token, expected);
    }

    #[rstest]
    #[case::header(&SEQ_HEADER, &[&TOK_MAGIC[..], &TOK_OPEN[..], &TOK_TYPE[..]])]
    #[case::regular(&SEQ_REGULAR, &[&TOK_REGULAR[..], &TOK_CONTENTS[..]])]
    #[case::executable(&SEQ_EXECUTABLE, &[&TOK_REGULAR[..], &TOK_EXECUTABLE[..], &TOK_EMPTY[..], &TOK_CONTENTS[..]])]
    #[case::symlink(&SEQ_SYMLINK, &[&TOK_SYMLINK[..], &TOK_TARGET[..]])]
    #[case::entry(&SEQ_ENTRY, &[&TOK_ENTRY[..], &TOK_OPEN[..], &TOK_NAME[..]])]
    #[case::node(&SEQ_NODE, &[&TOK_NODE[..], &TOK_OPEN[..], &TOK_TYPE[..]])]
    fn sequences_are_their_tokens(#[case] seq: &[u8], #[case] tokens: &[&[u8]]) {
        assert_eq!(seq, tokens.concat());
    }

    #[rstest]
    #[case::empty(0, 0)]
    #[case::one(1, 8)]
    #[case::word(8, 8)]
    #[case::word_and_one(9, 16)]
    fn padding(#[case] len: usize, #[case] padded: usize) {
        assert_eq!(padded_len(len), padded);
    }
}
