//! Evaluation errors.
//!
//! `ErrorKind` says what went wrong, in CppNix's words; `Error` adds where
//! (a position, for the errors CppNix gives one) and the trace: what was
//! being evaluated, innermost first, as CppNix's `addTrace` collects it.
//! `Error::render` prints all of it as CppNix does. Only `throw`, failed
//! assertions (`assert`, and the reasons an `assert a == b` gives) and
//! search-path misses are *catchable* by `builtins.tryEval`, as in CppNix.
//!
//! Nothing here runs unless an error happens: values in messages are
//! printed when the error is made, and trace frames are added while it
//! unwinds.

use std::borrow::Cow;

use crate::source::{SourceMap, Span};
use crate::value::print::print_error_value;
use crate::value::{NixAttrs, NixString, Value};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ErrorKind {
    /// A syntax error, worded as CppNix words it (`syntax error,
    /// unexpected …`).
    #[error("{0}")]
    Parse(String),
    #[error("undefined variable '{0}'")]
    UndefinedVariable(String),
    #[error("attribute '{0}' already defined")]
    DuplicateAttr(String),
    /// A static attribute defined twice in a set literal; `previous` is
    /// the position of the first definition.
    #[error("attribute '{path}' already defined at {previous}")]
    AttrAlreadyDefined { path: String, previous: String },
    #[error("dynamic attributes not allowed in let")]
    DynamicAttrInLet,
    #[error("dynamic attributes not allowed in inherit")]
    DynamicAttrInInherit,
    #[error("duplicate formal function argument '{0}'")]
    DuplicateFormal(String),
    #[error("{0}")]
    Throw(String),
    #[error("evaluation aborted with the following error message: '{0}'")]
    Abort(String),
    #[error("assertion '{0}' failed")]
    AssertionFailed(String),
    #[error("infinite recursion encountered")]
    InfiniteRecursion,
    /// `value` is the value found, printed as error messages print values.
    #[error("expected {expected} but found {actual}: {value}")]
    TypeError {
        expected: &'static str,
        actual: Cow<'static, str>,
        value: String,
    },
    /// The suggestions are printed after the position (`Did you mean …?`).
    #[error("attribute '{name}' missing")]
    AttributeMissing {
        name: String,
        suggestions: Suggestions,
    },
    #[error("division by zero")]
    DivisionByZero,
    #[error("integer overflow in {0}")]
    IntegerOverflow(String),
    #[error("cannot coerce {actual} to a string: {value}")]
    NotCoercibleToString {
        actual: Cow<'static, str>,
        value: String,
    },
    #[error("cannot compare {} with {}; {}", .types.0, .types.1, incomparable_values(types, values))]
    Incomparable {
        types: (Cow<'static, str>, Cow<'static, str>),
        /// Printed; boxed, as errors are moved around a lot.
        values: Box<(String, String)>,
    },
    #[error("cannot add {0} to {1}")]
    InvalidAddition(Cow<'static, str>, Cow<'static, str>),
    #[error("function '{function}' called without required argument '{name}'")]
    MissingArgument { function: String, name: String },
    #[error("function '{function}' called with unexpected argument '{name}'")]
    UnexpectedArgument { function: String, name: String },
    #[error("attempt to call something which is not a function but {actual}: {value}")]
    NotCallable {
        actual: Cow<'static, str>,
        value: String,
    },
    #[error("dynamic attribute '{name}' already defined at {first}")]
    DuplicateDynamicAttr {
        name: String,
        /// Where the first definition is, as `FILE:LINE:COL`.
        first: String,
    },
    #[error("{0}")]
    NotEqual(Box<NotEqual>),
    #[error("file '{0}' was not found in the Nix search path (add it using $NIX_PATH or -I)")]
    NotInSearchPath(String),
    #[error("string '{0}' doesn't represent an absolute path")]
    NotAnAbsolutePath(String),
    #[error("{0}")]
    Lint(#[from] Lint),
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
    /// CppNix's `UsageError`: a bad name of an algorithm or format, for
    /// which CppNix adds a pointer to `--help` (see `Error::render`).
    #[error("{0}")]
    Usage(String),
    #[error("stack overflow; max-call-depth exceeded")]
    StackOverflow,
    /// Forcing a thunk whose forcing failed before gives the same error.
    #[error("{}", .0.kind)]
    Memoized(Box<Error>),
    #[error("'builtins.{0}' needs a store, and this evaluator has none (tvix-glue provides one)")]
    NeedsStore(String),
    #[error(
        "experimental Nix feature '{0}' is disabled; add '--extra-experimental-features {0}' to enable it"
    )]
    MissingExperimentalFeature(&'static str),
    #[error("evaluation interrupted")]
    Interrupted,
}

