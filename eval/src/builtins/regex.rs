//! Regular expressions: `match` and `split`.
//!
//! CppNix compiles patterns with `std::regex(…, std::regex::extended)` and
//! runs them with libstdc++'s backtracking executor, whose results are not
//! quite POSIX leftmost-longest nor the `regex` crate's leftmost-first;
//! `compile` and `exec` reproduce that engine (see their docs), with
//! regex-automata's DFAs keeping it polynomial (linear for usual patterns)
//! where libstdc++ is exponential, quadratic or overflows its stack.
//! Strings are bytes: `.` matches one byte, and `split` may cut a
//! multi-byte character.
//!
//! Patterns are compiled once and kept in a bounded per-thread cache.

mod classes;
mod compile;
mod exec;
mod scan;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use tvix_eval_builtin_macros::builtins;

use crate::builtins::string_without_context;
use crate::errors::{Error, ErrorKind};
use crate::value::{NixString, Value};
use crate::vm::generators::{Co, Shortcut};

use compile::CompileError;
use exec::Regex;

pub(super) use impls::builtins;

/// How many compiled patterns the cache keeps.
const CACHE_ENTRIES: usize = 512;

/// How many NFA states they may have in all: a pattern can have 100 000,
/// and its buffers grow with them.
const CACHE_STATES: usize = 1_000_000;

/// Compiled patterns by text, the oldest dropped first when full, so that
/// a program making millions of patterns stays in bounded memory.
#[derive(Default)]
struct RegexCache {
    map: HashMap<Box<[u8]>, Rc<Regex>>,
    order: VecDeque<Box<[u8]>>,
    /// The NFA states of the patterns in `map`.
    states: usize,
    /// The pattern used last, found without hashing (loops use one
    /// pattern over and over).
    last: Option<(Box<[u8]>, Rc<Regex>)>,
}

thread_local! {
    static CACHE: RefCell<RegexCache> = RefCell::default();
}

/// The compiled form of `pattern`, with CppNix's errors.
fn compiled(pattern: &[u8]) -> Result<Rc<Regex>, ErrorKind> {
    let hit = CACHE.with_borrow_mut(|c| {
        if let Some((text, re)) = &c.last
            && **text == *pattern
        {
            return Some(re.clone());
        }
        let re = c.map.get(pattern)?.clone();
        c.last = Some((pattern.into(), re.clone()));
        Some(re)
    });
    if let Some(re) = hit {
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
        while c.map.len() >= CACHE_ENTRIES || c.states + re.states() > CACHE_STATES {
            let Some(oldest) = c.order.pop_front() else {
                break;
            };
            if let Some(old) = c.map.remove(&oldest) {
                c.states = c.states.saturating_sub(old.states());
            }
        }
        c.states += re.states();
        c.order.push_back(pattern.into());
        c.map.insert(pattern.into(), re.clone());
    });
    Ok(re)
}

/// The capture groups of a match as Nix values: the text of each group
/// (without context, as in CppNix), `null` for one that did not take part.
fn groups(hay: &[u8], captures: &[Option<(usize, usize)>]) -> Value {
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

/// What `match` returns for a compiled pattern and a string.
fn match_value(re: &Regex, s: &NixString) -> Value {
    match re.full_match(s.as_bytes()) {
        Some(captures) => groups(s.as_bytes(), &captures),
        None => Value::Null,
    }
}

/// What `split` returns for a compiled pattern and a string.
fn split_value(re: &Regex, s: NixString) -> Value {
    let hay = s.as_bytes();
    let mut out = Vec::new();
    let mut piece_start = 0;
    re.find_all(hay, |m| {
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
    });
    if out.is_empty() {
        // CppNix returns the string itself, context and all.
        return Value::list(vec![Value::String(s)]);
    }
    out.push(Value::String(hay.get(piece_start..).unwrap_or(&[]).into()));
    Value::list(out)
}

/// The compiled pattern and the string, if both arguments are evaluated
/// and valid: the fast paths' precondition.
fn ready(args: &[Value]) -> Option<(Rc<Regex>, NixString)> {
    let [regex, string] = args else {
        return None;
    };
    let Value::String(s) = string.resolved() else {
        return None;
    };
    let re = compiled(string_without_context(regex).ok()?.as_bytes()).ok()?;
    Some((re, s))
}

fn match_now(args: &[Value]) -> Option<Shortcut> {
    let (re, s) = ready(args)?;
    Some(Shortcut::Value(match_value(&re, &s)))
}

fn split_now(args: &[Value]) -> Option<Shortcut> {
    let (re, s) = ready(args)?;
    Some(Shortcut::Value(split_value(&re, s)))
}

#[builtins]
mod impls {
    use super::*;

    /// The capture groups of `regex` matching the whole of `str` (a POSIX
    /// extended regular expression), or `null` if it does not match.
    #[builtin("match", fast = match_now)]
    async fn builtin_match(co: &Co, regex: Value, #[lazy] string: Value) -> Result<Value, Error> {
        let re = compiled(string_without_context(&regex)?.as_bytes())?;
        let s = super::super::force_string(co, string).await?;
        Ok(match_value(&re, &s))
    }

    /// `str` cut at every match of `regex`: the pieces between matches,
    /// each match replaced by the list of its capture groups.
    #[builtin("split", fast = split_now)]
    async fn builtin_split(co: &Co, regex: Value, #[lazy] string: Value) -> Result<Value, Error> {
        let re = compiled(string_without_context(&regex)?.as_bytes())?;
        let s = super::super::force_string(co, string).await?;
        Ok(split_value(&re, s))
    }
}

#[cfg(test)]
mod tests;
