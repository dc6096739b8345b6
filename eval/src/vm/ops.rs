//! Operators on values, with CppNix's semantics.
//!
//! The synchronous functions work on forced operands and handle every
//! case that needs no further evaluation; the `async` ones (deep equality,
//! list comparison, string coercion, deep forcing) run as generators
//! because they may have to force nested values. They iterate with explicit
//! work lists, so deep data cannot overflow the native stack.

use super::Context;
use super::generators::Co;
use crate::chunk::BinOp;
use crate::errors::{Error, ErrorKind, ResultExt};
use crate::value::{NixAttrs, NixString, Value, normalise_path};

fn overflow(op: BinOp, a: i64, b: i64) -> ErrorKind {
    let (verb, symbol) = match op {
        BinOp::Add => ("adding", "+"),
        BinOp::Sub => ("subtracting", "-"),
        BinOp::Mul => ("multiplying", "*"),
        _ => ("dividing", "/"),
    };
    ErrorKind::IntegerOverflow(format!("{verb} {a} {symbol} {b}"))
}

/// `a + b`, as CppNix's `ExprConcatStrings`: numbers add, and otherwise
/// the first operand decides. A path added to a string is copied to the
/// store first (the string gets its store path); a string added to a path
/// stays a path. The errors are CppNix's: a number cannot have anything
/// else added, anything else must coerce to a string.
pub fn add(ctx: &Context, a: Value, b: Value) -> Result<Value, ErrorKind> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x
            .checked_add(y)
            .map(Value::Int)
            .ok_or_else(|| overflow(BinOp::Add, x, y)),
        (Value::Int(x), Value::Float(y)) => Ok(Value::Float(x as f64 + y)),
        (Value::Float(x), Value::Int(y)) => Ok(Value::Float(x + y as f64)),
        (Value::Float(x), Value::Float(y)) => Ok(Value::Float(x + y)),
        (Value::String(x), Value::String(y)) => Ok(Value::String(NixString::concat([&x, &y]))),
        (Value::String(x), Value::Path(p)) => {
            let y = ctx.path_to_store(&p)?;
            Ok(Value::String(NixString::concat([&x, &y])))
        }
        (Value::Path(p), Value::String(s)) => {
            if s.has_context() {
                return Err(ErrorKind::Builtin(format!(
                    "a string that refers to a store path cannot be appended to a path: '{s}'"
                )));
            }
            let joined = format!("{}{}", p.to_string_lossy(), s.to_str_lossy());
            Ok(Value::Path(
                normalise_path(std::path::Path::new(&joined)).into(),
            ))
        }
        (Value::Path(p), Value::Path(q)) => {
            let joined = format!("{}{}", p.to_string_lossy(), q.to_string_lossy());
            Ok(Value::Path(
                normalise_path(std::path::Path::new(&joined)).into(),
            ))
        }
        (Value::Int(_), b) => Err(ErrorKind::InvalidAddition(
            b.describe(),
            "an integer".into(),
        )),
        (Value::Float(_), b) => Err(ErrorKind::InvalidAddition(b.describe(), "a float".into())),
        (Value::String(_) | Value::Path(_), b) => Err(ErrorKind::not_coercible(&b)),
        (a, _) => Err(ErrorKind::not_coercible(&a)),
    }
}

/// `builtins.add`, `sub`, `mul` and `div`, which `-`, `*`, `/` and
/// negation call, as CppNix's primops: floats if either operand is one,
/// else integers, and the context of an error says which operand it is.
/// A zero divisor is checked first.
pub fn arith(op: BinOp, a: Value, b: Value) -> Result<Value, Error> {
    let (first, second) = match op {
        BinOp::Add => (
            "while evaluating the first argument of the addition",
            "while evaluating the second argument of the addition",
        ),
        BinOp::Sub => (
            "while evaluating the first argument of the subtraction",
            "while evaluating the second argument of the subtraction",
        ),
        BinOp::Mul => (
            "while evaluating the first argument of the multiplication",
            "while evaluating the second argument of the multiplication",
        ),
        _ => (
            "while evaluating the first operand of the division",
            "while evaluating the second operand of the division",
        ),
    };
    if op == BinOp::Div && b.as_float().context(second)? == 0.0 {
        return Err(ErrorKind::DivisionByZero.into());
    }
    if matches!(a, Value::Float(_)) || matches!(b, Value::Float(_)) {
        let (x, y) = (a.as_float().context(first)?, b.as_float().context(second)?);
        return Ok(Value::Float(match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            _ => x / y,
        }));
    }
    let (x, y) = (a.as_int().context(first)?, b.as_int().context(second)?);
    let result = match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        _ => x.checked_div(y),
    };
    Ok(Value::Int(result.ok_or_else(|| overflow(op, x, y))?))
}

