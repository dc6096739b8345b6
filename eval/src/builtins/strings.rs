//! String builtins: `substring`, `concatStringsSep`, `replaceStrings`,
//! `baseNameOf`, `dirOf`, `toString`, ….
//!
//! Every builtin that keeps (part of) a string's text keeps its context
//! too, or derivations built from the result would lose inputs.

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind, ResultExt};
use crate::value::{NixContext, NixString, Value};
use crate::vm::generators::{Co, Shortcut};
use crate::vm::ops::{self, Coercion};

use super::force_string;

pub(super) use impls::builtins;

async fn coerce(co: &Co, v: Value) -> Result<NixString, Error> {
    ops::coerce_to_string(co, v, Coercion::Interpolation).await
}

fn string_length_now(args: &[Value]) -> Option<Shortcut> {
    match args.first()?.resolved() {
        Value::String(s) => Some(Shortcut::Value(Value::Int(s.len() as i64))),
        _ => None,
    }
}

fn to_string_now(args: &[Value]) -> Option<Shortcut> {
    match args.first()?.resolved() {
        s @ Value::String(_) => Some(Shortcut::Value(s)),
        Value::Int(i) => Some(Shortcut::Value(Value::string(i.to_string()))),
        _ => None,
    }
}

/// The text of a path or string argument of `baseNameOf`/`dirOf`.
async fn path_text(co: &Co, v: Value) -> Result<NixString, Error> {
    match v {
        Value::Path(p) => Ok(NixString::from(p.to_string_lossy().into_owned())),
        other => coerce(co, other).await,
    }
}

/// `replaceStrings`' scan: at each position the first pattern that
/// matches is replaced; an empty pattern matches between every two
/// characters (and at both ends). Returns the text between matches and,
/// after each, the index of the pattern matched there (`None` after the
/// last piece).
fn scan<'a>(input: &'a [u8], patterns: &[NixString]) -> Vec<(&'a [u8], Option<usize>)> {
    // The first byte of every non-empty pattern, to skip positions no
    // pattern can start at without trying each one.
    let mut starts = [false; 256];
    let mut has_empty = false;
    for p in patterns {
        match p.as_bytes().first() {
            Some(b) => starts[usize::from(*b)] = true,
            None => has_empty = true,
        }
    }
    let mut pieces = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i <= input.len() {
        let here = input.get(i).copied();
        let candidate = has_empty || here.is_some_and(|b| starts[usize::from(b)]);
        let found = candidate
            .then(|| {
                patterns
                    .iter()
                    .position(|p| input[i..].starts_with(p.as_bytes()))
            })
            .flatten();
        match found {
            Some(k) => {
                pieces.push((&input[start..i], Some(k)));
                let len = patterns[k].len();
                start = i + len;
                // After an empty match the character at `i` is kept as is.
                i += len.max(1);
            }
            None => i += 1,
        }
    }
    pieces.push((input.get(start..).unwrap_or(&[]), None));
    pieces
}

#[builtins]
mod impls {
    use super::*;

    /// The length of a string, in bytes.
    #[builtin("stringLength", fast = string_length_now)]
    async fn builtin_string_length(co: &Co, #[lazy] s: Value) -> Result<Value, Error> {
        let s = coerce(co, s)
            .await
            .context("while evaluating the argument passed to builtins.stringLength")?;
        Ok(Value::Int(s.len() as i64))
    }

    /// The part of `s` from byte `start` on, at most `len` bytes long. As
    /// in CppNix, a negative start is refused before `len` and `s` are
    /// forced.
    #[builtin("substring")]
    async fn builtin_substring(
        co: &Co,
        start: Value,
        #[lazy] len: Value,
        #[lazy] s: Value,
    ) -> Result<Value, Error> {
        let start = start.as_int().context(
            "while evaluating the first argument (the start offset) passed to builtins.substring",
        )?;
        if start < 0 {
            return Err(ErrorKind::Builtin("negative start position in 'substring'".into()).into());
        }
        let len = co.force(len).await?.as_int().context(
            "while evaluating the second argument (the substring length) passed to builtins.substring",
        )?;
        let s = coerce(co, s).await.context(
            "while evaluating the third argument (the string) passed to builtins.substring",
        )?;
        let bytes = s.as_bytes();
        let from = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let to = match usize::try_from(len) {
            Err(_) => bytes.len(),
            Ok(len) => from.saturating_add(len).min(bytes.len()),
        };
        Ok(Value::String(
            s.with_same_context(bytes.get(from..to).unwrap_or(&[])),
        ))
    }

    /// The strings of a list joined with a separator.
    #[builtin("concatStringsSep")]
    async fn builtin_concat_strings_sep(co: &Co, sep: Value, xs: Value) -> Result<Value, Error> {
        let sep = sep.as_string().context(
            "while evaluating the first argument (the separator string) passed to builtins.concatStringsSep",
        )?;
        let xs = xs.as_list().context(
            "while evaluating the second argument (the list of strings to concat) passed to builtins.concatStringsSep",
        )?;
        let mut parts = Vec::with_capacity(2 * xs.len());
        for (i, x) in xs.iter().enumerate() {
            if i > 0 {
                parts.push(sep.clone());
            }
            parts.push(coerce(co, x.clone()).await.context(
                "while evaluating one element of the list of strings to concat passed to builtins.concatStringsSep",
            )?);
        }
        Ok(Value::String(NixString::concat(parts.iter())))
    }

