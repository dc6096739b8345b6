//! String contexts: `hasContext`, `getContext`, `appendContext`,
//! `unsafeDiscardStringContext`, `unsafeDiscardOutputDependency`,
//! `addDrvOutputDependencies`.

use tvix_eval_builtin_macros::builtins;

use crate::errors::Error;
use crate::value::Value;
use crate::vm::generators::Co;
use crate::vm::ops::{self, Coercion};

pub(super) use impls::builtins;

#[builtins]
mod impls {
    use super::*;

    /// Whether a string has a context (refers to store paths).
    #[builtin("hasContext")]
    async fn builtin_has_context(co: &Co, s: Value) -> Result<Value, Error> {
        Ok(Value::Bool(s.as_string()?.has_context()))
    }

    /// The string without its context.
    #[builtin("unsafeDiscardStringContext")]
    async fn builtin_unsafe_discard_string_context(
        co: &Co,
        #[lazy] s: Value,
    ) -> Result<Value, Error> {
        let s = ops::coerce_to_string(co, s, Coercion::Interpolation).await?;
        Ok(Value::String(s.into_without_context()))
    }
}
