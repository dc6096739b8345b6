//! What a NAR may hold as a directory entry name and as a symlink target.
//!
//! The reader and the writer apply the same rules, so the writer never
//! produces a NAR that the reader rejects. The length caps are what Linux
//! can hold: no real tree exceeds them, and they bound what a hostile length
//! prefix can make the reader allocate.

use bstr::BString;
use thiserror::Error;

/// The longest entry name, in bytes: Linux's `NAME_MAX`.
pub const MAX_NAME_LEN: usize = 255;

/// The longest symlink target, in bytes: Linux's `PATH_MAX` less its NUL.
pub const MAX_TARGET_LEN: usize = 4095;

/// Why a directory entry name is not allowed.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum NameError {
    #[error("entry name is empty")]
    Empty,
    #[error("entry name is \".\"")]
    Dot,
    #[error("entry name is \"..\"")]
    DotDot,
    #[error("entry name {0:?} contains '/'")]
    ContainsSlash(BString),
    #[error("entry name {0:?} contains a NUL byte")]
    ContainsNul(BString),
    #[error("entry name is {0} bytes long, more than {MAX_NAME_LEN}")]
    TooLong(u64),
    #[error("entry name {name:?} does not sort after the previous entry {prev:?}")]
    Unsorted { prev: BString, name: BString },
    #[error("entry name {0:?} is a duplicate of the previous entry")]
    Duplicate(BString),
}

/// Why a symlink target is not allowed.
///
/// CppNix's parser does not check targets, but it cannot restore an empty
/// one, and a NUL byte would silently cut the target short when passed to
/// `symlink(2)`, so no tree it dumps has either.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum TargetError {
    #[error("symlink target is empty")]
    Empty,
    #[error("symlink target {0:?} contains a NUL byte")]
    ContainsNul(BString),
    #[error("symlink target is {0} bytes long, more than {MAX_TARGET_LEN}")]
    TooLong(u64),
}

/// Checks a name's length as declared on the wire, before reading it.
pub fn check_name_len(len: u64) -> Result<usize, NameError> {
    usize::try_from(len)
        .ok()
        .filter(|len| *len <= MAX_NAME_LEN)
        .ok_or(NameError::TooLong(len))
}

/// Checks that `name` may follow the entry named `prev` (`None` for the
/// first entry): a valid name that sorts strictly after `prev` by bytes,
/// the order CppNix writes entries in.
pub fn check_entry_name(prev: Option<&[u8]>, name: &[u8]) -> Result<(), NameError> {
    check_name_len(name.len() as u64)?;
    match name {
        b"" => return Err(NameError::Empty),
        b"." => return Err(NameError::Dot),
        b".." => return Err(NameError::DotDot),
        _ => {}
    }
    if name.contains(&b'/') {
        return Err(NameError::ContainsSlash(name.into()));
    }
    if name.contains(&0) {
        return Err(NameError::ContainsNul(name.into()));
    }
    match prev {
        Some(prev) if prev == name => Err(NameError::Duplicate(name.into())),
        Some(prev) if prev > name => Err(NameError::Unsorted {
            prev: prev.into(),
            name: name.into(),
        }),
        _ => Ok(()),
    }
}

/// Checks a symlink target's length as declared on the wire, before reading it.
pub fn check_target_len(len: u64) -> Result<usize, TargetError> {
    usize::try_from(len)
        .ok()
        .filter(|len| *len <= MAX_TARGET_LEN)
        .ok_or(TargetError::TooLong(len))
}

/// Checks a symlink target.
pub fn check_target(target: &[u8]) -> Result<(), TargetError> {
    check_target_len(target.len() as u64)?;
    if target.is_empty() {
        return Err(TargetError::Empty);
    }
    if target.contains(&0) {
        return Err(TargetError::ContainsNul(target.into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::first(None, b"a", Ok(()))]
    #[case::ascending(Some(&b"a"[..]), b"b", Ok(()))]
    #[case::upper_before_lower(Some(&b"B"[..]), b"a", Ok(()))]
    #[case::prefix_first(Some(&b"a"[..]), b"a.b", Ok(()))]
    #[case::dot_before_letter(Some(&b"a.b"[..]), b"ab", Ok(()))]
    #[case::high_bytes_last(Some(&b"z"[..]), "é".as_bytes(), Ok(()))]
    #[case::dots_inside(None, b"...", Ok(()))]
    #[case::longest(None, &[b'x'; MAX_NAME_LEN], Ok(()))]
    #[case::empty(None, b"", Err(NameError::Empty))]
    #[case::dot(None, b".", Err(NameError::Dot))]
    #[case::dotdot(None, b"..", Err(NameError::DotDot))]
    #[case::slash(None, b"a/b", Err(NameError::ContainsSlash("a/b".into())))]
    #[case::nul(None, b"a\0", Err(NameError::ContainsNul("a\0".into())))]
    #[case::too_long(None, &[b'x'; MAX_NAME_LEN + 1], Err(NameError::TooLong(256)))]
    #[case::duplicate(Some(&b"a"[..]), b"a", Err(NameError::Duplicate("a".into())))]
    #[case::unsorted(Some(&b"b"[..]), b"a", Err(NameError::Unsorted { prev: "b".into(), name: "a".into() }))]
    #[case::longer_before_prefix(Some(&b"ab"[..]), b"a", Err(NameError::Unsorted { prev: "ab".into(), name: "a".into() }))]
    fn entry_names(
        #[case] prev: Option<&[u8]>,
        #[case] name: &[u8],
        #[case] expected: Result<(), NameError>,
    ) {
        assert_eq!(check_entry_name(prev, name), expected);
    }

    #[rstest]
    #[case::relative(b"../a", Ok(()))]
    #[case::absolute(b"/nix/store", Ok(()))]
    #[case::longest(&[b'x'; MAX_TARGET_LEN], Ok(()))]
    #[case::empty(b"", Err(TargetError::Empty))]
    #[case::nul(b"a\0b", Err(TargetError::ContainsNul("a\0b".into())))]
    #[case::too_long(&[b'x'; MAX_TARGET_LEN + 1], Err(TargetError::TooLong(4096)))]
    fn targets(#[case] target: &[u8], #[case] expected: Result<(), TargetError>) {
        assert_eq!(check_target(target), expected);
    }

    #[rstest]
    #[case::name_max(MAX_NAME_LEN as u64, Ok(MAX_NAME_LEN))]
    #[case::name_huge(u64::MAX, Err(NameError::TooLong(u64::MAX)))]
    fn name_lengths(#[case] len: u64, #[case] expected: Result<usize, NameError>) {
        assert_eq!(check_name_len(len), expected);
    }

    #[rstest]
    #[case::target_max(MAX_TARGET_LEN as u64, Ok(MAX_TARGET_LEN))]
    #[case::target_huge(u64::MAX, Err(TargetError::TooLong(u64::MAX)))]
    fn target_lengths(#[case] len: u64, #[case] expected: Result<usize, TargetError>) {
        assert_eq!(check_target_len(len), expected);
    }
}
