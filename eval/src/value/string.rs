//! Nix strings: byte strings that carry a *context*.
//!
//! Nix strings are not required to be UTF-8 (files read with `readFile` can
//! hold any bytes), so the payload is bytes. The context records which store
//! paths a string refers to; it must survive every string operation that
//! keeps (parts of) the text, or derivations would silently lose inputs.

use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;

/// One element of a string's context, in CppNix's three flavours.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContextElement {
    /// A plain store path (`/nix/store/…-foo`), e.g. from `builtins.toFile`.
    Plain(String),
    /// One output of a derivation: (`drv path`, `output name`).
    Single { derivation: String, output: String },
    /// The whole closure of a derivation (`=/nix/store/…drv`).
    Derivation(String),
}

impl ContextElement {
    /// CppNix's text form of the element, with store paths as base names,
    /// as messages show it: `hash-name`, `=hash-name.drv`,
    /// `!out!hash-name.drv`.
    pub fn encoded(&self) -> String {
        let base = |p: &str| p.rsplit_once('/').map_or(p, |(_, b)| b).to_string();
        match self {
            ContextElement::Plain(p) => base(p),
            ContextElement::Derivation(p) => format!("={}", base(p)),
            ContextElement::Single { derivation, output } => {
                format!("!{output}!{}", base(derivation))
            }
        }
    }
}

/// The set of context elements of a string; empty for most strings.
pub type NixContext = BTreeSet<ContextElement>;

/// An immutable, cheaply clonable Nix string.
///
/// One pointer wide, so that a `Value` is two words: text and context sit
/// behind a single `Rc`.
#[derive(Clone)]
pub struct NixString(Rc<Inner>);

struct Inner {
    bytes: Text,
    /// `None` for the usual empty context.
    context: Option<Box<NixContext>>,
}

/// How many bytes a text may have to be held inline.
const INLINE: usize = 22;

/// A string's bytes: short ones (most attribute names, which set lookups
/// compare over and over) inline, one pointer hop from the `NixString`;
/// longer ones in a buffer of their own.
enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Text {
    fn as_slice(&self) -> &[u8] {
        match self {
            Text::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Text::Heap(b) => b,
        }
    }

    fn from_slice(b: &[u8]) -> Self {
        Text::inline(b).unwrap_or_else(|| Text::Heap(b.into()))
    }

    fn from_owned(b: impl Into<Box<[u8]>>) -> Self {
        let b = b.into();
        Text::inline(&b).unwrap_or(Text::Heap(b))
    }

    fn inline(b: &[u8]) -> Option<Self> {
        let mut bytes = [0; INLINE];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Text::Inline {
            len: b.len() as u8,
            bytes,
        })
    }
}

impl NixString {
    pub fn new(bytes: impl Into<Box<[u8]>>, context: NixContext) -> Self {
        NixString(Rc::new(Inner {
            bytes: Text::from_owned(bytes),
            context: if context.is_empty() {
                None
            } else {
                Some(Box::new(context))
            },
        }))
    }

    fn plain(bytes: Text) -> Self {
        NixString(Rc::new(Inner {
            bytes,
            context: None,
        }))
    }

    /// Whether both are the same string object (so certainly equal).
    pub fn ptr_eq(&self, other: &NixString) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.bytes.as_slice()
    }

    /// The text, with invalid UTF-8 replaced; for messages and printing.
    pub fn to_str_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    pub fn context(&self) -> Option<&NixContext> {
        self.0.context.as_deref()
    }

    pub fn has_context(&self) -> bool {
        self.0.context.is_some()
    }

    /// The same text without context (attribute names never carry one).
    pub fn without_context(&self) -> NixString {
        match self.0.context {
            None => self.clone(),
            Some(_) => NixString::plain(Text::from_slice(self.as_bytes())),
        }
    }

    /// `without_context` for an owned string: no copy of the text handle.
    pub fn into_without_context(self) -> NixString {
        match self.0.context {
            None => self,
            Some(_) => NixString::plain(Text::from_slice(self.as_bytes())),
        }
    }

    /// Concatenates strings, uniting their contexts.
    ///
    /// The parts are walked twice: once to size the buffer exactly, once to
    /// fill it. When all the text comes from one part and no other part
    /// adds context (`"" + s`, `"${s}"`), that part is shared, not copied.
    pub fn concat<'a, I>(parts: I) -> NixString
    where
        I: IntoIterator<Item = &'a NixString>,
        I::IntoIter: Clone,
    {
        let parts = parts.into_iter();
        let mut len = 0;
        let mut non_empty = 0;
        let mut with_context = 0;
        let mut only: Option<&NixString> = None;
        for part in parts.clone() {
            if !part.is_empty() {
                len += part.len();
                non_empty += 1;
                only = Some(part);
            }
            with_context += usize::from(part.has_context());
        }
        if non_empty == 1
            && let Some(only) = only
            && (with_context == 0 || (with_context == 1 && only.has_context()))
        {
            return only.clone();
        }
        let mut bytes = Vec::with_capacity(len);
        let mut context = NixContext::new();
        for part in parts {
            bytes.extend_from_slice(part.as_bytes());
            if let Some(c) = part.context() {
                context.extend(c.iter().cloned());
            }
        }
        NixString::new(bytes, context)
    }

    /// A new string with `bytes` as text and this string's context.
    pub fn with_same_context(&self, bytes: impl Into<Box<[u8]>>) -> NixString {
        NixString(Rc::new(Inner {
            bytes: Text::from_owned(bytes),
            context: self.0.context.clone(),
        }))
    }
}

