//! Version strings: `splitVersion`, `compareVersions`, `parseDrvName`.

use std::cmp::Ordering;

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ResultExt};
use crate::value::{NixAttrs, NixString, Value};
use crate::vm::generators::Co;

pub(super) use impls::builtins;

/// Splits a version like CppNix's `nextComponent`: runs of digits, runs of
/// other non-separator characters; `.` and `-` separate.
fn version_components(v: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(&first) = rest.first() {
        if matches!(first, b'.' | b'-') {
            rest = &rest[1..];
            continue;
        }
        let digits = first.is_ascii_digit();
        let len = rest
            .iter()
            .position(|c| matches!(c, b'.' | b'-') || c.is_ascii_digit() != digits)
            .unwrap_or(rest.len());
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

/// Compares two components as CppNix's `componentsLT`: a component is a
/// number only if it fits in a C `int`, so longer digit runs compare as
/// words.
fn compare_components(a: &[u8], b: &[u8]) -> Ordering {
    let num = |s: &[u8]| -> Option<i32> {
        if !s.is_empty() && s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ if a.is_empty() && num(b).is_some() => Ordering::Less,
        _ if b.is_empty() && num(a).is_some() => Ordering::Greater,
        _ if a == b"pre" && b != b"pre" => Ordering::Less,
        _ if b == b"pre" && a != b"pre" => Ordering::Greater,
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

/// Compares two version strings as `builtins.compareVersions` does.
pub(crate) fn compare_version_strings(a: &[u8], b: &[u8]) -> Ordering {
    let (ca, cb) = (version_components(a), version_components(b));
    for i in 0..ca.len().max(cb.len()) {
        let x = ca.get(i).copied().unwrap_or(b"");
        let y = cb.get(i).copied().unwrap_or(b"");
        match compare_components(x, y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    Ordering::Equal
}

#[builtins]
mod impls {
    use super::*;

    /// Splits a version into its components: `"1.2pre3"` is
    /// `[ "1" "2" "pre" "3" ]`.
    #[builtin("splitVersion")]
    async fn builtin_split_version(co: &Co, v: Value) -> Result<Value, Error> {
        let v = v
            .as_string()
            .context("while evaluating the first argument passed to builtins.splitVersion")?;
        Ok(Value::list(
            version_components(v.as_bytes())
                .into_iter()
                .map(|c| Value::String(c.into()))
                .collect(),
        ))
    }

    /// -1, 0 or 1 as version `s1` is older than, the same as or newer
    /// than `s2`.
    #[builtin("compareVersions")]
    async fn builtin_compare_versions(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        let a = a
            .as_string()
            .context("while evaluating the first argument passed to builtins.compareVersions")?;
        let b = b
            .as_string()
            .context("while evaluating the second argument passed to builtins.compareVersions")?;
        Ok(Value::Int(
            match compare_version_strings(a.as_bytes(), b.as_bytes()) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            },
        ))
    }

    /// Splits a package name into `{ name; version; }` at the first dash
    /// that is followed by a non-letter.
    #[builtin("parseDrvName")]
    async fn builtin_parse_drv_name(co: &Co, s: Value) -> Result<Value, Error> {
        let s = s
            .as_string()
            .context("while evaluating the first argument passed to builtins.parseDrvName")?;
        let bytes = s.as_bytes();
        let split = (0..bytes.len()).find(|&i| {
            bytes[i] == b'-' && bytes.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic())
        });
        let (name, version): (&[u8], &[u8]) = match split {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (bytes, b""),
        };
        Ok(Value::Attrs(NixAttrs::from_sorted_unique(vec![
            (NixString::from("name"), Value::String(name.into())),
            (NixString::from("version"), Value::String(version.into())),
        ])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::digits_and_letters("1.2pre3", &["1", "2", "pre", "3"])]
    #[case::dashes("2.0-rc1", &["2", "0", "rc", "1"])]
    #[case::repeated_separators("1..2", &["1", "2"])]
    #[case::empty("", &[])]
    fn components(#[case] v: &str, #[case] expected: &[&str]) {
        let got: Vec<&[u8]> = version_components(v.as_bytes());
        let expected: Vec<&[u8]> = expected.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(got, expected);
    }

    #[rstest]
    #[case::numeric("1.10", "1.9", Ordering::Greater)]
    #[case::pre_is_older("1.0pre1", "1.0", Ordering::Less)]
    #[case::longer_is_newer("1.0.1", "1.0", Ordering::Greater)]
    #[case::equal("2.3", "2.3", Ordering::Equal)]
    #[case::beyond_int_is_a_word("1.2147483648", "1.2", Ordering::Less)]
    fn comparison(#[case] a: &str, #[case] b: &str, #[case] expected: Ordering) {
        assert_eq!(
            compare_version_strings(a.as_bytes(), b.as_bytes()),
            expected
        );
    }
}
