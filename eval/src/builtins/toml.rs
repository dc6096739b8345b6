//! TODO
use tvix_eval_builtin_macros::builtins;

pub(super) use impls::builtins;

#[builtins]
mod impls {}
