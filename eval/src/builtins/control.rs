//! Control flow and diagnostics: `throw`, `abort`, `tryEval`, `seq`,
//! `deepSeq`, `import`, `scopedImport`, `trace`, `warn`, …

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixString, Value};
use crate::vm::generators::{Co, Shortcut};
use crate::vm::ops::{self, Coercion};

pub(super) use impls::builtins;

async fn message(co: &Co, v: Value) -> Result<String, Error> {
    Ok(ops::coerce_to_string(co, v, Coercion::Interpolation)
        .await?
        .to_string())
}

fn seq_now(args: &[Value]) -> Option<Shortcut> {
    force_then(args, false)
}

fn deep_seq_now(args: &[Value]) -> Option<Shortcut> {
    force_then(args, true)
}

/// `seq a b` and `deepSeq a b` with `a` already evaluated (shallowly):
/// `b` at once; otherwise the VM forces `a` in a frame of its own.
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

#[builtins]
mod impls {
    use super::*;
    use crate::errors::Diagnostic;

    /// Aborts evaluation with an error message; unlike `throw`, `tryEval`
    /// cannot catch it.
    #[builtin("abort")]
    async fn builtin_abort(co: &Co, #[lazy] msg: Value) -> Result<Value, Error> {
        Err(ErrorKind::Abort(message(co, msg).await?).into())
    }

    /// Throws an error with a message; `tryEval` catches it.
    #[builtin("throw")]
    async fn builtin_throw(co: &Co, #[lazy] msg: Value) -> Result<Value, Error> {
        Err(ErrorKind::Throw(message(co, msg).await?).into())
    }

    /// Evaluates its argument: `{ success = true; value = …; }`, or
    /// `{ success = false; value = false; }` if that throws or fails an
    /// assertion.
    #[builtin("tryEval")]
    async fn builtin_try_eval(co: &Co, #[lazy] v: Value) -> Result<Value, Error> {
        let (success, value) = match co.force(v).await {
            Ok(v) => (true, v),
            Err(e) if e.kind.is_catchable() => (false, Value::Bool(false)),
            Err(e) => return Err(e),
        };
        Ok(Value::Attrs(NixAttrs::from_entries_last_wins(vec![
            (NixString::from("success"), Value::Bool(success)),
            (NixString::from("value"), value),
        ])))
    }

    /// Evaluates `a` (shallowly), then returns `b`.
    #[builtin("seq", fast = seq_now)]
    async fn builtin_seq(co: &Co, _a: Value, b: Value) -> Result<Value, Error> {
        Ok(b)
    }

    /// Evaluates `a` deeply, then returns `b`.
    #[builtin("deepSeq", fast = deep_seq_now)]
    async fn builtin_deep_seq(co: &Co, #[lazy] a: Value, b: Value) -> Result<Value, Error> {
        co.deep_force(a).await?;
        Ok(b)
    }

    /// Loads, parses and evaluates a Nix file (`dir/default.nix` for a
    /// directory); each file is evaluated once per evaluation.
    #[builtin("import")]
    async fn builtin_import(co: &Co, path: Value) -> Result<Value, Error> {
        let path = super::super::fs::coerce_to_path(co, path).await?;
        let thunk = co.context().import(&path)?;
        co.force(thunk).await
    }

    /// `import`, with the attributes of `scope` bound as variables of the
    /// file (shadowing builtins). CppNix forces the path first.
    #[builtin("scopedImport")]
    async fn builtin_scoped_import(
        co: &Co,
        #[lazy] scope: Value,
        path: Value,
    ) -> Result<Value, Error> {
        let path = super::super::fs::coerce_to_path(co, path).await?;
        let scope = co.force(scope).await?.as_attrs()?;
        let thunk = co.context().scoped_import(&path, &scope)?;
        co.force(thunk).await
    }

    /// Prints `e1` to standard error (as `trace: …`, without forcing what
    /// is inside it) and returns `e2`.
    #[builtin("trace")]
    async fn builtin_trace(co: &Co, msg: Value, #[lazy] v: Value) -> Result<Value, Error> {
        let text = match &msg {
            Value::String(s) => s.to_string(),
            other => crate::value::print::print_diagnostic(other),
        };
        co.context().report(Diagnostic::Trace(text));
        co.force(v).await
    }

    /// `trace`, but only when `--trace-verbose` is given; otherwise the
    /// message is not even forced, as in CppNix.
    #[builtin("traceVerbose")]
    async fn builtin_trace_verbose(
        co: &Co,
        #[lazy] msg: Value,
        #[lazy] v: Value,
    ) -> Result<Value, Error> {
        if co.context().options.trace_verbose {
            let msg = co.force(msg).await?;
            let text = match &msg {
                Value::String(s) => s.to_string(),
                other => crate::value::print::print_diagnostic(other),
            };
            co.context().report(Diagnostic::Trace(text));
        }
        co.force(v).await
    }

    /// Prints an evaluation warning (a string) and returns `e2`; with
    /// `--abort-on-warn` the warning is an error.
    #[builtin("warn")]
    async fn builtin_warn(co: &Co, msg: Value, #[lazy] v: Value) -> Result<Value, Error> {
        let msg = msg.as_string()?;
        if co.context().options.abort_on_warn {
            return Err(ErrorKind::Throw(msg.to_string()).into());
        }
        co.context()
            .report(Diagnostic::EvalWarning(msg.to_string()));
        co.force(v).await
    }

    /// Evaluates `e` and, should that fail, adds `context` to the trace of
    /// the error; `context` is forced only then, and an error in it
    /// replaces the first one, as in CppNix.
    #[builtin("addErrorContext")]
    async fn builtin_add_error_context(
        co: &Co,
        #[lazy] context: Value,
        #[lazy] v: Value,
    ) -> Result<Value, Error> {
        match co.force(v).await {
            Ok(v) => Ok(v),
            Err(mut e) => {
                e.add_context(message(co, context).await?);
                Err(e)
            }
        }
    }

    /// Enters the debugger in CppNix; there is none here, so it returns its
    /// argument.
    #[builtin("break")]
    async fn builtin_break(co: &Co, #[lazy] v: Value) -> Result<Value, Error> {
        Ok(v)
    }
}
