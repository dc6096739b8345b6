//! Arithmetic and comparison: `add`, `sub`, `mul`, `div`, `lessThan`,
//! the bitwise operators, `ceil` and `floor`.

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind};
use crate::value::Value;
use crate::vm::generators::{Co, Shortcut};
use crate::vm::ops;

pub(super) use impls::builtins;

fn add_now(args: &[Value]) -> Option<Shortcut> {
    match args {
        [a, b] => match (a.resolved(), b.resolved()) {
            (Value::Int(a), Value::Int(b)) => {
                a.checked_add(b).map(|n| Shortcut::Value(Value::Int(n)))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `ceil` and `floor`: integers stay, floats are rounded and must fit.
fn rounded(v: Value, round: fn(f64) -> f64) -> Result<Value, Error> {
    match v {
        Value::Int(i) => Ok(Value::Int(i)),
        Value::Float(f) => {
            let r = round(f);
            if r >= -(2f64.powi(63)) && r < 2f64.powi(63) {
                Ok(Value::Int(r as i64))
            } else {
                Err(ErrorKind::Builtin(format!(
                    "float {} does not fit in an integer",
                    ops::format_float(f)
                ))
                .into())
            }
        }
        other => Err(ErrorKind::type_error("a float", &other).into()),
    }
}

#[builtins]
mod impls {
    use super::*;

    /// `e1 + e2` on numbers (strings and paths are refused, unlike `+`).
    #[builtin("add", fast = add_now)]
    async fn builtin_add(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(ops::add_numbers(a, b)?)
    }

    /// `e1 - e2`.
    #[builtin("sub")]
    async fn builtin_sub(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(ops::sub(a, b)?)
    }

    /// `e1 * e2`.
    #[builtin("mul")]
    async fn builtin_mul(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(ops::mul(a, b)?)
    }

    /// `e1 / e2`; integer division truncates.
    #[builtin("div")]
    async fn builtin_div(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(ops::div(a, b)?)
    }

    /// `e1 < e2`, on numbers, strings, paths and lists.
    #[builtin("lessThan")]
    async fn builtin_less_than(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(Value::Bool(ops::nix_less(co, a, b).await?))
    }

    /// The bitwise AND of two integers.
    #[builtin("bitAnd")]
    async fn builtin_bit_and(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(Value::Int(a.as_int()? & b.as_int()?))
    }

    /// The bitwise OR of two integers.
    #[builtin("bitOr")]
    async fn builtin_bit_or(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(Value::Int(a.as_int()? | b.as_int()?))
    }

    /// The bitwise XOR of two integers.
    #[builtin("bitXor")]
    async fn builtin_bit_xor(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(Value::Int(a.as_int()? ^ b.as_int()?))
    }

    /// The smallest integer not less than a number.
    #[builtin("ceil")]
    async fn builtin_ceil(co: &Co, v: Value) -> Result<Value, Error> {
        rounded(v, f64::ceil)
    }

    /// The largest integer not greater than a number.
    #[builtin("floor")]
    async fn builtin_floor(co: &Co, v: Value) -> Result<Value, Error> {
        rounded(v, f64::floor)
    }
}