/// Equality that needs no forcing, or `None` if nested values must be
/// compared.
pub fn shallow_eq(a: &Value, b: &Value) -> Option<bool> {
    Some(match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(x), Value::Float(y)) => (*x as f64) == *y,
        (Value::Float(x), Value::Int(y)) => *x == (*y as f64),
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Path(x), Value::Path(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Some(false);
            }
            if x.ptr_eq(y) || x.is_empty() {
                return Some(true);
            }
            return None;
        }
        (Value::Attrs(x), Value::Attrs(y)) => {
            if x.ptr_eq(y) || (x.is_empty() && y.is_empty()) {
                return Some(true);
            }
            return None;
        }
        _ => false,
    })
}

/// `shallow_eq` of two values that need no forcing (looking through
/// evaluated thunks); `None` when either needs forcing or nested values
/// must be compared.
pub fn eq_now(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Thunk(t), _) => t.with_value(|a| eq_now(a, b)).flatten(),
        (_, Value::Thunk(t)) => t.with_value(|b| eq_now(a, b)).flatten(),
        _ => shallow_eq(a, b),
    }
}

/// Values that are the same object compare equal without being forced,
/// as in CppNix (this is what makes `[f] == [f]` true for a function `f`).
pub(super) fn same_object(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Thunk(x), Value::Thunk(y)) => x.ptr_eq(y),
        (Value::List(x), Value::List(y)) => x.ptr_eq(y),
        (Value::Attrs(x), Value::Attrs(y)) => x.ptr_eq(y),
        _ => false,
    }
}

/// Deep equality (`==`).
///
/// Most comparisons (`elem`, `==` on scalars) decide on the two values
/// themselves: those allocate no work list.
pub async fn nix_eq(co: &Co, a: Value, b: Value) -> Result<bool, Error> {
    let a = co.force(a).await?;
    let b = co.force(b).await?;
    if let Some(eq) = shallow_eq(&a, &b) {
        return Ok(eq);
    }
    let mut work = Vec::new();
    if !push_nested(co, a, b, &mut work).await? {
        return Ok(false);
    }
    while let Some((a, b)) = work.pop() {
        if same_object(&a, &b) {
            continue;
        }
        // Evaluated pairs (every pair of a second comparison) skip the
        // coroutine's force steps.
        let (a, b) = if a.needs_force() || b.needs_force() {
            (co.force(a).await?, co.force(b).await?)
        } else {
            (a.into_resolved(), b.into_resolved())
        };
        match shallow_eq(&a, &b) {
            Some(true) => {}
            Some(false) => return Ok(false),
            None => {
                if !push_nested(co, a, b, &mut work).await? {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// For two lists or sets that `shallow_eq` could not decide: pushes the
/// pairs of their elements still to compare onto `work`, the first on
/// top. Pairs already evaluated that `shallow_eq` decides are settled
/// here: an equal one is skipped, and an unequal one before any pair
/// that needs forcing makes the result false (after such a pair it waits
/// its turn: that pair may fail first, as in CppNix's order).
async fn push_nested(
    co: &Co,
    a: Value,
    b: Value,
    work: &mut Vec<(Value, Value)>,
) -> Result<bool, Error> {
    let mut deferred = false;
    let start = work.len();
    let mut push = |p: &Value, q: &Value| {
        if same_object(p, q) {
            return true;
        }
        if let Some(eq) = eq_now(p, q)
            && (eq || !deferred)
        {
            return eq;
        }
        deferred = true;
        work.push((p.clone(), q.clone()));
        true
    };
    match (a, b) {
        (Value::List(x), Value::List(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                if !push(p, q) {
                    return Ok(false);
                }
            }
            work[start..].reverse();
        }
        (Value::Attrs(x), Value::Attrs(y)) => {
            if x.contains(b"type")
                && is_derivation(co, &x).await?
                && is_derivation(co, &y).await?
                && let (Some(p), Some(q)) = (x.get(b"outPath"), y.get(b"outPath"))
            {
                work.push((p.clone(), q.clone()));
                return Ok(true);
            }
            if x.len() != y.len() || !x.keys().zip(y.keys()).all(|(k, l)| k == l) {
                return Ok(false);
            }
            for (p, q) in x.values().zip(y.values()) {
                if !push(p, q) {
                    return Ok(false);
                }
            }
            work[start..].reverse();
        }
        _ => return Ok(false),
    }
    Ok(true)
}

pub(super) async fn is_derivation(co: &Co, attrs: &crate::value::NixAttrs) -> Result<bool, Error> {
    match attrs.get(b"type") {
        None => Ok(false),
        Some(t) => match co.force(t.clone()).await? {
            Value::String(s) => Ok(s.as_bytes() == b"derivation"),
            _ => Ok(false),
        },
    }
}

/// `a < b` for values that need no forcing; `None` for lists.
pub fn shallow_less(a: &Value, b: &Value) -> Option<Result<bool, ErrorKind>> {
    Some(Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Int(x), Value::Float(y)) => (*x as f64) < *y,
        (Value::Float(x), Value::Int(y)) => *x < (*y as f64),
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x), Value::String(y)) => x < y,
        (Value::Path(x), Value::Path(y)) => x < y,
        (Value::List(_), Value::List(_)) => return None,
        (a, b) => return Some(Err(ErrorKind::incomparable(a, b))),
    }))
}

