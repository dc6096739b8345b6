//! Control, types, arithmetic and files: `throw`, `tryEval`, `seq`,
//! `import`, `typeOf`, `add`, `readFile`, …

use super::builtin;
use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixString, Value, normalise_path};
use crate::vm::generators::{BuiltinFn, Co, FastFn, Shortcut};
use crate::vm::ops::{self, Coercion};

pub(super) const BUILTINS: [(&str, usize, BuiltinFn); 38] = [
    ("abort", 1, abort),
    ("throw", 1, throw),
    ("tryEval", 1, try_eval),
    ("seq", 2, seq),
    ("deepSeq", 2, deep_seq),
    ("import", 1, import),
    ("trace", 2, trace),
    ("warn", 2, trace),
    ("addErrorContext", 2, add_error_context),
    ("break", 1, identity),
    ("typeOf", 1, type_of),
    ("isNull", 1, is_null),
    ("isAttrs", 1, is_attrs),
    ("isBool", 1, is_bool),
    ("isFloat", 1, is_float),
    ("isFunction", 1, is_function),
    ("isInt", 1, is_int),
    ("isList", 1, is_list),
    ("isPath", 1, is_path),
    ("isString", 1, is_string),
    ("add", 2, add),
    ("sub", 2, sub),
    ("mul", 2, mul),
    ("div", 2, div),
    ("lessThan", 2, less_than),
    ("bitAnd", 2, bit_and),
    ("bitOr", 2, bit_or),
    ("bitXor", 2, bit_xor),
    ("ceil", 1, ceil),
    ("floor", 1, floor),
    ("getEnv", 1, get_env),
    ("pathExists", 1, path_exists),
    ("readFile", 1, read_file),
    ("toPath", 1, to_path),
    ("functionArgs", 1, function_args),
    ("unsafeGetAttrPos", 2, unsafe_get_attr_pos),
    ("derivation", 1, derivation),
    ("toString", 1, to_string),
];

async fn message(co: &Co, v: Value) -> Result<String, Error> {
    Ok(ops::coerce_to_string(co, v, Coercion::Interpolation)
        .await?
        .to_string())
}

builtin!(abort, co, [msg], {
    Err(ErrorKind::Abort(message(co, msg).await?).into())
});
builtin!(throw, co, [msg], {
    Err(ErrorKind::Throw(message(co, msg).await?).into())
});

builtin!(try_eval, co, [v], {
    let (success, value) = match co.force(v).await {
        Ok(v) => (true, v),
        Err(e) if e.kind.is_catchable() => (false, Value::Bool(false)),
        Err(e) => return Err(e),
    };
    Ok(Value::Attrs(NixAttrs::from_entries_last_wins(vec![
        (NixString::from("success"), Value::Bool(success)),
        (NixString::from("value"), value),
    ])))
});

/// Fast paths (see `FastFn`).
pub(super) const FAST_PATHS: [(&str, FastFn); 4] = [
    ("seq", seq_now),
    ("deepSeq", deep_seq_now),
    ("toString", to_string_now),
    ("add", add_now),
];

fn seq_now(args: &[Value]) -> Option<Shortcut> {
    force_then(args, false)
}

fn deep_seq_now(args: &[Value]) -> Option<Shortcut> {
    force_then(args, true)
}

fn force_then(args: &[Value], deep: bool) -> Option<Shortcut> {
    let [a, b] = args else {
        return None;
    };
    Some(if !deep && !a.needs_force() {
        Shortcut::Value(b.clone())
    } else {
        Shortcut::ForceThen {
            value: a.clone(),
            deep,
            then: b.clone(),
        }
    })
}

fn to_string_now(args: &[Value]) -> Option<Shortcut> {
    match args.first()?.resolved() {
        s @ Value::String(_) => Some(Shortcut::Value(s)),
        Value::Int(i) => Some(Shortcut::Value(Value::string(i.to_string()))),
        _ => None,
    }
}

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

builtin!(seq, co, [a, b], {
    co.force(a).await?;
    Ok(b)
});

builtin!(deep_seq, co, [a, b], {
    co.deep_force(a).await?;
    Ok(b)
});

/// Turns a string or path argument into an absolute path.
pub(super) async fn coerce_to_path(co: &Co, v: Value) -> Result<std::path::PathBuf, Error> {
    match co.force(v).await? {
        Value::Path(p) => Ok(p.to_path_buf()),
        other => {
            let s = ops::coerce_to_string(co, other, Coercion::Interpolation)
                .await?
                .to_string();
            if !s.starts_with('/') {
                return Err(ErrorKind::NotAnAbsolutePath(s).into());
            }
            Ok(normalise_path(std::path::Path::new(&s)))
        }
    }
}

