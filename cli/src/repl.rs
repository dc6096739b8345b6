//! The interactive REPL (`tvix` with no file and no `-E`, or `tvix repl`).
//!
//! Each input is an expression, a binding (`name = expr`, kept for later
//! inputs, shadowing builtins) or a command (`:p`, `:t`, `:l`, `:q`, …).
//! An input continues on the next line while it is incomplete (open
//! brackets, an unfinished `let`), an error is printed and the session
//! goes on, and Ctrl-C stops a running evaluation, not the REPL.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use tvix_eval::{EvalRequest, Evaluator, NixAttrs, OutputFormat, Value};

const HELP: &str = "\
The following commands are available:

  <expr>        Evaluate and print expression
  <x> = <expr>  Bind expression to variable
  :p <expr>     Evaluate and print expression recursively
  :t <expr>     Describe result of evaluation
  :l <path>     Load Nix expression and add it to scope
  :b <expr>     Build a derivation (not available: tvix has no builder yet)
  :i <expr>     Build a derivation and install it (not available either)
  :q            Exit tvix repl
  :?            Show this help
";

/// What the REPL keeps between inputs.
pub struct Repl {
    evaluator: Evaluator,
    /// The bindings made so far, visible to every later input.
    scope: Rc<RefCell<NixAttrs>>,
    interrupt: Arc<AtomicBool>,
    cwd: PathBuf,
}

/// The result of one input, for the caller to print.
pub enum Outcome {
    /// Text to print (may be empty).
    Print(String),
    Quit,
}

impl Repl {
    pub fn new(evaluator: Evaluator, interrupt: Arc<AtomicBool>) -> Self {
        Repl {
            evaluator,
            scope: Rc::default(),
            interrupt,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        }
    }

    fn eval(&self, text: &str, strict: bool) -> Result<Value, String> {
        self.interrupt.store(false, Ordering::Relaxed);
        let request = EvalRequest {
            strict,
            speculate: strict,
            ..EvalRequest::default()
        };
        let scope = self.scope.borrow().clone();
        self.evaluator
            .eval_expr_in_scope(text, &self.cwd, &scope, &request)
            .map_err(|e| e.render(self.evaluator.sources(), false))
    }

    fn print(&self, value: &Value) -> Result<String, String> {
        self.evaluator
            .print(value, OutputFormat::Nix)
            .map_err(|e| e.render(self.evaluator.sources(), false))
    }

    /// Adds bindings to the scope; later ones shadow earlier ones.
    fn bind(&self, entries: Vec<(String, Value)>) {
        let added = NixAttrs::from_entries_last_wins(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_str().into(), v))
                .collect(),
        );
        let merged = self.scope.borrow().update(&added);
        *self.scope.borrow_mut() = merged;
    }

    /// Handles one complete input.
    pub fn handle(&self, input: &str) -> Outcome {
        let input = input.trim();
        let (command, rest) = match input.strip_prefix(':') {
            Some(c) => {
                let (name, rest) = c.split_once(char::is_whitespace).unwrap_or((c, ""));
                (Some(name), rest.trim())
            }
            None => (None, input),
        };
        let result = match command {
            None if input.is_empty() => Ok(String::new()),
            None => match binding(input) {
                Some((name, expr)) => self.eval(expr, false).map(|v| {
                    // Bound lazily, as CppNix's REPL does: the value is
                    // forced only when used.
                    self.bind(vec![(name.to_string(), v)]);
                    String::new()
                }),
                None => self
                    .eval(input, false)
                    .and_then(|v| self.print(&v))
                    .map(|s| s + "\n"),
            },
            Some("q" | "quit") => return Outcome::Quit,
            Some("?" | "help") => Ok(HELP.to_string()),
            Some("p" | "print") => self
                .eval(rest, true)
                .and_then(|v| self.print(&v))
                .map(|s| s + "\n"),
            Some("t" | "type") => self
                .eval(rest, false)
                .map(|v| format!("a {}\n", type_description(&v))),
            Some("l" | "load") => self.load(rest),
            Some("b" | "build" | "i" | "install") => {
                Err("error: tvix has no builder yet: derivations cannot be built\n".to_string())
            }
            Some(other) => Err(format!("error: unknown command ':{other}'\n")),
        };
        Outcome::Print(result.unwrap_or_else(|e| e))
    }

    /// `:l FILE`: the attributes of the set the file evaluates to join the
    /// scope.
    fn load(&self, file: &str) -> Result<String, String> {
        let path = self.cwd.join(file);
        let expr = format!("import {}", nix_path_literal(&path));
        let value = self.eval(&expr, false)?;
        let Value::Attrs(attrs) = value.resolved() else {
            return Err(format!(
                "error: '{file}' evaluates to {}, not a set\n",
                value.describe()
            ));
        };
        let entries: Vec<(String, Value)> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let n = entries.len();
        self.bind(entries);
        Ok(format!("Added {n} variables.\n"))
    }

    /// Completions for the word ending at the cursor: names in scope, or
    /// the attributes of a set for `a.b.<TAB>`.
    fn complete(&self, word: &str) -> Vec<String> {
        if let Some((set_expr, partial)) = word.rsplit_once('.') {
            let Ok(Value::Attrs(attrs)) = self.eval(set_expr, false).map(|v| v.resolved()) else {
                return Vec::new();
            };
            return attrs
                .keys()
                .map(|k| k.to_string())
                .filter(|k| k.starts_with(partial))
                .map(|k| format!("{set_expr}.{k}"))
                .collect();
        }
        let mut names: Vec<String> = self
            .scope
            .borrow()
            .keys()
            .map(|k| k.to_string())
            .chain(self.evaluator.global_names())
            .filter(|n| n.starts_with(word))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// `name = expr` (and not `a == b`): the name and the expression.
fn binding(input: &str) -> Option<(&str, &str)> {
    let (name, expr) = input.split_once('=')?;
    let name = name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\''))
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    (valid && !expr.starts_with('=')).then_some((name, expr))
}