/// A lint about a literal (`--lint-…-literals warn|fatal`), as a warning
/// or an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lint {
    #[error(
        "absolute path literals are not portable. Consider replacing path literal '{0}' by a string, relative path, or parameter (lint-absolute-path-literals)"
    )]
    AbsolutePath(String),
    #[error(
        "home path literals are not portable. Consider replacing path literal '{0}' by a string, relative path, or parameter (lint-absolute-path-literals)"
    )]
    HomePath(String),
    #[error(
        "relative path literal '{0}' should be prefixed with '.' for clarity: './{0}' (lint-short-path-literals)"
    )]
    ShortPath(String),
    /// A warning says such literals are discouraged, an error disallowed.
    #[error(
        "URL literals are {} Consider using a string literal \"{text}\" instead (lint-url-literals)",
        if *.fatal { "disallowed." } else { "discouraged." }
    )]
    Url { text: String, fatal: bool },
}

/// Why an `assert a == b` failed, as CppNix 2.34 explains it (see
/// `vm::ops::explain_not_equal`). Values are printed as in error messages.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotEqual {
    /// Numbers: `an integer with value '1' is not equal to a float with
    /// value '1.1'`.
    #[error("{} with value '{}' is not equal to {} with value '{}'", .left.0, .left.1, .right.0, .right.1)]
    Numbers {
        left: (Cow<'static, str>, String),
        right: (Cow<'static, str>, String),
    },
    #[error("{} of value '{}' is not equal to {} of value '{}'", .left.0, .left.1, .right.0, .right.1)]
    Types {
        left: (Cow<'static, str>, String),
        right: (Cow<'static, str>, String),
    },
    #[error("boolean '{0}' is not equal to boolean '{1}'")]
    Booleans(bool, bool),
    #[error("string '{0}' is not equal to string '{1}'")]
    Strings(String, String),
    #[error("path '{0}' is not equal to path '{1}'")]
    Paths(String, String),
    #[error("attribute names of attribute set '{0}' differs from attribute set '{1}'")]
    AttrCount(String, String),
    #[error("attribute name '{name}' is contained in '{left}', but not in '{right}'")]
    AttrOnlyLeft {
        name: String,
        left: String,
        right: String,
    },
    #[error("attribute name '{name}' is missing in '{left}', but is contained in '{right}'")]
    AttrOnlyRight {
        name: String,
        left: String,
        right: String,
    },
    #[error(
        "list of size '{left_len}' is not equal to list of size '{right_len}', left hand side is '{left}', right hand side is '{right}'"
    )]
    ListLengths {
        left_len: usize,
        right_len: usize,
        left: String,
        right: String,
    },
    #[error(
        "distinct functions and immediate comparisons of identical functions compare as unequal"
    )]
    Functions,
}

/// The end of an `Incomparable` message: values of one type that has no
/// order are said to be so.
fn incomparable_values(
    types: &(Cow<'static, str>, Cow<'static, str>),
    values: &(String, String),
) -> String {
    let (left, right) = values;
    if types.0 == types.1 {
        format!("values of that type are incomparable (values are {left} and {right})")
    } else {
        format!("values are {left} and {right}")
    }
}

