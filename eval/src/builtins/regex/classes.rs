//! What a bracket expression can name, as libstdc++'s `regex_traits<char>`
//! sees it in the "C" locale CppNix's regexes use: byte sets, the character
//! classes of `[[:alpha:]]`, and the collating names of `[[.space.]]` and
//! `[[=a=]]`. Bytes from 0x80 up belong to no class, as in that locale.

/// A set of bytes: what one NFA matcher accepts.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ByteSet([u64; 4]);

impl ByteSet {
    pub(super) fn single(b: u8) -> Self {
        let mut set = ByteSet::default();
        set.insert(b);
        set
    }

    pub(super) fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    pub(super) fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] >> (b & 63) & 1 == 1
    }

    pub(super) fn insert_where(&mut self, pred: impl Fn(u8) -> bool) {
        for b in 0..=u8::MAX {
            if pred(b) {
                self.insert(b);
            }
        }
    }

    pub(super) fn complement(self) -> Self {
        ByteSet(self.0.map(|w| !w))
    }

    pub(super) fn len(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// The set as maximal runs of consecutive bytes.
    pub(super) fn ranges(&self) -> Vec<(u8, u8)> {
        let mut out: Vec<(u8, u8)> = Vec::new();
        for b in (0..=u8::MAX).filter(|&b| self.contains(b)) {
            match out.last_mut() {
                Some((_, hi)) if hi.checked_add(1) == Some(b) => *hi = b,
                _ => out.push((b, b)),
            }
        }
        out
    }
}

/// A class name of `[[:name:]]`, looked up case-insensitively like
/// `regex_traits::lookup_classname`; `None` for an unknown name (an
/// invalid regex). `d`, `w` and `s` are libstdc++ extensions.
pub(super) fn class_by_name(name: &[u8]) -> Option<fn(u8) -> bool> {
    let class: fn(u8) -> bool = match name.to_ascii_lowercase().as_slice() {
        b"d" | b"digit" => |b| b.is_ascii_digit(),
        b"w" => |b| b.is_ascii_alphanumeric() || b == b'_',
        b"s" | b"space" => is_space,
        b"alnum" => |b| b.is_ascii_alphanumeric(),
        b"alpha" => |b| b.is_ascii_alphabetic(),
        b"blank" => |b| b == b' ' || b == b'\t',
        b"cntrl" => |b| b.is_ascii_control(),
        b"graph" => |b| b.is_ascii_graphic(),
        b"lower" => |b| b.is_ascii_lowercase(),
        b"print" => |b| b == b' ' || b.is_ascii_graphic(),
        b"punct" => |b| b.is_ascii_punctuation(),
        b"upper" => |b| b.is_ascii_uppercase(),
        b"xdigit" => |b| b.is_ascii_hexdigit(),
        _ => return None,
    };
    Some(class)
}

/// `isspace` in the "C" locale, which unlike `u8::is_ascii_whitespace`
/// includes the vertical tab.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The names `regex_traits::lookup_collatename` knows, indexed by the byte
/// they stand for: POSIX's portable character set names. Anything else,
/// even a single character like `1` (whose name is `one`), is invalid.
const COLLATING_NAMES: [&str; 128] = [
    "NUL",
    "SOH",
    "STX",
    "ETX",
    "EOT",
    "ENQ",
    "ACK",
    "alert",
    "backspace",
    "tab",
    "newline",
    "vertical-tab",
    "form-feed",
    "carriage-return",
    "SO",
    "SI",
    "DLE",
    "DC1",
    "DC2",
    "DC3",
    "DC4",
    "NAK",
    "SYN",
    "ETB",
    "CAN",
    "EM",
    "SUB",
    "ESC",
    "IS4",
    "IS3",
    "IS2",
    "IS1",
    "space",
    "exclamation-mark",
    "quotation-mark",
    "number-sign",
    "dollar-sign",
    "percent-sign",
    "ampersand",
    "apostrophe",
    "left-parenthesis",
    "right-parenthesis",
    "asterisk",
    "plus-sign",
    "comma",
    "hyphen",
    "period",
    "slash",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "colon",
    "semicolon",
    "less-than-sign",
    "equals-sign",
    "greater-than-sign",
    "question-mark",
    "commercial-at",
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "I",
    "J",
    "K",
    "L",
    "M",
    "N",
    "O",
    "P",
    "Q",
    "R",
    "S",
    "T",
    "U",
    "V",
    "W",
    "X",
    "Y",
    "Z",
    "left-square-bracket",
    "backslash",
    "right-square-bracket",
    "circumflex",
    "underscore",
    "grave-accent",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "left-curly-bracket",
    "vertical-line",
    "right-curly-bracket",
    "tilde",
    "DEL",
];

