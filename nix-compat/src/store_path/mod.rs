//! Nix store paths: `/nix/store/<nixbase32 digest>-<name>`.
//!
//! A [StorePath] (owned) or [StorePathRef] (borrowed) has been validated:
//! its digest is 20 bytes and its name obeys Nix's rules, so code holding
//! one never re-checks. Ordering follows the textual form, as CppNix's
//! `StorePathSet` does, because that order shows up in hashed fingerprints.

use std::{cmp::Ordering, fmt};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::nixbase32;

mod make;

pub use make::{
    BuildStorePathError, build_ca_path, build_output_path, build_text_path, compress_hash,
};

/// The store directory; tvix, like the binary caches, only knows this one.
pub const STORE_DIR: &str = "/nix/store";
pub const STORE_DIR_WITH_SLASH: &str = "/nix/store/";

/// Bytes in a store path digest.
pub const DIGEST_SIZE: usize = 20;
/// Characters of the nixbase32-encoded digest.
pub const ENCODED_DIGEST_SIZE: usize = nixbase32::encode_len(DIGEST_SIZE);
/// The longest name Nix accepts (`StorePath::MaxPathLen` in CppNix).
pub const MAX_NAME_LEN: usize = 211;

/// Why bytes are not a store path.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum Error {
    #[error("store path {0:?} is too short to hold a digest and a name")]
    TooShort(String),
    #[error("store path {path:?} has an invalid digest: {source}")]
    InvalidDigest {
        path: String,
        source: nixbase32::Nixbase32DecodeError,
    },
    #[error("store path {0:?} has no '-' between digest and name")]
    MissingDash(String),
    #[error("store path {0:?} has an empty name")]
    EmptyName(String),
    #[error("store path {path:?} has a name longer than {MAX_NAME_LEN} characters ({len})")]
    NameTooLong { path: String, len: usize },
    #[error(
        "store path {path:?} contains the invalid character {char:?} at position {pos} of its name"
    )]
    InvalidCharacter {
        path: String,
        char: char,
        pos: usize,
    },
    #[error("path {0:?} is not in the store directory {STORE_DIR}")]
    NotInStoreDir(String),
    #[error("store path digest must be {DIGEST_SIZE} bytes, got {0}")]
    InvalidDigestLength(usize),
}

/// Checks a store path name against Nix's rules and returns it as `&str`.
///
/// Nix 2.8 allows ASCII letters and digits and `+-._?=`, up to 211 bytes;
/// names starting with `.` are allowed.
pub fn validate_name(name: &[u8]) -> Result<&str, Error> {
    let lossy = || String::from_utf8_lossy(name).into_owned();
    if name.is_empty() {
        return Err(Error::EmptyName(lossy()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::NameTooLong {
            path: lossy(),
            len: name.len(),
        });
    }
    if let Some(pos) = name
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || b"+-._?=".contains(c)))
    {
        return Err(Error::InvalidCharacter {
            path: lossy(),
            char: name[pos] as char,
            pos,
        });
    }
    // All bytes are ASCII, so this cannot fail; the error arm keeps it
    // panic-free anyway.
    std::str::from_utf8(name).map_err(|_| Error::EmptyName(lossy()))
}

/// A borrowed store path: a digest and a name pointing into some buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StorePathRef<'a> {
    digest: [u8; DIGEST_SIZE],
    name: &'a str,
}

/// An owned store path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorePath {
    digest: [u8; DIGEST_SIZE],
    name: Box<str>,
}

impl<'a> StorePathRef<'a> {
    /// Parses a basename, `<digest>-<name>`.
    pub fn from_bytes(basename: &'a [u8]) -> Result<Self, Error> {
        let lossy = || String::from_utf8_lossy(basename).into_owned();
        if basename.len() < ENCODED_DIGEST_SIZE + 2 {
            return Err(Error::TooShort(lossy()));
        }
        let (digest, rest) = basename.split_at(ENCODED_DIGEST_SIZE);
        let digest = nixbase32::decode_fixed(digest).map_err(|source| Error::InvalidDigest {
            path: lossy(),
            source,
        })?;
        let name = rest
            .strip_prefix(b"-")
            .ok_or_else(|| Error::MissingDash(lossy()))?;
        Ok(Self {
            digest,
            name: validate_name(name).map_err(|e| e.with_path(lossy()))?,
        })
    }