impl Default for NixString {
    fn default() -> Self {
        NixString::plain(Text::from_slice(&[]))
    }
}

impl From<&str> for NixString {
    fn from(s: &str) -> Self {
        NixString::plain(Text::from_slice(s.as_bytes()))
    }
}

impl From<String> for NixString {
    fn from(s: String) -> Self {
        NixString::plain(Text::from_owned(s.into_bytes()))
    }
}

impl From<Vec<u8>> for NixString {
    fn from(b: Vec<u8>) -> Self {
        NixString::plain(Text::from_owned(b))
    }
}

impl From<&[u8]> for NixString {
    fn from(b: &[u8]) -> Self {
        NixString::plain(Text::from_slice(b))
    }
}

/// Equality and ordering look at the text only: CppNix ignores contexts
/// when comparing strings.
impl PartialEq for NixString {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other) || self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NixString {}

impl PartialOrd for NixString {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NixString {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.ptr_eq(other) {
            return std::cmp::Ordering::Equal;
        }
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for NixString {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for NixString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_str_lossy())
    }
}

impl fmt::Display for NixString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str_lossy())
    }
}

/// Writes `s` as a Nix string literal, escaping as CppNix's printer does.
pub fn write_escaped(out: &mut String, s: &[u8]) {
    out.push('"');
    let text = String::from_utf8_lossy(s);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("abc", r#""abc""#)]
    #[case::quote("a\"b", r#""a\"b""#)]
    #[case::newline_tab("a\nb\tc\r", r#""a\nb\tc\r""#)]
    #[case::dollar_curly("${x} $y", r#""\${x} $y""#)]
    #[case::backslash("a\\b", r#""a\\b""#)]
    fn escaping(#[case] input: &str, #[case] expected: &str) {
        let mut out = String::new();
        write_escaped(&mut out, input.as_bytes());
        assert_eq!(out, expected);
    }

    /// Texts up to `INLINE` bytes are held inline, longer ones on the
    /// heap; both read back the same.
    #[rstest]
    #[case::empty("")]
    #[case::short("count")]
    #[case::longest_inline("0123456789abcdefghijkl")]
    #[case::shortest_heap("0123456789abcdefghijklm")]
    fn text_round_trips(#[case] text: &str) {
        let from_slice = NixString::from(text);
        let from_owned = NixString::from(text.to_string());
        assert_eq!(
            (from_slice.as_bytes(), from_owned.as_bytes()),
            (text.as_bytes(), text.as_bytes())
        );
    }

    #[test]
    fn concat_unites_contexts() {
        let a = NixString::new(*b"a", [ContextElement::Plain("/nix/store/x".into())].into());
        let b = NixString::new(
            *b"b",
            [ContextElement::Derivation("/nix/store/y.drv".into())].into(),
        );
        let c = NixString::concat([&a, &b]);
        assert_eq!(c.as_bytes(), b"ab");
        assert_eq!(c.context().map(|c| c.len()), Some(2));
    }

    /// The shortcut that shares a lone non-empty part must not drop the
    /// context of an empty part.
    #[rstest]
    #[case::lone_plain(&[("", false), ("ab", false)], "ab", 0)]
    #[case::lone_with_context(&[("", false), ("ab", true)], "ab", 1)]
    #[case::empty_part_with_context(&[("", true), ("ab", false)], "ab", 1)]
    #[case::all_empty_with_context(&[("", true), ("", false)], "", 1)]
    #[case::two_parts(&[("a", false), ("b", true)], "ab", 1)]
    fn concat_cases(
        #[case] parts: &[(&str, bool)],
        #[case] text: &str,
        #[case] context_len: usize,
    ) {
        let parts: Vec<NixString> = parts
            .iter()
            .map(|(s, ctx)| {
                let context = if *ctx {
                    [ContextElement::Plain("/nix/store/x".into())].into()
                } else {
                    NixContext::new()
                };
                NixString::new(s.as_bytes(), context)
            })
            .collect();
        let c = NixString::concat(parts.iter());
        assert_eq!(
            (c.as_bytes(), c.context().map_or(0, |c| c.len())),
            (text.as_bytes(), context_len)
        );
    }
}
