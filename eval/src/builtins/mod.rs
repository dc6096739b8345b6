//! The builtins, and the global scope built from them.
//!
//! Every builtin is defined once, in a `#[builtins]` module (see the
//! `tvix-eval-builtin-macros` crate): an `async fn` over a `Co` handle
//! whose parameters give its arity, whose arguments are forced before it
//! runs unless marked `#[lazy]`, and whose doc comment is its
//! documentation. A builtin forces values and calls functions by asking the
//! VM through `Co` (see `vm::generators`), so no builtin ever re-enters the
//! VM on the native stack. Builtins that produce containers stay lazy by
//! filling them with `Apply` thunks (`map f xs` holds `f x` thunks).
//!
//! Embedders add builtins, or replace these, through
//! `EvaluatorBuilder::add_builtins`; `tvix-glue` replaces the store ones
//! (`store.rs`), which here fail with a "needs a store" error.

mod arith;
mod attrs;
mod context;
mod control;
mod flake;
mod fs;
mod functions;
mod hash;
mod json;
mod lists;
mod regex;
mod store;
mod strings;
mod toml;
mod types;
mod versions;
mod xml;

pub use context::string_without_context;
pub use flake::input as fetch_input;
pub use fs::coerce_to_path;
pub(crate) use fs::io_error;
pub use json::to_json_string;
pub use store::needs_store;

use std::rc::Rc;

pub use crate::value::{BuiltinDef, BuiltinFn};
pub use crate::vm::generators::{Co, FastFn, GenFuture, Shortcut};

use crate::errors::{Error, ErrorKind};
use crate::value::{Builtin, NixString, Value};

/// Turns the argument vector into a fixed-size array; the VM guarantees
/// the count, so a mismatch is an internal error, not a panic. Used by the
/// code `#[builtins]` generates.
pub fn take_args<const N: usize>(args: Vec<Value>) -> Result<[Value; N], Error> {
    args.try_into().map_err(|_| {
        Error::from(ErrorKind::Builtin(
            "builtin called with the wrong number of arguments".into(),
        ))
    })
}

/// Every builtin of pure evaluation, in no particular order.
pub fn pure_builtins() -> Vec<BuiltinDef> {
    [
        arith::builtins(),
        attrs::builtins(),
        context::builtins(),
        control::builtins(),
        flake::builtins(),
        fs::builtins(),
        functions::builtins(),
        hash::builtins(),
        json::builtins(),
        lists::builtins(),
        regex::builtins(),
        store::builtins(),
        strings::builtins(),
        toml::builtins(),
        types::builtins(),
        versions::builtins(),
        xml::builtins(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Builtins written in Nix: (name, source). Each is compiled with the
/// other builtins in scope, and its value becomes the builtin.
pub const NIX_BUILTINS: &[(&str, &str)] = &[("derivation", include_str!("derivation.nix"))];

/// Names CppNix binds in the global scope besides `builtins` and the
/// `__`-prefixed copies of every builtin.
pub const TOP_LEVEL: &[&str] = &[
    "abort",
    "baseNameOf",
    "break",
    "derivation",
    "derivationStrict",
    "dirOf",
    "fetchGit",
    "fetchMercurial",
    "fetchTarball",
    "fromTOML",
    "import",
    "isNull",
    "map",
    "placeholder",
    "removeAttrs",
    "scopedImport",
    "throw",
    "toString",
];

/// Wraps a definition into the value the global scope holds.
pub(crate) fn builtin_value(def: BuiltinDef) -> Value {
    Value::Builtin(Rc::new(Builtin::new(Rc::new(def))))
}

/// Forces a value that must be a string, as CppNix's `forceString` (nothing is
/// coerced).
pub(crate) async fn force_string(co: &Co, v: Value) -> Result<NixString, Error> {
    Ok(co.force(v).await?.as_string()?)
}
