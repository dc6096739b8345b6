//! Type predicates: `typeOf`, `isNull`, `isAttrs`, `isBool`, ….

use tvix_eval_builtin_macros::builtins;

use crate::errors::Error;
use crate::value::Value;
use crate::vm::generators::{Co, Shortcut};

pub(super) use impls::builtins;

/// A type predicate's fast path: the answer for an evaluated argument
/// (the VM forces it first), without starting the coroutine.
fn test_now(args: &[Value], test: fn(&Value) -> bool) -> Option<Shortcut> {
    let v = args.first()?;
    (!v.needs_force()).then(|| Shortcut::Value(Value::Bool(test(&v.resolved()))))
}

fn is_null(v: &Value) -> bool {
    matches!(v, Value::Null)
}

fn is_null_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_null)
}

fn is_attrs(v: &Value) -> bool {
    matches!(v, Value::Attrs(_))
}

fn is_attrs_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_attrs)
}

fn is_bool(v: &Value) -> bool {
    matches!(v, Value::Bool(_))
}

fn is_bool_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_bool)
}

fn is_float(v: &Value) -> bool {
    matches!(v, Value::Float(_))
}

fn is_float_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_float)
}

fn is_function(v: &Value) -> bool {
    v.is_function()
}

fn is_function_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_function)
}

fn is_int(v: &Value) -> bool {
    matches!(v, Value::Int(_))
}

fn is_int_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_int)
}

fn is_list(v: &Value) -> bool {
    matches!(v, Value::List(_))
}

fn is_list_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_list)
}

fn is_path(v: &Value) -> bool {
    matches!(v, Value::Path(_))
}

fn is_path_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_path)
}

fn is_string(v: &Value) -> bool {
    matches!(v, Value::String(_))
}

fn is_string_now(args: &[Value]) -> Option<Shortcut> {
    test_now(args, is_string)
}

#[builtins]
mod impls {
    use super::*;

    /// The name of the type of `e`: `"int"`, `"bool"`, `"string"`,
    /// `"path"`, `"null"`, `"set"`, `"list"`, `"lambda"` or `"float"`.
    #[builtin("typeOf")]
    async fn builtin_type_of(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::string(v.type_of()))
    }

    /// Whether `e` is `null`.
    #[builtin("isNull", fast = is_null_now)]
    async fn builtin_is_null(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_null(&v)))
    }

    /// Whether `e` is a set.
    #[builtin("isAttrs", fast = is_attrs_now)]
    async fn builtin_is_attrs(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_attrs(&v)))
    }

    /// Whether `e` is a Boolean.
    #[builtin("isBool", fast = is_bool_now)]
    async fn builtin_is_bool(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_bool(&v)))
    }

    /// Whether `e` is a float.
    #[builtin("isFloat", fast = is_float_now)]
    async fn builtin_is_float(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_float(&v)))
    }

    /// Whether `e` is a function (a lambda or a builtin).
    #[builtin("isFunction", fast = is_function_now)]
    async fn builtin_is_function(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_function(&v)))
    }

    /// Whether `e` is an integer.
    #[builtin("isInt", fast = is_int_now)]
    async fn builtin_is_int(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_int(&v)))
    }

    /// Whether `e` is a list.
    #[builtin("isList", fast = is_list_now)]
    async fn builtin_is_list(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_list(&v)))
    }

    /// Whether `e` is a path.
    #[builtin("isPath", fast = is_path_now)]
    async fn builtin_is_path(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_path(&v)))
    }

    /// Whether `e` is a string.
    #[builtin("isString", fast = is_string_now)]
    async fn builtin_is_string(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(is_string(&v)))
    }
}
