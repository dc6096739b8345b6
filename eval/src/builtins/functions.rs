//! Functions and positions: `functionArgs`, `unsafeGetAttrPos`.

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind};
use crate::value::{Entry, NixAttrs, NixString, Value};
use crate::vm::generators::Co;

pub(super) use impls::builtins;

#[builtins]
mod impls {
    use super::*;

    /// The formal arguments of a function: a set from each name to
    /// whether it has a default; `{ }` for a plain `x: …` or a builtin.
    #[builtin("functionArgs")]
    async fn builtin_function_args(co: &Co, f: Value) -> Result<Value, Error> {
        match f {
            Value::Closure(c) => {
                let entries = match &c.lambda.formals {
                    Some(formals) => formals
                        .names
                        .iter()
                        .map(|f| {
                            let name = NixString::from(f.name.as_str());
                            Entry::new(name, Value::Bool(f.has_default), f.span.into())
                        })
                        .collect(),
                    None => Vec::new(),
                };
                Ok(Value::Attrs(NixAttrs::from_entries_first_wins(entries)))
            }
            Value::Builtin(_) => Ok(Value::Attrs(NixAttrs::empty())),
            _ => Err(ErrorKind::Builtin("'functionArgs' requires a function".into()).into()),
        }
    }

    /// Where an attribute of a set was defined, as
    /// `{ file; line; column; }`, or `null` if that is unknown.
    #[builtin("unsafeGetAttrPos")]
    async fn builtin_unsafe_get_attr_pos(co: &Co, name: Value, set: Value) -> Result<Value, Error> {
        let name = name.as_string()?;
        let set = set.as_attrs()?;
        Ok(match set.position(name.as_bytes()) {
            Some(pos) => co.context().position_value(pos),
            None => Value::Null,
        })
    }
}
