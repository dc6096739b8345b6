//! Evaluation errors.
//!
//! `ErrorKind` says what went wrong; `Error` adds where (the span of the
//! code being run) and, for `--show-trace`, the frames that were active.
//! Only `throw`, failed assertions and search-path misses are *catchable*
//! by `builtins.tryEval`, as in CppNix.

use crate::source::{SourceMap, Span};
use crate::value::Value;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ErrorKind {
    #[error("syntax error: {0}")]
    Parse(String),
    #[error("undefined variable '{0}'")]
    UndefinedVariable(String),
    #[error("attribute '{0}' already defined")]
    DuplicateAttr(String),
    #[error("dynamic attributes not allowed in let")]
    DynamicAttrInLet,
    #[error("{0}")]
    Throw(String),
    #[error("evaluation aborted with the following error message: '{0}'")]
    Abort(String),
    #[error("assertion '{0}' failed")]
    AssertionFailed(String),
    #[error("infinite recursion encountered")]
    InfiniteRecursion,
    #[error("expected {expected} but found {actual}")]
    TypeError {
        expected: &'static str,
        actual: &'static str,
    },
    #[error("attribute '{0}' missing")]
    AttributeMissing(String),
    #[error("division by zero")]
    DivisionByZero,
    #[error("integer overflow in {0}")]
    IntegerOverflow(String),
    #[error("cannot coerce {0} to a string")]
    NotCoercibleToString(&'static str),
    #[error("cannot compare {0} with {1}")]
    Incomparable(&'static str, &'static str),
    #[error("cannot add {0} to {1}")]
    InvalidAddition(&'static str, &'static str),
    #[error("function '{function}' called without required argument '{name}'")]
    MissingArgument { function: String, name: String },
    #[error("function '{function}' called with unexpected argument '{name}'")]
    UnexpectedArgument { function: String, name: String },
    #[error("attempt to call something which is not a function but {0}")]
    NotCallable(&'static str),
    #[error("file '{0}' was not found in the Nix search path (add it using $NIX_PATH or -I)")]
    NotInSearchPath(String),
    #[error("string '{0}' doesn't represent an absolute path")]
    NotAnAbsolutePath(String),
    #[error("{0}")]
    Lint(String),
    #[error("path '{0}' does not exist")]
    PathDoesNotExist(String),
    #[error(
        "input string '{0}' cannot be represented as Nix string because it contains null bytes"
    )]
    NulInString(String),
    /// File access that the evaluator's `EvalIO` refuses (`--pure-eval`).
    #[error("{0}")]
    Restricted(String),
    #[error("cannot read '{path}': {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Builtin(String),
    #[error("stack overflow; max-call-depth exceeded")]
    StackOverflow,
    /// Forcing a thunk whose forcing failed before gives the same error.
    #[error("{}", .0.kind)]
    Memoized(Box<Error>),
    #[error("'builtins.{0}' needs a store, and this evaluator has none (tvix-glue provides one)")]
    NeedsStore(String),
    #[error("evaluation interrupted")]
    Interrupted,
}

impl ErrorKind {
    pub fn type_error(expected: &'static str, actual: &Value) -> Self {
        ErrorKind::TypeError {
            expected,
            actual: actual.describe(),
        }
    }

    /// Whether a thunk whose forcing failed with this error keeps it (see
    /// `Thunk::fail_forcing`).
    pub fn is_memoizable(&self) -> bool {
        !matches!(self, ErrorKind::StackOverflow | ErrorKind::Interrupted)
    }

    /// Whether `builtins.tryEval` may turn this error into `success = false`.
    pub fn is_catchable(&self) -> bool {
        if let ErrorKind::Memoized(e) = self {
            return e.kind.is_catchable();
        }
        matches!(
            self,
            ErrorKind::Throw(_) | ErrorKind::AssertionFailed(_) | ErrorKind::NotInSearchPath(_)
        )
    }
}

/// An error with the position it happened at.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub span: Option<Span>,
    /// Outermost last: the calls and thunks that were being evaluated.
    pub trace: Vec<(String, Span)>,
    /// Lines of context added while the error travelled up, innermost
    /// first.
    pub context: Vec<String>,
}

impl Error {
    /// An error of `kind` at `span`; a memoised error is the error it
    /// keeps, with its own position and trace.
    pub fn new(kind: ErrorKind, span: Option<Span>) -> Self {
        if let ErrorKind::Memoized(error) = kind {
            return *error;
        }
        Error {
            kind,
            span,
            trace: Vec::new(),
            context: Vec::new(),
        }
    }

    /// Adds a line of context (`builtins.addErrorContext`, or a builtin
    /// saying what it was doing), shown with the trace.
    pub fn add_context(&mut self, text: String) {
        self.context.push(text);
    }

    /// Renders like CppNix: the message, the position with a snippet and,
    /// if `show_trace`, the trace entries.
    pub fn render(&self, sources: &SourceMap, show_trace: bool) -> String {
        let mut out = String::from("error:");
        if show_trace {
            for (what, span) in self.trace.iter().rev() {
                out.push_str(&format!("\n       … {what}\n         "));
                out.push_str(&indent(&sources.snippet(*span), "       "));
            }
            if !self.trace.is_empty() {
                out.push_str("\n       error:");
            }
        }
        out.push_str(&format!(" {}\n", self.kind));
        if let Some(span) = self.span {
            out.push_str("       ");
            out.push_str(&indent(&sources.snippet(span), "       "));
        }
        out
    }
}

fn indent(s: &str, prefix: &str) -> String {
    s.lines().collect::<Vec<_>>().join(&format!("\n{prefix}")) + "\n"
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for Error {}

/// Something an evaluation reports besides its result: `builtins.trace`
/// output and warnings. Delivered as it happens (see
/// `EvaluatorBuilder::on_diagnostic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnostic {
    /// `builtins.trace`: `trace: …`.
    Trace(String),
    /// `builtins.warn`: `evaluation warning: …`.
    EvalWarning(String),
    /// A warning about the code, such as a lint: `warning: …` and where.
    Warning { message: String, span: Option<Span> },
}

impl Diagnostic {
    /// The text CppNix prints to standard error for it.
    pub fn render(&self, sources: &SourceMap) -> String {
        match self {
            Diagnostic::Trace(text) => format!("trace: {text}\n"),
            // A message that starts on a line of its own is printed as
            // is; otherwise its lines are aligned under the first.
            Diagnostic::EvalWarning(text) if text.starts_with('\n') => {
                format!("evaluation warning:{text}\n")
            }
            Diagnostic::EvalWarning(text) => {
                let prefix = "evaluation warning: ";
                let aligned = text.replace('\n', &format!("\n{}", " ".repeat(prefix.len())));
                format!("{prefix}{aligned}\n")
            }
            Diagnostic::Warning { message, span } => {
                // A message that starts on a line of its own (one with a
                // trace, as derivation warnings have) follows `warning:`
                // directly.
                let separator = if message.starts_with('\n') { "" } else { " " };
                let mut out = format!("warning:{separator}{message}\n");
                if let Some(span) = span {
                    out.push_str("         ");
                    out.push_str(&indent(&sources.snippet(*span), "         "));
                }
                out
            }
        }
    }
}