    /// Parses `/nix/store/<digest>-<name>`.
    pub fn from_absolute_path(path: &'a [u8]) -> Result<Self, Error> {
        let basename = path
            .strip_prefix(STORE_DIR_WITH_SLASH.as_bytes())
            .ok_or_else(|| Error::NotInStoreDir(String::from_utf8_lossy(path).into_owned()))?;
        Self::from_bytes(basename)
    }

    /// Parses a path below the store, `/nix/store/<digest>-<name>/rest`,
    /// returning the store path and the rest (empty, or starting with `/`).
    pub fn from_absolute_path_full(path: &'a [u8]) -> Result<(Self, &'a [u8]), Error> {
        let below = path
            .strip_prefix(STORE_DIR_WITH_SLASH.as_bytes())
            .ok_or_else(|| Error::NotInStoreDir(String::from_utf8_lossy(path).into_owned()))?;
        let end = below.iter().position(|&c| c == b'/').unwrap_or(below.len());
        let (basename, rest) = below.split_at(end);
        Ok((Self::from_bytes(basename)?, rest))
    }

    /// Builds a store path from its parts, validating the name.
    pub fn from_name_and_digest(name: &'a str, digest: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            digest: digest
                .try_into()
                .map_err(|_| Error::InvalidDigestLength(digest.len()))?,
            name: validate_name(name.as_bytes())?,
        })
    }

    pub fn digest(&self) -> &[u8; DIGEST_SIZE] {
        &self.digest
    }

    pub fn name(&self) -> &'a str {
        self.name
    }

    /// `/nix/store/<digest>-<name>`.
    pub fn to_absolute_path(&self) -> String {
        format!("{STORE_DIR_WITH_SLASH}{self}")
    }

    pub fn to_owned(&self) -> StorePath {
        StorePath {
            digest: self.digest,
            name: self.name.into(),
        }
    }
}

impl StorePath {
    /// Parses a basename, `<digest>-<name>`.
    pub fn from_bytes(basename: &[u8]) -> Result<Self, Error> {
        StorePathRef::from_bytes(basename).map(|p| p.to_owned())
    }

    /// Parses `/nix/store/<digest>-<name>`.
    pub fn from_absolute_path(path: &[u8]) -> Result<Self, Error> {
        StorePathRef::from_absolute_path(path).map(|p| p.to_owned())
    }

    /// Parses a path below the store; see [StorePathRef::from_absolute_path_full].
    pub fn from_absolute_path_full(path: &[u8]) -> Result<(Self, &[u8]), Error> {
        StorePathRef::from_absolute_path_full(path).map(|(p, rest)| (p.to_owned(), rest))
    }

    /// Builds a store path from its parts, validating the name.
    pub fn from_name_and_digest(name: &str, digest: &[u8]) -> Result<Self, Error> {
        StorePathRef::from_name_and_digest(name, digest).map(|p| p.to_owned())
    }

    pub fn digest(&self) -> &[u8; DIGEST_SIZE] {
        &self.digest
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/nix/store/<digest>-<name>`.
    pub fn to_absolute_path(&self) -> String {
        self.as_ref().to_absolute_path()
    }

    pub fn as_ref(&self) -> StorePathRef<'_> {
        StorePathRef {
            digest: self.digest,
            name: &self.name,
        }
    }
}

impl Error {
    /// Replaces the name-only context of a name error with the whole path.
    /// The path (or name) the error is about, for the errors of names.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::EmptyName(path)
            | Error::NameTooLong { path, .. }
            | Error::InvalidCharacter { path, .. } => Some(path),
            _ => None,
        }
    }

    fn with_path(self, path: String) -> Self {
        match self {
            Error::EmptyName(_) => Error::EmptyName(path),
            Error::NameTooLong { len, .. } => Error::NameTooLong { path, len },
            Error::InvalidCharacter { char, pos, .. } => {
                Error::InvalidCharacter { path, char, pos }
            }
            other => other,
        }
    }
}

impl fmt::Display for StorePathRef<'_> {
    /// The basename, `<digest>-<name>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", nixbase32::encode(&self.digest), self.name)
    }
}

