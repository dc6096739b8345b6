//! Type predicates: `typeOf`, `isNull`, `isAttrs`, `isBool`, ….

use tvix_eval_builtin_macros::builtins;

use crate::errors::Error;
use crate::value::Value;
use crate::vm::generators::Co;

pub(super) use impls::builtins;

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
    #[builtin("isNull")]
    async fn builtin_is_null(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::Null)))
    }

    /// Whether `e` is a set.
    #[builtin("isAttrs")]
    async fn builtin_is_attrs(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::Attrs(_))))
    }

    /// Whether `e` is a Boolean.
    #[builtin("isBool")]
    async fn builtin_is_bool(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::Bool(_))))
    }

    /// Whether `e` is a float.
    #[builtin("isFloat")]
    async fn builtin_is_float(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::Float(_))))
    }

    /// Whether `e` is a function (a lambda or a builtin).
    #[builtin("isFunction")]
    async fn builtin_is_function(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(v.is_function()))
    }

    /// Whether `e` is an integer.
    #[builtin("isInt")]
    async fn builtin_is_int(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::Int(_))))
    }

    /// Whether `e` is a list.
    #[builtin("isList")]
    async fn builtin_is_list(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::List(_))))
    }

    /// Whether `e` is a path.
    #[builtin("isPath")]
    async fn builtin_is_path(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::Path(_))))
    }

    /// Whether `e` is a string.
    #[builtin("isString")]
    async fn builtin_is_string(co: &Co, v: Value) -> Result<Value, Error> {
        Ok(Value::Bool(matches!(v, Value::String(_))))
    }
}