/// Names close to a missing one, for `Did you mean …?`: CppNix's
/// `Suggestions::bestMatches(…).trim()`, at most five within an edit
/// distance of two, nearest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suggestions(Vec<String>);

impl Suggestions {
    pub fn best_matches<'a>(candidates: impl IntoIterator<Item = &'a [u8]>, query: &str) -> Self {
        let mut scored: Vec<(usize, String)> = candidates
            .into_iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .map(|c| (levenshtein(query, &c), c))
            .filter(|(d, _)| *d <= 2)
            .collect();
        scored.sort();
        scored.truncate(5);
        Suggestions(scored.into_iter().map(|(_, c)| c).collect())
    }

    /// `y`, `one of x or y`, `one of x, y or z`; empty for none.
    fn describe(&self) -> Option<String> {
        let (last, rest) = self.0.split_last()?;
        if rest.is_empty() {
            return Some(last.clone());
        }
        Some(format!("one of {} or {last}", rest.join(", ")))
    }
}

/// The edit distance between two strings, over bytes as CppNix counts it.
fn levenshtein(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

impl ErrorKind {
    pub fn type_error(expected: &'static str, actual: &Value) -> Self {
        ErrorKind::TypeError {
            expected,
            actual: actual.describe(),
            value: print_error_value(actual),
        }
    }

    pub fn not_coercible(value: &Value) -> Self {
        ErrorKind::NotCoercibleToString {
            actual: value.describe(),
            value: print_error_value(value),
        }
    }

    pub fn incomparable(left: &Value, right: &Value) -> Self {
        ErrorKind::Incomparable {
            types: (left.describe(), right.describe()),
            values: Box::new((print_error_value(left), print_error_value(right))),
        }
    }

    /// `name` is missing from `attrs`; the names close to it are
    /// suggested.
    pub fn attribute_missing(name: &NixString, attrs: &NixAttrs) -> Self {
        let name = name.to_string();
        ErrorKind::AttributeMissing {
            suggestions: Suggestions::best_matches(attrs.keys().map(|k| k.as_bytes()), &name),
            name,
        }
    }

    /// `name` is missing, with no suggestions (builtins make none).
    pub fn missing_attribute(name: impl Into<String>) -> Self {
        ErrorKind::AttributeMissing {
            name: name.into(),
            suggestions: Suggestions::default(),
        }
    }

    pub fn not_callable(value: &Value) -> Self {
        ErrorKind::NotCallable {
            actual: value.describe(),
            value: print_error_value(value),
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
            ErrorKind::Throw(_)
                | ErrorKind::AssertionFailed(_)
                | ErrorKind::NotEqual(_)
                | ErrorKind::NotInSearchPath(_)
        )
    }
}

/// One entry of an error's trace: what was being evaluated, and where,
/// if CppNix says where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFrame {
    pub text: Cow<'static, str>,
    pub span: Option<Span>,
    pub print: TracePrint,
}

/// When a trace frame is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracePrint {
    /// Unless the trace is cut short (without `--show-trace`, after the
    /// first few frames).
    Default,
    /// Always, even in a cut trace (`addErrorContext`, derivations).
    Always,
    /// Only with `--show-trace`: CppNix records calls only then.
    ShowTrace,
}