impl fmt::Display for StorePath {
    /// The basename, `<digest>-<name>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

impl Ord for StorePathRef<'_> {
    /// Orders like the textual basename: nixbase32 does not keep byte order,
    /// so the digests are compared in their encoded form.
    fn cmp(&self, other: &Self) -> Ordering {
        let (mut a, mut b) = ([0u8; ENCODED_DIGEST_SIZE], [0u8; ENCODED_DIGEST_SIZE]);
        nixbase32::encode_into(&self.digest, &mut a);
        nixbase32::encode_into(&other.digest, &mut b);
        a.cmp(&b).then_with(|| self.name.cmp(other.name))
    }
}

impl PartialOrd for StorePathRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StorePath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_ref().cmp(&other.as_ref())
    }
}

impl PartialOrd for StorePath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for StorePathRef<'_> {
    /// As the absolute path, the form Nix's JSON uses.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_absolute_path())
    }
}

impl Serialize for StorePath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_ref().serialize(serializer)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for StorePathRef<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s: &'de str = Deserialize::deserialize(deserializer)?;
        StorePathRef::from_absolute_path(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for StorePath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s: std::borrow::Cow<'de, str> = Deserialize::deserialize(deserializer)?;
        StorePath::from_absolute_path(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    const HELLO: &str = "00bgd045z0d4icpbc2yyz4gx48ak44la-net-tools-1.60_p20170221182432";

    #[rstest]
    #[case::plain(HELLO, "net-tools-1.60_p20170221182432")]
    #[case::leading_dot("00bgd045z0d4icpbc2yyz4gx48ak44la-.gitignore", ".gitignore")]
    #[case::all_special_chars("00bgd045z0d4icpbc2yyz4gx48ak44la-a+b-c._?=", "a+b-c._?=")]
    #[case::dot("00bgd045z0d4icpbc2yyz4gx48ak44la-.", ".")]
    fn parses(#[case] basename: &str, #[case] name: &str) {
        let p = StorePathRef::from_bytes(basename.as_bytes()).unwrap();
        assert_eq!(p.name(), name);
        assert_eq!(nixbase32::encode(p.digest()), &basename[..32]);
        assert_eq!(p.to_string(), basename);
        assert_eq!(p.to_absolute_path(), format!("/nix/store/{basename}"));
        assert_eq!(
            StorePath::from_absolute_path(p.to_absolute_path().as_bytes()).unwrap(),
            p.to_owned()
        );
    }

    #[test]
    fn name_of_max_length() {
        let name = "a".repeat(MAX_NAME_LEN);
        let basename = format!("00bgd045z0d4icpbc2yyz4gx48ak44la-{name}");
        assert_eq!(
            StorePath::from_bytes(basename.as_bytes()).unwrap().name(),
            name
        );
        let too_long = format!("{basename}a");
        assert_eq!(
            StorePath::from_bytes(too_long.as_bytes()),
            Err(Error::NameTooLong {
                path: too_long.clone(),
                len: MAX_NAME_LEN + 1
            })
        );
    }

    #[rstest]
    #[case::empty("", Error::TooShort("".into()))]
    #[case::no_name("00bgd045z0d4icpbc2yyz4gx48ak44la-", Error::TooShort("00bgd045z0d4icpbc2yyz4gx48ak44la-".into()))]
    #[case::no_dash("00bgd045z0d4icpbc2yyz4gx48ak44la_foo", Error::MissingDash("00bgd045z0d4icpbc2yyz4gx48ak44la_foo".into()))]
    #[case::bad_digest_char(
        "00bgd045z0d4icpbc2yyz4gx48ak44le-foo",
        Error::InvalidDigest {
            path: "00bgd045z0d4icpbc2yyz4gx48ak44le-foo".into(),
            source: nixbase32::Nixbase32DecodeError::CharacterNotInAlphabet('e', 31),
        }
    )]
    #[case::space_in_name(
        "00bgd045z0d4icpbc2yyz4gx48ak44la-a b",
        Error::InvalidCharacter { path: "00bgd045z0d4icpbc2yyz4gx48ak44la-a b".into(), char: ' ', pos: 1 }
    )]
    #[case::slash_in_name(
        "00bgd045z0d4icpbc2yyz4gx48ak44la-a/b",
        Error::InvalidCharacter { path: "00bgd045z0d4icpbc2yyz4gx48ak44la-a/b".into(), char: '/', pos: 1 }
    )]
    #[case::non_ascii(
        "00bgd045z0d4icpbc2yyz4gx48ak44la-\u{e4}",
        Error::InvalidCharacter { path: "00bgd045z0d4icpbc2yyz4gx48ak44la-\u{e4}".into(), char: '\u{c3}', pos: 0 }
    )]
    fn rejects(#[case] basename: &str, #[case] err: Error) {
        assert_eq!(StorePathRef::from_bytes(basename.as_bytes()), Err(err));
    }

    #[rstest]
    #[case::basename_only(HELLO)]
    #[case::other_dir("/gnu/store/00bgd045z0d4icpbc2yyz4gx48ak44la-foo")]
    #[case::no_slash("/nix/store00bgd045z0d4icpbc2yyz4gx48ak44la-foo")]
    fn rejects_absolute(#[case] path: &str) {
        assert_eq!(
            StorePath::from_absolute_path(path.as_bytes()),
            Err(Error::NotInStoreDir(path.into()))
        );
    }

    #[rstest]
    #[case::bare("/nix/store/00bgd045z0d4icpbc2yyz4gx48ak44la-foo", "")]
    #[case::below("/nix/store/00bgd045z0d4icpbc2yyz4gx48ak44la-foo/bin/sh", "/bin/sh")]
    fn absolute_path_full(#[case] path: &str, #[case] rest: &str) {
        let (p, r) = StorePathRef::from_absolute_path_full(path.as_bytes()).unwrap();
        assert_eq!(p.name(), "foo");
        assert_eq!(r, rest.as_bytes());
    }

    #[test]
    fn orders_by_text() {
        // The first byte ends up in the last characters of the text, the
        // last byte in the first ones: text order differs from byte order.
        let mut low = [0u8; 20];
        low[0] = 0x01;
        let mut high = [0u8; 20];
        high[19] = 0x80;
        let a = StorePath::from_name_and_digest("x", &low).unwrap();
        let b = StorePath::from_name_and_digest("x", &high).unwrap();
        assert!(a.digest() > b.digest());
        assert_eq!(a.cmp(&b), Ordering::Less);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn serde_uses_absolute_path() {
        let p = StorePath::from_bytes(HELLO.as_bytes()).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"/nix/store/{HELLO}\""));
        assert_eq!(serde_json::from_str::<StorePath>(&json).unwrap(), p);
        assert!(serde_json::from_str::<StorePath>(&format!("\"{HELLO}\"")).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = StorePathRef::from_bytes(&bytes);
            let _ = StorePathRef::from_absolute_path_full(&bytes);
        }

        #[test]
        fn roundtrip(digest in proptest::array::uniform20(any::<u8>()), name in "[a-zA-Z0-9+._?=-]{1,211}") {
            let p = StorePath::from_name_and_digest(&name, &digest).unwrap();
            prop_assert_eq!(StorePath::from_bytes(p.to_string().as_bytes()).unwrap(), p);
        }

        #[test]
        fn order_matches_text(a in proptest::array::uniform20(any::<u8>()), b in proptest::array::uniform20(any::<u8>())) {
            let a = StorePath::from_name_and_digest("n", &a).unwrap();
            let b = StorePath::from_name_and_digest("n", &b).unwrap();
            prop_assert_eq!(a.cmp(&b), a.to_string().cmp(&b.to_string()));
        }
    }
}