/// `a < b`, comparing lists lexicographically.
pub async fn nix_less(co: &Co, a: Value, b: Value) -> Result<bool, Error> {
    let (mut a, mut b) = (a, b);
    loop {
        a = co.force(a).await?;
        b = co.force(b).await?;
        if let Some(r) = shallow_less(&a, &b) {
            return Ok(r?);
        }
        let (Value::List(x), Value::List(y)) = (&a, &b) else {
            return Err(ErrorKind::incomparable(&a, &b).into());
        };
        let mut next = None;
        for (p, q) in x.iter().zip(y.iter()) {
            if nix_eq(co, p.clone(), q.clone()).await? {
                continue;
            }
            next = Some((p.clone(), q.clone()));
            break;
        }
        match next {
            Some((p, q)) => {
                a = p;
                b = q;
            }
            None => return Ok(x.len() < y.len()),
        }
    }
}

/// How far `coerce_to_string` goes: interpolation accepts only strings,
/// paths and sets with `__toString`/`outPath`; `toString` also takes
/// numbers, Booleans, null and lists. Interpolation copies paths to the
/// store, `toString` gives their text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Coercion {
    Interpolation,
    ToString,
    /// What derivation attributes get (CppNix's `coerceMore` and
    /// `copyToStore`): `toString`'s coercions, with paths copied to the
    /// store as interpolation copies them.
    ToStringCopyingPaths,
}

impl Coercion {
    /// Whether numbers, Booleans, null and lists are coerced too.
    fn coerces_more(self) -> bool {
        self != Coercion::Interpolation
    }
}

pub fn format_float(f: f64) -> String {
    crate::value::print::format_float(f)
}

/// A float as `toString` and derivation attributes give it: C++'s
/// `std::to_string`, six decimals (`0.250000`), unlike printing's `%g`.
fn float_to_string(f: f64) -> String {
    match f {
        f if f.is_nan() && f.is_sign_negative() => "-nan".into(),
        f if f.is_nan() => "nan".into(),
        f if f.is_infinite() && f < 0.0 => "-inf".into(),
        f if f.is_infinite() => "inf".into(),
        f => format!("{f:.6}"),
    }
}

/// Coerces a value to a string as CppNix's `coerceToString`.
pub async fn coerce_to_string(co: &Co, value: Value, mode: Coercion) -> Result<NixString, Error> {
    let value = co.force(value).await?;
    match coerce_scalar(co.context(), value, mode) {
        Ok(s) => s,
        Err(value) => coerce_compound(co, value, mode).await,
    }
}

/// The coercions that need no further evaluation (strings, paths,
/// numbers…), done without allocating a future; a set or a list to be
/// coerced element by element is handed back.
fn coerce_scalar(
    ctx: &Context,
    value: Value,
    mode: Coercion,
) -> Result<Result<NixString, Error>, Value> {
    Ok(match value {
        Value::String(s) => Ok(s),
        Value::Path(p) if mode != Coercion::ToString => ctx.path_to_store(&p).map_err(Error::from),
        Value::Path(p) => Ok(NixString::from(p.to_string_lossy().to_string())),
        Value::Attrs(_) => return Err(value),
        Value::List(_) if mode.coerces_more() => return Err(value),
        Value::Int(i) if mode.coerces_more() => Ok(NixString::from(i.to_string())),
        Value::Float(f) if mode.coerces_more() => Ok(NixString::from(float_to_string(f))),
        Value::Bool(b) if mode.coerces_more() => Ok(NixString::from(if b { "1" } else { "" })),
        Value::Null if mode.coerces_more() => Ok(NixString::from("")),
        other => Err(ErrorKind::not_coercible(&other).into()),
    })
}