    /// Replaces every occurrence of a string of `from` by the string at
    /// the same index of `to`, scanning left to right. All three take
    /// strings only: nothing is coerced.
    #[builtin("replaceStrings")]
    async fn builtin_replace_strings(
        co: &Co,
        from: Value,
        to: Value,
        #[lazy] s: Value,
    ) -> Result<Value, Error> {
        let from = from
            .as_list()
            .context("while evaluating the first argument passed to builtins.replaceStrings")?;
        let to = to
            .as_list()
            .context("while evaluating the second argument passed to builtins.replaceStrings")?;
        if from.len() != to.len() {
            return Err(ErrorKind::Builtin(
                "'from' and 'to' arguments passed to builtins.replaceStrings have different lengths"
                    .into(),
            )
            .into());
        }
        let mut patterns = Vec::with_capacity(from.len());
        for f in from.iter() {
            patterns.push(force_string(co, f.clone()).await.context(
                "while evaluating one of the strings to replace passed to builtins.replaceStrings",
            )?);
        }
        let s = force_string(co, s)
            .await
            .context("while evaluating the third argument passed to builtins.replaceStrings")?;
        let pieces = scan(s.as_bytes(), &patterns);
        // As in CppNix, a replacement is forced only if its pattern is
        // used.
        let mut replacements: Vec<Option<NixString>> = vec![None; to.len()];
        let mut context = NixContext::new();
        if let Some(c) = s.context() {
            context.extend(c.iter().cloned());
        }
        let mut out = Vec::with_capacity(s.len());
        for (text, matched) in pieces {
            out.extend_from_slice(text);
            let Some(k) = matched else { continue };
            let r = match &replacements[k] {
                Some(r) => r.clone(),
                None => {
                    let r = force_string(co, to[k].clone()).await.context(
                        "while evaluating one of the replacement strings passed to builtins.replaceStrings",
                    )?;
                    if let Some(c) = r.context() {
                        context.extend(c.iter().cloned());
                    }
                    replacements[k] = Some(r.clone());
                    r
                }
            };
            out.extend_from_slice(r.as_bytes());
        }
        Ok(Value::String(NixString::new(out, context)))
    }

    /// The last component of a path, without a trailing slash.
    #[builtin("baseNameOf")]
    async fn builtin_base_name_of(co: &Co, p: Value) -> Result<Value, Error> {
        let s = path_text(co, p)
            .await
            .context("while evaluating the first argument passed to builtins.baseNameOf")?;
        let bytes = s.as_bytes();
        let trimmed = bytes.strip_suffix(b"/").unwrap_or(bytes);
        let base = match trimmed.iter().rposition(|&c| c == b'/') {
            Some(i) => &trimmed[i + 1..],
            None => trimmed,
        };
        Ok(Value::String(s.with_same_context(base)))
    }

    /// Everything before the last component of a path; a path for a path.
    #[builtin("dirOf")]
    async fn builtin_dir_of(co: &Co, p: Value) -> Result<Value, Error> {
        let is_path = matches!(p, Value::Path(_));
        let s = path_text(co, p)
            .await
            .context("while evaluating the first argument passed to builtins.dirOf")?;
        let bytes = s.as_bytes();
        let dir: &[u8] = match bytes.iter().rposition(|&c| c == b'/') {
            Some(0) => b"/",
            Some(i) => &bytes[..i],
            None => b".",
        };
        if is_path {
            return Ok(Value::Path(
                std::path::PathBuf::from(String::from_utf8_lossy(dir).into_owned()).into(),
            ));
        }
        Ok(Value::String(s.with_same_context(dir)))
    }

    /// Converts a value to a string: numbers, Booleans, null, lists
    /// (space-separated) and paths too.
    #[builtin("toString", fast = to_string_now)]
    async fn builtin_to_string(co: &Co, #[lazy] v: Value) -> Result<Value, Error> {
        Ok(Value::String(
            ops::coerce_to_string(co, v, Coercion::ToString)
                .await
                .context("while evaluating the first argument passed to builtins.toString")?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::simple("abcabc", &["b"], &["X"], "aXcaXc")]
    #[case::first_pattern_wins("abc", &["ab", "a"], &["1", "2"], "1c")]
    #[case::empty_pattern("ab", &[""], &["-"], "-a-b-")]
    #[case::no_match("abc", &["z"], &["y"], "abc")]
    fn replacing(
        #[case] input: &str,
        #[case] from: &[&str],
        #[case] to: &[&str],
        #[case] expected: &str,
    ) {
        let from: Vec<NixString> = from.iter().map(|s| NixString::from(*s)).collect();
        let mut out = Vec::new();
        for (text, matched) in scan(input.as_bytes(), &from) {
            out.extend_from_slice(text);
            out.extend(matched.map(|k| to[k].as_bytes()).unwrap_or_default());
        }
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }
}