builtin!(import, co, [path], {
    let path = coerce_to_path(co, path).await?;
    let thunk = co.context().import(&path)?;
    co.force(thunk).await
});

builtin!(trace, co, [msg, v], {
    let msg = co.deep_force(msg).await?;
    let text = match &msg {
        Value::String(s) => s.to_string(),
        other => crate::value::print::print_value(other),
    };
    eprintln!("trace: {text}");
    Ok(v)
});

builtin!(add_error_context, co, [_ctx, v], { Ok(v) });
builtin!(identity, co, [v], { Ok(v) });

builtin!(type_of, co, [v], {
    Ok(Value::string(co.force(v).await?.type_of()))
});

macro_rules! type_predicate {
    ($name:ident, $pat:pat) => {
        builtin!($name, co, [v], {
            Ok(Value::Bool(matches!(co.force(v).await?, $pat)))
        });
    };
}
type_predicate!(is_null, Value::Null);
type_predicate!(is_attrs, Value::Attrs(_));
type_predicate!(is_bool, Value::Bool(_));
type_predicate!(is_float, Value::Float(_));
type_predicate!(is_function, Value::Closure(_) | Value::Builtin(_));
type_predicate!(is_int, Value::Int(_));
type_predicate!(is_list, Value::List(_));
type_predicate!(is_path, Value::Path(_));
type_predicate!(is_string, Value::String(_));

builtin!(add, co, [a, b], {
    Ok(ops::add(co.force(a).await?, co.force(b).await?)?)
});
builtin!(sub, co, [a, b], {
    Ok(ops::sub(co.force(a).await?, co.force(b).await?)?)
});
builtin!(mul, co, [a, b], {
    Ok(ops::mul(co.force(a).await?, co.force(b).await?)?)
});
builtin!(div, co, [a, b], {
    Ok(ops::div(co.force(a).await?, co.force(b).await?)?)
});
builtin!(less_than, co, [a, b], {
    Ok(Value::Bool(ops::nix_less(co, a, b).await?))
});

builtin!(bit_and, co, [a, b], {
    Ok(Value::Int(
        co.force(a).await?.as_int()? & co.force(b).await?.as_int()?,
    ))
});
builtin!(bit_or, co, [a, b], {
    Ok(Value::Int(
        co.force(a).await?.as_int()? | co.force(b).await?.as_int()?,
    ))
});
builtin!(bit_xor, co, [a, b], {
    Ok(Value::Int(
        co.force(a).await?.as_int()? ^ co.force(b).await?.as_int()?,
    ))
});

async fn rounded(co: &Co, v: Value, round: fn(f64) -> f64) -> Result<Value, Error> {
    match co.force(v).await? {
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

builtin!(ceil, co, [v], { rounded(co, v, f64::ceil).await });
builtin!(floor, co, [v], { rounded(co, v, f64::floor).await });

builtin!(get_env, co, [name], {
    let name = super::force_string(co, name).await?;
    Ok(Value::string(co.context().getenv(&name.to_string())))
});

builtin!(path_exists, co, [p], {
    let path = coerce_to_path(co, p).await?;
    Ok(Value::Bool(path.exists()))
});

builtin!(read_file, co, [p], {
    let path = coerce_to_path(co, p).await?;
    let bytes = std::fs::read(&path).map_err(|e| ErrorKind::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Value::String(NixString::from(bytes)))
});

builtin!(to_path, co, [p], {
    let path = coerce_to_path(co, p).await?;
    Ok(Value::string(path.to_string_lossy().to_string()))
});

builtin!(function_args, co, [f], {
    match co.force(f).await? {
        Value::Closure(c) => {
            let entries = match &c.lambda.formals {
                Some(formals) => formals
                    .names
                    .iter()
                    .map(|(n, default)| (NixString::from(n.as_str()), Value::Bool(*default)))
                    .collect(),
                None => Vec::new(),
            };
            Ok(Value::Attrs(NixAttrs::from_entries_last_wins(entries)))
        }
        Value::Builtin(_) => Ok(Value::Attrs(NixAttrs::empty())),
        other => Err(ErrorKind::type_error("a function", &other).into()),
    }
});

builtin!(unsafe_get_attr_pos, co, [_name, _set], { Ok(Value::Null) });

builtin!(derivation, co, [_attrs], {
    Err(ErrorKind::Builtin("derivations need a store; they come with tvix-glue".into()).into())
});

builtin!(to_string, co, [v], {
    Ok(Value::String(
        ops::coerce_to_string(co, v, Coercion::ToString).await?,
    ))
});