/// The byte a collating name stands for (`[[.hyphen.]]` is `-`).
pub(super) fn collating_element(name: &[u8]) -> Option<u8> {
    let index = COLLATING_NAMES.iter().position(|n| n.as_bytes() == name)?;
    u8::try_from(index).ok()
}

/// The bytes `[[=name=]]` matches: those equal to the named one after
/// `tolower`, which is all libstdc++'s `transform_primary` compares.
pub(super) fn equivalence_class(name: &[u8]) -> Option<ByteSet> {
    let c = collating_element(name)?.to_ascii_lowercase();
    let mut set = ByteSet::default();
    set.insert_where(|b| b.to_ascii_lowercase() == c);
    Some(set)
}

/// The bytes of the range `lo-hi`, or `None` if it is reversed. libstdc++
/// compares `char`s, which are signed: `[\x80-\xff]` is fine while
/// `[a-\xff]` is reversed, and `[\xff-a]` spans 0xff and 0x00..=a.
pub(super) fn range(lo: u8, hi: u8) -> Option<ByteSet> {
    let (slo, shi) = (lo as i8, hi as i8);
    if slo > shi {
        return None;
    }
    let mut set = ByteSet::default();
    set.insert_where(|b| (slo..=shi).contains(&(b as i8)));
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain(b'a', b'c', Some(vec![(b'a', b'c')]))]
    #[case::high_bytes(0x80, 0xff, Some(vec![(0x80, 0xff)]))]
    #[case::reversed(b'z', b'a', None)]
    #[case::ascii_to_high_is_reversed(b'a', 0xff, None)]
    #[case::high_to_ascii_wraps(0xff, b'a', Some(vec![(0, b'a'), (0xff, 0xff)]))]
    fn ranges(#[case] lo: u8, #[case] hi: u8, #[case] expected: Option<Vec<(u8, u8)>>) {
        assert_eq!(range(lo, hi).map(|s| s.ranges()), expected);
    }

    #[rstest]
    #[case::letter(b"a", Some(b'a'))]
    #[case::named(b"hyphen", Some(b'-'))]
    #[case::control(b"NUL", Some(0))]
    #[case::digit_is_spelled_out(b"1", None)]
    #[case::unknown(b"ab", None)]
    fn collating_names(#[case] name: &[u8], #[case] expected: Option<u8>) {
        assert_eq!(collating_element(name), expected);
    }

    #[test]
    fn equivalence_ignores_case() {
        assert_eq!(
            equivalence_class(b"a").map(|s| s.ranges()),
            Some(vec![(b'A', b'A'), (b'a', b'a')])
        );
    }

    #[rstest]
    #[case::upper_name(b"ALPHA", b'q', true)]
    #[case::word_underscore(b"w", b'_', true)]
    #[case::space_vertical_tab(b"space", 0x0b, true)]
    #[case::blank_tab(b"blank", b'\t', true)]
    #[case::blank_newline(b"blank", b'\n', false)]
    #[case::print_space(b"print", b' ', true)]
    #[case::graph_space(b"graph", b' ', false)]
    #[case::alpha_high_byte(b"alpha", 0xc3, false)]
    fn classes(#[case] name: &[u8], #[case] byte: u8, #[case] expected: bool) {
        assert_eq!(class_by_name(name).map(|c| c(byte)), Some(expected));
    }
}
