//! Arithmetic and comparison: `add`, `sub`, `mul`, `div`, `lessThan`,
//! the bitwise operators, `ceil` and `floor`.

use tvix_eval_builtin_macros::builtins;

use crate::chunk::BinOp;
use crate::errors::{Error, ErrorKind, ResultExt};
use crate::value::Value;
use crate::vm::generators::{Co, Shortcut};
use crate::vm::ops;

pub(super) use impls::builtins;

/// The fast paths of integer arithmetic: two evaluated integers and no
/// overflow (nor division by zero); the coroutine reports those.
fn int_now(args: &[Value], op: fn(i64, i64) -> Option<i64>) -> Option<Shortcut> {
    match args {
        [a, b] => match (a.resolved(), b.resolved()) {
            (Value::Int(a), Value::Int(b)) => op(a, b).map(|n| Shortcut::Value(Value::Int(n))),
            _ => None,
        },
        _ => None,
    }
}

fn add_now(args: &[Value]) -> Option<Shortcut> {
    int_now(args, i64::checked_add)
}

fn sub_now(args: &[Value]) -> Option<Shortcut> {
    int_now(args, i64::checked_sub)
}

fn mul_now(args: &[Value]) -> Option<Shortcut> {
    int_now(args, i64::checked_mul)
}

fn div_now(args: &[Value]) -> Option<Shortcut> {
    int_now(args, i64::checked_div)
}

/// `lessThan` of two evaluated values that are not lists, when they are
/// comparable (else the coroutine reports it).
fn less_than_now(args: &[Value]) -> Option<Shortcut> {
    let [a, b] = args else {
        return None;
    };
    if a.needs_force() || b.needs_force() {
        return None;
    }
    match ops::shallow_less(&a.resolved(), &b.resolved())? {
        Ok(less) => Some(Shortcut::Value(Value::Bool(less))),
        Err(_) => None,
    }
}

/// `ceil` and `floor`: integers stay, floats are rounded and must fit.
fn rounded(v: Value, round: fn(f64) -> f64, context: &'static str) -> Result<Value, Error> {
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
        other => Err(Error::from(ErrorKind::type_error("a float", &other)).context(context)),
    }
}

#[builtins]
mod impls {
    use super::*;

    /// `e1 + e2` on numbers (strings and paths are refused, unlike `+`).
    #[builtin("add", fast = add_now)]
    async fn builtin_add(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        ops::arith(BinOp::Add, a, b)
    }

    /// `e1 - e2`.
    #[builtin("sub", fast = sub_now)]
    async fn builtin_sub(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        ops::arith(BinOp::Sub, a, b)
    }

    /// `e1 * e2`.
    #[builtin("mul", fast = mul_now)]
    async fn builtin_mul(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        ops::arith(BinOp::Mul, a, b)
    }

    /// `e1 / e2`; integer division truncates.
    #[builtin("div", fast = div_now)]
    async fn builtin_div(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        ops::arith(BinOp::Div, a, b)
    }

    /// `e1 < e2`, on numbers, strings, paths and lists.
    #[builtin("lessThan", fast = less_than_now)]
    async fn builtin_less_than(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        Ok(Value::Bool(ops::nix_less(co, a, b).await?))
    }

    /// The bitwise AND of two integers.
    #[builtin("bitAnd")]
    async fn builtin_bit_and(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        let a = a
            .as_int()
            .context("while evaluating the first argument passed to builtins.bitAnd")?;
        let b = b
            .as_int()
            .context("while evaluating the second argument passed to builtins.bitAnd")?;
        Ok(Value::Int(a & b))
    }

    /// The bitwise OR of two integers.
    #[builtin("bitOr")]
    async fn builtin_bit_or(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        let a = a
            .as_int()
            .context("while evaluating the first argument passed to builtins.bitOr")?;
        let b = b
            .as_int()
            .context("while evaluating the second argument passed to builtins.bitOr")?;
        Ok(Value::Int(a | b))
    }

    /// The bitwise XOR of two integers.
    #[builtin("bitXor")]
    async fn builtin_bit_xor(co: &Co, a: Value, b: Value) -> Result<Value, Error> {
        let a = a
            .as_int()
            .context("while evaluating the first argument passed to builtins.bitXor")?;
        let b = b
            .as_int()
            .context("while evaluating the second argument passed to builtins.bitXor")?;
        Ok(Value::Int(a ^ b))
    }

    /// The smallest integer not less than a number.
    #[builtin("ceil")]
    async fn builtin_ceil(co: &Co, v: Value) -> Result<Value, Error> {
        rounded(
            v,
            f64::ceil,
            "while evaluating the first argument passed to builtins.ceil",
        )
    }

    /// The largest integer not greater than a number.
    #[builtin("floor")]
    async fn builtin_floor(co: &Co, v: Value) -> Result<Value, Error> {
        rounded(
            v,
            f64::floor,
            "while evaluating the first argument passed to builtins.floor",
        )
    }
}