/// An error, where it happened and what was being evaluated.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    /// The error's own position, printed after its message.
    pub span: Option<Span>,
    /// Innermost first.
    pub trace: Vec<TraceFrame>,
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
        }
    }

    /// Adds a trace frame outside the ones already there.
    pub fn add_trace(
        &mut self,
        text: impl Into<Cow<'static, str>>,
        span: Option<Span>,
        print: TracePrint,
    ) {
        self.trace.push(TraceFrame {
            text: text.into(),
            span,
            print,
        });
    }

    /// Adds a line of context without a position (what a builtin was
    /// doing, as CppNix's `errorCtx` texts say).
    pub fn add_context(&mut self, text: impl Into<Cow<'static, str>>) {
        self.add_trace(text, None, TracePrint::Default);
    }

    /// This error with a line of context added.
    pub fn context(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.add_context(text);
        self
    }

    /// Renders as CppNix's `showErrorInfo`: the trace (outermost first;
    /// without `show_trace` cut after a few frames, keeping those always
    /// shown), then the message, its position and suggestions. Runs of a
    /// frame seen before are folded into `(N duplicate frames omitted)`.
    pub fn render(&self, sources: &SourceMap, show_trace: bool) -> String {
        let mut out = String::new();
        // Calls are recorded only with --show-trace in CppNix.
        let frames: Vec<&TraceFrame> = (self.trace.iter().rev())
            .filter(|f| show_trace || f.print != TracePrint::ShowTrace)
            .collect();
        if !frames.is_empty() {
            let mut seen: Vec<&TraceFrame> = Vec::new();
            let mut skipped: Vec<&TraceFrame> = Vec::new();
            let mut count = 0;
            let mut truncate = false;
            for frame in frames {
                if frame.text.is_empty() {
                    continue;
                }
                if !show_trace && count > 3 {
                    truncate = true;
                }
                if truncate && frame.print != TracePrint::Always {
                    continue;
                }
                if seen.contains(&frame) {
                    skipped.push(frame);
                    continue;
                }
                seen.push(frame);
                print_skipped(&mut out, sources, &mut count, &mut skipped);
                print_frame(&mut out, sources, &mut count, frame);
            }
            print_skipped(&mut out, sources, &mut count, &mut skipped);
            if truncate {
                out.push_str(
                    "\n(stack trace truncated; use '--show-trace' to show the full, detailed trace)\n",
                );
            }
            out.push_str("\nerror: ");
        }
        out.push_str(&self.kind.to_string());
        out.push('\n');
        if let Some(span) = self.span {
            out.push_str(&sources.snippet(span));
        }
        if let ErrorKind::AttributeMissing { suggestions, .. } = &self.kind
            && let Some(names) = suggestions.describe()
        {
            out.push_str(&format!("Did you mean {names}?\n"));
        }
        let mut rendered = indent("error: ", &out);
        // CppNix points at `--help` after a usage error, unindented.
        if matches!(self.kind, ErrorKind::Usage(_)) {
            rendered.push_str("Try 'nix-instantiate --help' for more information.\n");
        }
        rendered
    }
}

/// One frame: `… TEXT`, then `  at FILE:L:C:` and the code, if it has a
/// position. `count` goes up by one, and one more for a position.
fn print_frame(out: &mut String, sources: &SourceMap, count: &mut usize, frame: &TraceFrame) {
    *count += 1;
    out.push_str(&format!("\n… {}\n", frame.text));
    if let Some(span) = frame.span {
        out.push_str("  ");
        out.push_str(&sources.snippet(span));
        *count += 1;
    }
}

/// Frames skipped as seen before: printed if they are a few, else
/// summarised.
fn print_skipped(
    out: &mut String,
    sources: &SourceMap,
    count: &mut usize,
    skipped: &mut Vec<&TraceFrame>,
) {
    if skipped.len() > 5 {
        out.push_str(&format!("\n({} duplicate frames omitted)\n", skipped.len()));
    } else {
        for frame in skipped.iter() {
            print_frame(out, sources, count, frame);
        }
    }
    skipped.clear();
}

