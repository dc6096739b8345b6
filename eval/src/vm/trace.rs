//! `--trace-runtime`: a line on the diagnostics per instruction the VM
//! runs, per code frame it enters and per builtin it calls, so that users
//! can watch what the VM does.
//!
//! `run_code` is instantiated twice (its `TRACE` parameter) and only the
//! tracing instance calls into this module: an evaluation without the flag
//! pays nothing per instruction for it.

use std::fmt::Write;

use super::{Frame, Vm};
use crate::chunk::{Lambda, LambdaKind, Op};
use crate::errors::Diagnostic;
use crate::source::Span;
use crate::value::Value;
use crate::value::print::print_diagnostic;

/// How many bytes of a string the trace shows.
const MAX_STRING: usize = 40;

impl Vm {
    /// `enter`: a code frame starts running.
    pub(super) fn trace_enter(&self, depth: usize, lambda: &Lambda) {
        let what = match lambda.kind {
            LambdaKind::Function => format!("call {}", lambda.display_name()),
            LambdaKind::Thunk => "force thunk".to_string(),
            LambdaKind::File => "file".to_string(),
        };
        self.trace_line(depth, lambda.span, "enter", &what);
    }

    /// The instruction `op` at `at` in `lambda` has run (or failed, which
    /// the error's own report shows): what it left on top of the stack,
    /// and a frame it started or ended.
    pub(super) fn trace_op(&self, depth: usize, lambda: &Lambda, at: usize, op: Op) {
        let span = super::span_at(lambda, at);
        let mut text = format!("{op:?}");
        // The frame this instruction started, if any: the one right above.
        let started = self.frames.get(depth + 1);
        match started {
            Some(Frame::Generator { name, .. }) if !name.is_empty() => {
                let _ = write!(text, " -> builtin {name}");
            }
            Some(Frame::BuiltinArgs(call)) => {
                let _ = write!(text, " -> builtin {}", call.name());
            }
            _ if matches!(op, Op::Return) => {
                let _ = write!(text, " -> return {}", self.trace_top());
            }
            _ => {
                let _ = write!(text, " => {}", self.trace_top());
            }
        }
        self.trace_line(depth, span, "op", &text);
    }

    fn trace_top(&self) -> String {
        self.stack.last().map_or_else(|| "(empty)".into(), short)
    }

    fn trace_line(&self, depth: usize, span: Span, kind: &str, text: &str) {
        let loc = self.ctx.sources.location(span);
        self.ctx.report(Diagnostic::Debug(format!(
            "trace-runtime: {depth:>3} {}:{}:{} {kind} {text}\n",
            loc.file, loc.line, loc.column
        )));
    }
}

/// A rendering of a value bounded in size: compound values by their size,
/// strings cut short. Nothing is forced.
fn short(v: &Value) -> String {
    match v {
        Value::Attrs(a) => format!("{{ {} attributes }}", a.len()),
        Value::List(l) => format!("[ {} items ]", l.len()),
        Value::String(s) if s.len() > MAX_STRING => {
            let head = String::from_utf8_lossy(&s.as_bytes()[..MAX_STRING]);
            format!("{:?}…", head)
        }
        Value::Thunk(t) => match t.value() {
            Some(v) => short(&v),
            None => "«thunk»".into(),
        },
        other => print_diagnostic(other),
    }
}
