//! Regular expressions: `match` and `split`.
//!
//! CppNix compiles patterns with `std::regex(…, std::regex::extended)` and
//! runs them with libstdc++'s backtracking executor, whose results are not
//! quite POSIX leftmost-longest nor the `regex` crate's leftmost-first;
//! `compile` and `exec` reproduce that engine (see their docs), with
//! regex-automata's DFAs keeping it linear where libstdc++ is exponential
//! or overflows its stack. Strings are bytes: `.` matches one byte, and
//! `split` may cut a multi-byte character.
//!
//! Patterns are compiled once and kept in a bounded per-thread cache.

mod classes;
mod compile;
mod exec;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind};
use crate::value::{ContextElement, NixString, Value};
use crate::vm::generators::Co;

use compile::CompileError;
use exec::{Captures, Regex};

pub(super) use impls::builtins;

/// How many compiled patterns the cache keeps.
const CACHE_ENTRIES: usize = 512;

/// Compiled patterns by text, the oldest dropped first when full, so that
/// a program making millions of patterns stays in bounded memory.
#[derive(Default)]
struct RegexCache {
    map: HashMap<Box<[u8]>, Rc<Regex>>,
    order: VecDeque<Box<[u8]>>,
}

thread_local! {
    static CACHE: RefCell<RegexCache> = RefCell::default();
}

/// The compiled form of `pattern`, with CppNix's errors.
fn compiled(pattern: &[u8]) -> Result<Rc<Regex>, ErrorKind> {
    if let Some(re) = CACHE.with_borrow(|c| c.map.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = match compile::compile(pattern) {
        Ok(program) => Rc::new(Regex::new(program)),
        Err(e) => {
            let what = match e {
                CompileError::Invalid => "invalid regular expression",
                CompileError::TooBig => "memory limit exceeded by regular expression",
            };
            let pattern = String::from_utf8_lossy(pattern);
            return Err(ErrorKind::Builtin(format!("{what} '{pattern}'")));
        }
    };
    CACHE.with_borrow_mut(|c| {
        if c.map.len() >= CACHE_ENTRIES
            && let Some(oldest) = c.order.pop_front()
        {
            c.map.remove(&oldest);
        }
        c.order.push_back(pattern.into());
        c.map.insert(pattern.into(), re.clone());
    });
    Ok(re)
}

/// A pattern argument: a string without context (CppNix's
/// `forceStringNoCtx`).
fn pattern_text(v: &Value) -> Result<NixString, ErrorKind> {
    let s = v.as_string()?;
    // CppNix names the first element of its context, ordered plain paths,
    // then whole derivations, then outputs.
    let rank = |e: &&ContextElement| match e {
        ContextElement::Plain(_) => 0,
        ContextElement::Derivation(_) => 1,
        ContextElement::Single { .. } => 2,
    };
    let Some(first) = s.context().and_then(|c| c.iter().min_by_key(rank)) else {
        return Ok(s);
    };
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let such_as = match first {
        ContextElement::Plain(p) => base(p),
        ContextElement::Derivation(p) => format!("={}", base(p)),
        ContextElement::Single { derivation, output } => {
            format!("!{output}!{}", base(derivation))
        }
    };
    Err(ErrorKind::Builtin(format!(
        "the string '{}' is not allowed to refer to a store path (such as '{such_as}')",
        s.to_str_lossy()
    )))
}

/// The capture groups of a match as Nix values: the text of each group
/// (without context, as in CppNix), `null` for one that did not take part.
fn groups(hay: &[u8], captures: &Captures) -> Value {
    Value::list(
        captures
            .iter()
            .skip(1)
            .map(|span| match span.and_then(|(a, b)| hay.get(a..b)) {
                Some(text) => Value::String(text.into()),
                None => Value::Null,
            })
            .collect(),
    )
}

#[builtins]
mod impls {
    use super::*;

    /// The capture groups of `regex` matching the whole of `str` (a POSIX
    /// extended regular expression), or `null` if it does not match.
    #[builtin("match")]
    async fn builtin_match(co: &Co, regex: Value, #[lazy] string: Value) -> Result<Value, Error> {
        let re = compiled(pattern_text(&regex)?.as_bytes())?;
        let s = super::super::force_string(co, string).await?;
        Ok(match re.full_match(s.as_bytes()) {
            Some(captures) => groups(s.as_bytes(), &captures),
            None => Value::Null,
        })
    }

    /// `str` cut at every match of `regex`: the pieces between matches,
    /// each match replaced by the list of its capture groups.
    #[builtin("split")]
    async fn builtin_split(co: &Co, regex: Value, #[lazy] string: Value) -> Result<Value, Error> {
        let re = compiled(pattern_text(&regex)?.as_bytes())?;
        let s = super::super::force_string(co, string).await?;
        let hay = s.as_bytes();
        let matches = re.find_all(hay);
        if matches.is_empty() {
            // CppNix returns the string itself, context and all.
            return Ok(Value::list(vec![Value::String(s)]));
        }
        let mut out = Vec::with_capacity(2 * matches.len() + 1);
        let mut piece_start = 0;
        for m in &matches {
            let (start, end) = m
                .first()
                .copied()
                .flatten()
                .unwrap_or((piece_start, piece_start));
            out.push(Value::String(
                hay.get(piece_start..start).unwrap_or(&[]).into(),
            ));
            out.push(groups(hay, m));
            piece_start = end;
        }
        out.push(Value::String(hay.get(piece_start..).unwrap_or(&[]).into()));
        Ok(Value::list(out))
    }
}

#[cfg(test)]
mod tests;
