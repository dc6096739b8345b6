//! Writing derivations in CppNix's ATerm form:
//!
//! ```text
//! Derive([("out","/nix/store/…","","")],[("/nix/store/….drv",["out"])],
//!        ["/nix/store/…"],"x86_64-linux","/bin/sh",["-c","…"],[("name","…")])
//! ```
//!
//! (on one line). Every value is a quoted string in which only `"`, `\`,
//! newline, carriage return and tab are escaped; other bytes are copied.
//! The derivation's path and hash are computed from these bytes, so they
//! must match CppNix's exactly.

use std::collections::BTreeSet;

use super::Derivation;

impl Derivation {
    /// The ATerm serialisation, byte for byte as CppNix writes `.drv` files.
    pub fn to_aterm_bytes(&self) -> Vec<u8> {
        self.write_aterm(
            self.input_derivations
                .iter()
                .map(|(path, outputs)| (path.to_absolute_path(), outputs)),
        )
    }

    /// The ATerm serialisation with `inputDrvs` replaced by `replacements`,
    /// as `hash_derivation_modulo` hashes it: keys are the lowercase hex
    /// hashes standing in for the input derivations' paths, sorted and
    /// each once.
    pub(super) fn to_aterm_bytes_with_replacements<
        S: std::ops::Deref<Target = BTreeSet<String>>,
    >(
        &self,
        replacements: &[([u8; 64], S)],
    ) -> Vec<u8> {
        self.write_aterm(replacements.iter().map(|(hex, outputs)| (hex, &**outputs)))
    }

    fn write_aterm<'s, K: AsRef<[u8]>>(
        &self,
        input_derivations: impl Iterator<Item = (K, &'s BTreeSet<String>)>,
    ) -> Vec<u8> {
        let mut out = b"Derive(".to_vec();

        write_list(&mut out, &self.outputs, |out, (name, output)| {
            let path = output
                .path
                .as_ref()
                .map(|p| p.to_absolute_path())
                .unwrap_or_default();
            write_tuple(
                out,
                [
                    name.as_bytes(),
                    path.as_bytes(),
                    output.hash_algo_field().as_bytes(),
                    output.hash_field().as_bytes(),
                ],
            );
        });
        out.push(b',');

        write_list(&mut out, input_derivations, |out, (path, outputs)| {
            out.push(b'(');
            write_string(out, path.as_ref());
            out.push(b',');
            write_string_list(out, outputs);
            out.push(b')');
        });
        out.push(b',');

        write_string_list(
            &mut out,
            self.input_sources.iter().map(|p| p.to_absolute_path()),
        );
        out.push(b',');
        write_string(&mut out, self.system.as_bytes());
        out.push(b',');
        write_string(&mut out, self.builder.as_bytes());
        out.push(b',');
        write_string_list(&mut out, &self.arguments);
        out.push(b',');

        write_list(&mut out, &self.environment, |out, (key, value)| {
            write_tuple(out, [key.as_bytes(), value.as_slice()]);
        });

        out.push(b')');
        out
    }
}

/// `[item,item,…]`.
fn write_list<I: IntoIterator>(
    out: &mut Vec<u8>,
    items: I,
    mut write_item: impl FnMut(&mut Vec<u8>, I::Item),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(out, item);
    }
    out.push(b']');
}

/// `["a","b",…]`.
fn write_string_list<S: AsRef<[u8]>>(out: &mut Vec<u8>, items: impl IntoIterator<Item = S>) {
    write_list(out, items, |out, s| write_string(out, s.as_ref()));
}

/// `("a","b",…)`.
fn write_tuple<const N: usize>(out: &mut Vec<u8>, fields: [&[u8]; N]) {
    out.push(b'(');
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, field);
    }
    out.push(b')');
}

/// A quoted string, escaped as CppNix's `printString` does. Runs of bytes
/// that need no escape are copied whole: environments can be large.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut rest = s;
    while let Some(at) = rest
        .iter()
        .position(|b| matches!(b, b'"' | b'\\' | b'\n' | b'\r' | b'\t'))
    {
        let (plain, special) = rest.split_at(at);
        out.extend_from_slice(plain);
        let [b, tail @ ..] = special else {
            rest = special;
            break;
        };
        out.extend_from_slice(match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => b"\\t",
        });
        rest = tail;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain(b"abc", b"\"abc\"")]
    #[case::empty(b"", b"\"\"")]
    #[case::quote(b"a\"b", b"\"a\\\"b\"")]
    #[case::backslash(b"a\\b", b"\"a\\\\b\"")]
    #[case::control(b"\n\r\t", b"\"\\n\\r\\t\"")]
    #[case::other_bytes(b"$\x00\xff", b"\"$\x00\xff\"")]
    fn string_escaping(#[case] input: &[u8], #[case] expected: &[u8]) {
        let mut out = Vec::new();
        write_string(&mut out, input);
        assert_eq!(out, expected);
    }

    #[test]
    fn empty_derivation() {
        assert_eq!(
            Derivation::default().to_aterm_bytes(),
            b"Derive([],[],[],\"\",\"\",[],[])"
        );
    }
}