/// Sets (`__toString`, `outPath`) and lists: boxed, as it recurses into
/// `coerce_to_string`.
fn coerce_compound<'a>(
    co: &'a Co,
    value: Value,
    mode: Coercion,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<NixString, Error>> + 'a>> {
    Box::pin(async move {
        match value {
            Value::Attrs(a) => {
                if let Some(f) = a.get(b"__toString") {
                    let f = co.force(f.clone()).await?;
                    let r = co.call(f, Value::Attrs(a.clone())).await?;
                    return coerce_to_string(co, r, mode).await;
                }
                if let Some(p) = a.get(b"outPath") {
                    return coerce_to_string(co, p.clone(), mode).await;
                }
                Err(ErrorKind::not_coercible(&Value::Attrs(a)).into())
            }
            Value::List(l) => {
                let mut parts = Vec::with_capacity(l.len());
                for (i, item) in l.iter().enumerate() {
                    let s = coerce_to_string(co, item.clone(), mode).await?;
                    parts.push(s);
                    // CppNix puts no separator after an empty list.
                    let empty_list =
                        matches!(item.resolved(), Value::List(ref inner) if inner.is_empty());
                    if i + 1 < l.len() && !empty_list {
                        parts.push(NixString::from(" "));
                    }
                }
                Ok(NixString::concat(parts.iter()))
            }
            other => Err(ErrorKind::not_coercible(&other).into()),
        }
    })
}

/// The string a set's `__toString` gives for the set: the function is
/// called with the set, and its result must be a string, or a set that
/// coerces to one (`outPath`, another `__toString`).
pub async fn to_string_attribute(co: &Co, set: NixAttrs) -> Result<NixString, Error> {
    let f = set.get(b"__toString").cloned().unwrap_or_default();
    let f = co.force(f).await?;
    let result = co.call_forced(f, Value::Attrs(set)).await?;
    match result {
        Value::String(s) => Ok(s),
        Value::Attrs(a) if a.contains(b"__toString") || a.contains(b"outPath") => {
            coerce_to_string(co, Value::Attrs(a), Coercion::Interpolation).await
        }
        Value::Attrs(_) => Err(ErrorKind::Builtin(format!(
            "`__toString` must return a string, but got {}: {}",
            result.describe(),
            crate::value::print::print_error_value(&result)
        ))
        .into()),
        other => Err(ErrorKind::Builtin(format!(
            "`__toString` should return a string, but got {}: {}",
            other.describe(),
            crate::value::print::print_error_value(&other)
        ))
        .into()),
    }
}

/// `OrderedKey`'s comparison of two values that need no forcing, or
/// `None` if Nix cannot compare them.
fn key_order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    let (a, b) = (a.resolved(), b.resolved());
    match (&a, &b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Path(x), Value::Path(y)) => Some(x.cmp(y)),
        (Value::List(x), Value::List(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                match key_order(p, q)? {
                    Ordering::Equal => {}
                    o => return Some(o),
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => None,
    }
}

/// A deeply forced value ordered as Nix's `<` orders it, for the key set
/// of `genericClosure` (CppNix keeps keys in an ordered set too, so keys
/// equal under `<`, like `1` and `1.0`, are the same key).
pub struct OrderedKey(Value);

impl OrderedKey {
    /// Checks that `key` can be compared with the keys already seen (one
    /// of which is `existing`), as CppNix's comparisons would; the first
    /// key is compared with nothing, so it may be of any type.
    pub fn new(key: Value, existing: Option<&Value>) -> Result<Self, Error> {
        let Some(other) = existing else {
            return Ok(OrderedKey(key));
        };
        if key_order(&key, other).is_none() {
            let (a, b) = (key.resolved(), other.resolved());
            return Err(incomparable(&a, &b).into());
        }
        Ok(OrderedKey(key))
    }

    pub fn value(&self) -> &Value {
        &self.0
    }
}

impl PartialEq for OrderedKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for OrderedKey {}

impl PartialOrd for OrderedKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedKey {
    /// Keys that Nix cannot compare were turned away by `new`; should two
    /// nested list elements still be incomparable, they order by type.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        key_order(&self.0, &other.0).unwrap_or_else(|| self.0.type_of().cmp(other.0.type_of()))
    }
}

/// CppNix's error for `a < b` on values it cannot compare.
pub fn incomparable(a: &Value, b: &Value) -> ErrorKind {
    ErrorKind::incomparable(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// `../shared/tools/modern-nix nix-instantiate --eval --strict -E 'map
    /// toString [ 0.25 1.0e20 (-1.0e300*1.0e300) 1.0e-7 123456789.123 ]'`
    #[rstest]
    #[case::fraction(0.25, "0.250000")]
    #[case::large(1.0e20, "100000000000000000000.000000")]
    #[case::negative_infinity(-1.0e300 * 1.0e300, "-inf")]
    #[case::tiny(1.0e-7, "0.000000")]
    #[case::rounded(123456789.123, "123456789.123000")]
    fn floats_to_string(#[case] f: f64, #[case] expected: &str) {
        assert_eq!(float_to_string(f), expected);
    }
}
