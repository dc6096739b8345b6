//! The builtins the language needs, and the global scope.
//!
//! Every builtin is a coroutine over a `Co` handle (see
//! `vm::generators`): it forces arguments and calls functions by asking the
//! VM, so no builtin ever re-enters the VM on the native stack. Builtins
//! that produce containers stay lazy by filling them with `Apply` thunks
//! (`map f xs` holds `f x` thunks, not results).

mod attrs;
mod control;
mod lists;
mod strings;

pub(crate) use strings::to_json_string;

use std::rc::Rc;

use crate::compiler::Globals;
use crate::errors::{Error, ErrorKind};
use crate::value::{Builtin, NixAttrs, NixString, Value};
use crate::vm::generators::{BuiltinFn, Co, FastFn};

/// Defines `fn $name(co, args) -> GenFuture` with the arguments
/// destructured into an array.
macro_rules! builtin {
    ($name:ident, $co:ident, [$($arg:ident),*], $body:block) => {
        pub(super) fn $name($co: crate::vm::generators::Co, args: Vec<crate::value::Value>) -> crate::vm::generators::GenFuture {
            Box::pin(async move {
                let [$($arg),*] = crate::builtins::take_args(args)?;
                #[allow(unused_variables)]
                let $co = &$co;
                $body
            })
        }
    };
}
pub(crate) use builtin;

/// Turns the argument vector into a fixed-size array; the VM guarantees
/// the count, so a mismatch is an internal error, not a panic.
pub(crate) fn take_args<const N: usize>(args: Vec<Value>) -> Result<[Value; N], Error> {
    args.try_into().map_err(|_| {
        Error::from(ErrorKind::Builtin(
            "builtin called with the wrong number of arguments".into(),
        ))
    })
}

/// Every builtin: (name, arity, function).
fn all() -> Vec<(&'static str, usize, BuiltinFn)> {
    let mut v: Vec<(&'static str, usize, BuiltinFn)> = Vec::new();
    v.extend(control::BUILTINS);
    v.extend(lists::BUILTINS);
    v.extend(attrs::BUILTINS);
    v.extend(strings::BUILTINS);
    v
}

/// The builtins with a synchronous fast path: (name, fast path).
fn fast_paths() -> impl Iterator<Item = (&'static str, FastFn)> {
    control::FAST_PATHS
        .into_iter()
        .chain(lists::FAST_PATHS)
        .chain(strings::FAST_PATHS)
}

/// Names CppNix puts in the global scope besides `builtins`.
const TOP_LEVEL: &[&str] = &[
    "abort",
    "baseNameOf",
    "dirOf",
    "import",
    "isNull",
    "map",
    "removeAttrs",
    "throw",
    "toString",
    "derivation",
];

/// The global scope: `builtins`, `true`/`false`/`null`, the unprefixed
/// top-level builtins, and every builtin as `__name`.
pub fn globals() -> Globals {
    let mut globals = Globals::new();
    let mut entries: Vec<(NixString, Value)> = Vec::new();
    for (name, arity, func) in all() {
        let fast = fast_paths().find(|(n, _)| *n == name).map(|(_, f)| f);
        let value = Value::Builtin(Rc::new(Builtin::new(name, arity, func, fast)));
        if TOP_LEVEL.contains(&name) {
            globals.insert(name.to_string(), value.clone());
        }
        globals.insert(format!("__{name}"), value.clone());
        entries.push((NixString::from(name), value));
    }
    let constants = [
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
        ("langVersion", Value::Int(6)),
        ("nixVersion", Value::string("2.24.0")),
        ("storeDir", Value::string("/nix/store")),
        ("currentSystem", Value::string("x86_64-linux")),
    ];
    for (name, value) in constants {
        if matches!(name, "true" | "false" | "null") {
            globals.insert(name.to_string(), value.clone());
        } else {
            globals.insert(format!("__{name}"), value.clone());
        }
        entries.push((NixString::from(name), value));
    }
    entries.push((NixString::from("nixPath"), Value::list(Vec::new())));
    let builtins = NixAttrs::from_entries_last_wins(entries);
    globals.insert("builtins".to_string(), Value::Attrs(builtins));
    globals
}

/// Forces a value and returns it as a string, coercing like interpolation.
pub(crate) async fn force_string(co: &Co, v: Value) -> Result<NixString, Error> {
    Ok(co.force(v).await?.as_string()?)
}

builtin!(apply_overrides, co, [set], {
    let set = co.force(set).await?.as_attrs()?;
    let Some(overrides) = set.get(b"__overrides") else {
        return Ok(Value::Attrs(set));
    };
    let overrides = co.force(overrides.clone()).await?.as_attrs()?;
    Ok(Value::Attrs(set.update(&overrides)))
});

/// The internal function a `rec` set with `__overrides` is passed through.
///
/// FUTUREWORK: CppNix also rebinds the overridden names inside the `rec`
/// scope (eval-okay-overrides); here they only replace the attributes.
pub(crate) fn overrides_function() -> Value {
    Value::Builtin(Rc::new(Builtin::new(
        "__overrides",
        1,
        apply_overrides,
        None,
    )))
}