/// CppNix's `indent`: `first` before the first line, as many spaces before
/// the others, and no line with trailing whitespace; `text`'s trailing
/// whitespace is dropped, and one newline ends the result.
fn indent(first: &str, text: &str) -> String {
    let rest = " ".repeat(first.len());
    let mut out = String::with_capacity(text.len() * 2);
    for (i, line) in text
        .trim_end_matches([' ', '\n', '\r', '\t'])
        .split('\n')
        .enumerate()
    {
        let prefix = if i == 0 { first } else { &rest };
        let line = format!("{prefix}{line}");
        out.push_str(line.trim_end_matches([' ', '\n', '\r', '\t']));
        out.push('\n');
    }
    out
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for Error {}

/// Adds a line of context to the error of a result, without any cost
/// when there is none: `xs.as_list().context("while evaluating …")?`.
pub trait ResultExt<T> {
    fn context(self, text: &'static str) -> Result<T, Error>;
    fn with_context(self, text: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T, E: Into<Error>> ResultExt<T> for Result<T, E> {
    fn context(self, text: &'static str) -> Result<T, Error> {
        self.map_err(|e| e.into().context(text))
    }

    fn with_context(self, text: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| e.into().context(text()))
    }
}

/// Something an evaluation reports besides its result: `builtins.trace`
/// output and warnings. Delivered as it happens (see
/// `EvaluatorBuilder::on_diagnostic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnostic {
    /// `builtins.trace`: `trace: …`.
    Trace(String),
    /// `builtins.warn`: `evaluation warning: …`.
    EvalWarning(String),
    /// Debugging output (`--dump-bytecode`), printed as it is.
    Debug(String),
    /// A warning about the code, such as a lint: `warning: …` and where
    /// (continuation lines and the code snippet indented under it); one
    /// without a position is printed as it is.
    Warning { message: String, span: Option<Span> },
}

impl Diagnostic {
    /// The text CppNix prints to standard error for it.
    pub fn render(&self, sources: &SourceMap) -> String {
        match self {
            Diagnostic::Trace(text) => format!("trace: {text}\n"),
            Diagnostic::Debug(text) => text.clone(),
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
            // Without a position it is CppNix's plain `warn()`: the
            // message as it is.
            Diagnostic::Warning {
                message,
                span: None,
            } => format!("warning: {message}\n"),
            Diagnostic::Warning { message, span } => {
                let mut out = format!("{message}\n");
                if let Some(span) = span {
                    out.push_str(&sources.snippet(*span));
                }
                indent("warning: ", &out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn span(map: &SourceMap, text: &str, offset: u32) -> Span {
        let file = map.add("/pwd/f.nix", text.to_string());
        Span {
            file,
            start: offset,
            end: offset,
        }
    }

    /// An error at a position, with a trace of a builtin call and a
    /// context line; golden text from `nix-instantiate --eval --strict
    /// --show-trace` of `builtins.length 1` (Nix 2.34, the lang suite's
    /// `eval-fail-call-primop.err.exp`).
    #[test]
    fn trace_with_context() {
        let map = SourceMap::default();
        let at = span(&map, "builtins.length 1\n", 0);
        let mut error = Error::from(ErrorKind::type_error("a list", &Value::Int(1)));
        error.add_context("while evaluating the first argument passed to builtins.length");
        error.add_trace(
            "while calling the 'length' builtin",
            Some(at),
            TracePrint::ShowTrace,
        );
        assert_eq!(
            error.render(&map, true),
            "error:
       … while calling the 'length' builtin
         at /pwd/f.nix:1:1:
            1| builtins.length 1
             | ^
            2|

       … while evaluating the first argument passed to builtins.length

       error: expected a list but found an integer: 1
"
        );
    }

    #[rstest]
    // `let a = 1; b = 2; in a + "x"`-like: no trace, the error's position.
    #[case::position_only(
        false,
        0,
        "error: division by zero\n       at /pwd/f.nix:1:1:\n            1| x\n             | ^\n"
    )]
    // Without --show-trace, calls are not shown.
    #[case::calls_hidden(false, 1, "error: division by zero\n")]
    #[case::calls_shown(
        true,
        1,
        "error:\n       … while calling 'f'\n         at /pwd/f.nix:1:1:\n            1| x\n             | ^\n\n       error: division by zero\n"
    )]
    fn trace_printing(#[case] show_trace: bool, #[case] frames: usize, #[case] expected: &str) {
        let map = SourceMap::default();
        let at = span(&map, "x", 0);
        let mut error = Error::new(ErrorKind::DivisionByZero, (frames == 0).then_some(at));
        for _ in 0..frames {
            error.add_trace("while calling 'f'", Some(at), TracePrint::ShowTrace);
        }
        assert_eq!(error.render(&map, show_trace), expected);
    }

    /// Runs of a frame seen before fold into a count when longer than
    /// five, as CppNix prints deep recursions.
    #[rstest]
    #[case::few_printed(4, 5)]
    #[case::many_folded(9, 1)]
    fn duplicate_frames(#[case] repeats: usize, #[case] printed: usize) {
        let map = SourceMap::default();
        let mut error = Error::from(ErrorKind::StackOverflow);
        error.add_context("inner");
        for _ in 0..repeats {
            error.add_context("again");
        }
        error.add_context("outer");
        error.add_context("again");
        let text = error.render(&map, true);
        assert_eq!(text.matches("… again").count(), printed, "{text}");
        assert_eq!(
            text.contains(&format!("({} duplicate frames omitted)", repeats)),
            printed == 1
        );
    }

    /// Without --show-trace the trace is cut after a few frames, except
    /// the ones always shown; golden layout from the lang suite's
    /// `eval-fail-addErrorContext-example.err.exp`.
    #[test]
    fn truncated_trace() {
        let map = SourceMap::default();
        let mut error = Error::from(ErrorKind::Throw("kaboom".into()));
        for n in 1..=5 {
            error.add_context(format!("plain {n}"));
            error.add_trace(format!("always {n}"), None, TracePrint::Always);
        }
        let text = error.render(&map, false);
        assert_eq!(
            text,
            "error:
       … always 5

       … plain 5

       … always 4

       … plain 4

       … always 3

       … always 2

       … always 1

       (stack trace truncated; use '--show-trace' to show the full, detailed trace)

       error: kaboom
"
        );
    }

    #[rstest]
    #[case::one(&["y", "zzzz"], "x", Some("y"))]
    #[case::several_nearest_first(&["foo", "fooo", "bar"], "fo", Some("one of foo or fooo"))]
    #[case::at_most_five(&["a", "b", "c", "d", "e", "f"], "x", Some("one of a, b, c, d or e"))]
    #[case::none_close(&["abcdef"], "x", None)]
    fn suggestions(#[case] names: &[&str], #[case] query: &str, #[case] expected: Option<&str>) {
        let found = Suggestions::best_matches(names.iter().map(|n| n.as_bytes()), query);
        assert_eq!(found.describe().as_deref(), expected);
    }

    #[rstest]
    #[case::same("abc", "abc", 0)]
    #[case::insert("ac", "abc", 1)]
    #[case::substitute("abc", "abd", 1)]
    #[case::empty("", "ab", 2)]
    fn edit_distance(#[case] a: &str, #[case] b: &str, #[case] d: usize) {
        assert_eq!(levenshtein(a, b), d);
    }

    /// Warnings are indented under `warning:`; golden text from the lang
    /// suite's `eval-okay-url-literal-warn.err.exp`.
    #[test]
    fn warning_layout() {
        let map = SourceMap::default();
        let at = span(&map, "http://example.com\n", 0);
        let lint = Lint::Url {
            text: "http://example.com".into(),
            fatal: false,
        };
        let warning = Diagnostic::Warning {
            message: lint.to_string(),
            span: Some(at),
        };
        assert_eq!(
            warning.render(&map),
            "warning: URL literals are discouraged. Consider using a string literal \"http://example.com\" instead (lint-url-literals)
         at /pwd/f.nix:1:1:
              1| http://example.com
               | ^
              2|
"
        );
    }
}