/// A path as a Nix path literal.
fn nix_path_literal(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        text
    } else {
        format!(
            "(/. + \"{}\")",
            text.replace('\\', "\\\\").replace('"', "\\\"")
        )
    }
}

/// CppNix's `:t` wording.
fn type_description(v: &Value) -> &'static str {
    match v.type_of() {
        "int" => "an integer",
        "bool" => "a Boolean",
        "string" => "a string",
        "path" => "a path",
        "null" => "null",
        "set" => "a set",
        "list" => "a list",
        "lambda" => "a function",
        "float" => "a float",
        _ => "a thunk",
    }
}

/// Whether more lines are needed: the parser ran out of input.
fn incomplete(evaluator: &Evaluator, text: &str) -> bool {
    let text = text.trim();
    if text.is_empty() || text.starts_with(':') {
        return false;
    }
    let expr = binding(text).map_or(text, |(_, e)| e);
    match evaluator.check(expr, "«repl»", std::path::Path::new("/")) {
        Err(e) => e.kind.to_string().contains("end of file"),
        Ok(()) => false,
    }
}

/// rustyline's view of the REPL: completion and multi-line validation.
struct ReplHelper<'a> {
    repl: &'a Repl,
}

impl Completer for ReplHelper<'_> {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_-'.".contains(c)))
            .map_or(0, |i| i + 1);
        let word = before.get(start..).unwrap_or("");
        let pairs = self
            .repl
            .complete(word)
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Validator for ReplHelper<'_> {
    fn validate(
        &self,
        ctx: &mut rustyline::validate::ValidationContext<'_>,
    ) -> rustyline::Result<rustyline::validate::ValidationResult> {
        Ok(if incomplete(&self.repl.evaluator, ctx.input()) {
            rustyline::validate::ValidationResult::Incomplete
        } else {
            rustyline::validate::ValidationResult::Valid(None)
        })
    }
}

impl Hinter for ReplHelper<'_> {
    type Hint = String;
}

impl Highlighter for ReplHelper<'_> {}

impl Helper for ReplHelper<'_> {}

/// Where the history is kept: `$XDG_DATA_HOME/tvix/repl-history`.
fn history_file() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("tvix/repl-history"))
}

/// Runs the REPL until `:q` or end of input.
pub fn run(evaluator: Evaluator, interrupt: Arc<AtomicBool>) -> std::process::ExitCode {
    // Ctrl-C during an evaluation sets the evaluator's interrupt flag; at
    // the prompt rustyline reads it as a key.
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupt.clone()) {
        eprintln!("warning: Ctrl-C will end the REPL: {e}");
    }
    let repl = Repl::new(evaluator, interrupt);
    let mut editor: Editor<ReplHelper<'_>, rustyline::history::DefaultHistory> = match Editor::new()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    editor.set_helper(Some(ReplHelper { repl: &repl }));
    let history = history_file();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Welcome to tvix. Type :? for help.\n");
    loop {
        match editor.readline("tvix-repl> ") {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                match repl.handle(&line) {
                    Outcome::Quit => break,
                    Outcome::Print(text) => print!("{text}"),
                }
            }
            // Ctrl-C at the prompt drops the line, as in CppNix.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(h);
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::simple("x = 1", Some(("x", " 1")))]
    #[case::spaces("  foo-bar  =  [ 1 ]", Some(("foo-bar", "  [ 1 ]")))]
    #[case::equality("x == 1", None)]
    #[case::expression("{ a = 1; }", None)]
    #[case::leading_digit("1x = 2", None)]
    fn bindings(#[case] input: &str, #[case] expected: Option<(&str, &str)>) {
        assert_eq!(binding(input), expected);
    }
}
