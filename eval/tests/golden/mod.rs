//! What the golden tests share: evaluating as `nix-instantiate --eval
//! --strict` does, the table format of `tests/builtins`, and the lists of
//! known-failing cases that are checked both ways.

// Two test crates include this module, each using only part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tvix_eval::{EvalOptions, EvalRequest, Evaluator, OutputFormat};

/// How an evaluation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The value, printed as `nix-instantiate --eval --strict` does.
    Value(String),
    /// The error's own message, and whether `builtins.tryEval` catches it.
    Error { message: String, catchable: bool },
}

/// What an evaluation printed: traces and warnings, then its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub stderr: Vec<String>,
    pub outcome: Outcome,
}

impl Output {
    /// For an expected error: whether it is catchable.
    pub fn catchable(&self) -> Option<bool> {
        match &self.outcome {
            Outcome::Error { catchable, .. } => Some(*catchable),
            Outcome::Value(_) => None,
        }
    }

    /// How `got` differs from this expected output, if it does.
    pub fn difference(&self, got: &Output) -> Option<String> {
        if self.outcome != got.outcome {
            return Some(format!(
                "expected {}, got {}",
                describe(&self.outcome),
                describe(&got.outcome)
            ));
        }
        if self.stderr != got.stderr {
            return Some(format!(
                "expected standard error {:?}, got {:?}",
                self.stderr, got.stderr
            ));
        }
        None
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Value(v) => format!("value {v}"),
        Outcome::Error { message, catchable } => {
            let kind = if *catchable {
                "catchable error"
            } else {
                "error"
            };
            format!("{kind} {message:?}")
        }
    }
}

/// Where the source comes from.
pub enum Source<'a> {
    /// An expression (`-E`), with relative paths resolved against a folder.
    Expr(&'a str, &'a Path),
    /// A file.
    File(&'a Path),
}

/// Evaluates as `nix-instantiate --eval --strict` does, on a fresh
/// evaluator. If it fails and `check_catchable`, an expression is also
/// evaluated as `builtins.tryEval (builtins.deepSeq (EXPR) null)` to tell
/// whether its error is catchable, as `generate.sh` does with CppNix. The
/// folder `dir` is shown as `/pwd`. A panic is an error whose message says
/// so.
pub fn evaluate(source: Source, dir: &Path, check_catchable: bool) -> Output {
    evaluate_with(
        &|| Evaluator::new(EvalOptions::default(), None),
        source,
        dir,
        check_catchable,
    )
}

/// `evaluate` with evaluators made by `make` (one with a store, say).
pub fn evaluate_with(
    make: &dyn Fn() -> Evaluator,
    source: Source,
    dir: &Path,
    check_catchable: bool,
) -> Output {
    let (stderr, result) = run(make, &source);
    let outcome = match result {
        Ok(value) => Outcome::Value(value),
        Err(message) => {
            let catchable = match source {
                Source::Expr(expr, base) if check_catchable => {
                    let wrapped =
                        format!("(builtins.tryEval (builtins.deepSeq ({expr}\n) null)).success");
                    run(make, &Source::Expr(&wrapped, base)).1.as_deref() == Ok("false")
                }
                _ => false,
            };
            Outcome::Error { message, catchable }
        }
    };
    let shown = dir.to_string_lossy();
    let normalise = |s: &str| s.replace(shown.as_ref(), "/pwd");
    Output {
        stderr: stderr.iter().map(|l| normalise(l)).collect(),
        outcome: match outcome {
            Outcome::Value(v) => Outcome::Value(normalise(&v)),
            Outcome::Error { message, catchable } => Outcome::Error {
                message: normalise(&message),
                catchable,
            },
        },
    }
}

/// The lines printed to standard error, and the printed value or the
/// error's message.
fn run(make: &dyn Fn() -> Evaluator, source: &Source) -> (Vec<String>, Result<String, String>) {
    let evaluated = catch_unwind(AssertUnwindSafe(|| {
        let evaluator = make();
        let request = EvalRequest {
            strict: true,
            speculate: true,
            ..EvalRequest::default()
        };
        let value = match source {
            Source::Expr(expr, dir) => evaluator.eval_expr(expr, dir, &request),
            Source::File(path) => evaluator.eval_file(path, &request),
        };
        let result = value
            .and_then(|v| evaluator.print(&v, OutputFormat::Nix))
            .map_err(|e| error_message(&e.render(evaluator.sources(), false)));
        let stderr: Vec<String> = evaluator
            .take_diagnostics()
            .iter()
            .flat_map(|d| {
                let text = d.render(evaluator.sources());
                text.lines().map(str::to_string).collect::<Vec<_>>()
            })
            .collect();
        (stderr, result)
    }));
    evaluated.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        (Vec::new(), Err(format!("tvix panicked: {what}")))
    })
}

/// The error's own message in rendered error output, as `generate.sh`
/// takes it from CppNix's: the last `error:` line and the lines after it
/// up to a position line, unindented.
fn error_message(rendered: &str) -> String {
    let lines: Vec<&str> = rendered.lines().collect();
    let Some(start) = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("error:"))
    else {
        return rendered.to_string();
    };
    let first = lines[start].trim_start();
    let first = first.strip_prefix("error:").unwrap_or(first);
    let first = first.strip_prefix(' ').unwrap_or(first);
    let mut message = vec![first.to_string()];
    for line in &lines[start + 1..] {
        let is_position = line.starts_with("       at ") && line.ends_with(':');
        if is_position {
            break;
        }
        message.push(line.strip_prefix("       ").unwrap_or(line).to_string());
    }
    while message.len() > 1 && message.last().is_some_and(|l| l.is_empty()) {
        message.pop();
    }
    message.join("\n")
}

/// One case of a table.
pub struct Case {
    pub name: String,
    pub expr: String,
    pub expected: Output,
}

impl Case {
    pub fn id(&self, table: &str) -> String {
        format!("{table}/{}", self.name)
    }
}

/// A table of cases for one builtin (see `tests/builtins.rs` for the
/// format).
pub struct Table {
    pub name: String,
    pub cases: Vec<Case>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Table::parse(&name, &text)
    }

    /// Parses a table; malformed lines are a bug of the table, reported
    /// with their line number.
    pub fn parse(name: &str, text: &str) -> Table {
        let mut cases: Vec<Case> = Vec::new();
        // The records of the case being read: (key, text).
        let mut records: Vec<(String, String)> = Vec::new();
        let mut current: Option<(String, String)> = None;
        let finish = |current: &mut Option<(String, String)>,
                      records: &mut Vec<(String, String)>,
                      cases: &mut Vec<Case>| {
            if let Some((case, expr)) = current.take() {
                let expected = outcome_of(name, &case, std::mem::take(records));
                cases.push(Case {
                    name: case,
                    expr,
                    expected,
                });
            }
        };
        for (n, line) in text.lines().enumerate() {
            let at = || format!("{name}.txt:{}", n + 1);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line
                .strip_prefix("  | ")
                .or(line.strip_prefix("  |").filter(|r| r.is_empty()))
            {
                let (_, text) = records
                    .last_mut()
                    .unwrap_or_else(|| panic!("{}: continuation of nothing", at()));
                text.push('\n');
                text.push_str(rest);
            } else if let Some(record) = line.strip_prefix("  ") {
                // `2.34 ` before a record: what CppNix 2.34 gives instead.
                let (newer, record) = match record.strip_prefix(NEWER) {
                    Some(r) => (NEWER, r),
                    None => ("", record),
                };
                let (key, text) = if let Some(v) = record.strip_prefix("=> ") {
                    ("=>", v)
                } else {
                    record
                        .split_once(": ")
                        .unwrap_or_else(|| panic!("{}: not a record: {line:?}", at()))
                };
                if current.is_none() {
                    panic!("{}: a record outside a case", at());
                }
                records.push((format!("{newer}{key}"), text.to_string()));
            } else {
                let (case, expr) = line
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("{}: not a case: {line:?}", at()));
                finish(&mut current, &mut records, &mut cases);
                current = Some((case.to_string(), expr.to_string()));
            }
        }
        finish(&mut current, &mut records, &mut cases);
        let mut seen = BTreeSet::new();
        for case in &cases {
            assert!(seen.insert(&case.name), "{name}: case {} twice", case.name);
        }
        Table {
            name: name.to_string(),
            cases,
        }
    }

    pub fn case_ids(&self) -> Vec<String> {
        self.cases.iter().map(|c| c.id(&self.name)).collect()
    }

    /// Evaluates every case with evaluators made by `make`, from `dir`,
    /// prints the pass count and checks the failures against `known`.
    pub fn check(&self, make: &dyn Fn() -> Evaluator, dir: &Path, known: &KnownFailing) {
        let failures: Vec<(String, String)> = self
            .cases
            .iter()
            .filter_map(|case| {
                let source = Source::Expr(&case.expr, dir);
                let got = evaluate_with(make, source, dir, case.expected.catchable().is_some());
                let diff = case.expected.difference(&got)?;
                Some((case.id(&self.name), diff))
            })
            .collect();
        println!(
            "{}: {} of {} cases pass",
            self.name,
            self.cases.len() - failures.len(),
            self.cases.len()
        );
        known.check(&self.name, &self.case_ids(), &failures);
    }
}

/// The prefix of a record written by hand: where CppNix 2.34, which made
/// the lang suite's expected outputs, differs from CppNix 2.26, which made
/// the tables. Such a record replaces the one of its kind (the outcome, or
/// the standard error); `generate.sh` keeps it.
const NEWER: &str = "2.34 ";

fn outcome_of(table: &str, case: &str, records: Vec<(String, String)>) -> Output {
    let newer: Vec<(String, String)> = records
        .iter()
        .filter_map(|(k, t)| Some((k.strip_prefix(NEWER)?.to_string(), t.clone())))
        .collect();
    let newer_outcome = newer.iter().any(|(k, _)| k != "stderr");
    let newer_stderr = newer.iter().any(|(k, _)| k == "stderr");
    let records = records
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with(NEWER)
                && if k == "stderr" {
                    !newer_stderr
                } else {
                    !newer_outcome
                }
        })
        .chain(newer);
    let mut stderr = Vec::new();
    let mut outcome = None;
    for (key, text) in records {
        match key.as_str() {
            "stderr" => stderr.extend(text.split('\n').map(str::to_string)),
            "=>" => outcome = Some(Outcome::Value(text)),
            "error" | "catchable error" => {
                outcome = Some(Outcome::Error {
                    message: text,
                    catchable: key == "catchable error",
                })
            }
            other => panic!("{table}/{case}: unknown record {other:?}"),
        }
    }
    let outcome = outcome.unwrap_or_else(|| panic!("{table}/{case}: no outcome (run generate.sh)"));
    Output { stderr, outcome }
}

/// Serialises rewrites of a known-failing list by tests running in
/// parallel.
static UPDATE_LOCK: Mutex<()> = Mutex::new(());

/// A list of known-failing case ids (`GROUP/NAME`), one a line, after
/// comment lines starting with `#`. With `UPDATE_KNOWN_FAILING=1` the
/// checks rewrite it instead of failing.
pub struct KnownFailing {
    path: PathBuf,
}

impl KnownFailing {
    pub fn new(path: PathBuf) -> Self {
        KnownFailing { path }
    }

    fn updating() -> bool {
        std::env::var_os("UPDATE_KNOWN_FAILING").is_some_and(|v| v == "1")
    }

    /// The comment lines at the top, and the listed ids.
    fn read(&self) -> (Vec<String>, BTreeSet<String>) {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let (comments, ids): (Vec<&str>, Vec<&str>) = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .partition(|l| l.starts_with('#'));
        (
            comments.into_iter().map(str::to_string).collect(),
            ids.into_iter().map(|l| l.trim().to_string()).collect(),
        )
    }

    fn write(&self, comments: &[String], ids: &BTreeSet<String>) {
        let mut text = String::new();
        for line in comments.iter().chain(ids) {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&self.path, text)
            .unwrap_or_else(|e| panic!("writing {}: {e}", self.path.display()));
    }

    /// Checks the failures among `ids` (all of one group) against the
    /// list: a failure that is not listed and a listed case that passes
    /// both fail.
    pub fn check(&self, group: &str, ids: &[String], failures: &[(String, String)]) {
        let _guard = UPDATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let (comments, mut listed) = self.read();
        let ours: BTreeSet<&String> = ids.iter().collect();
        let failing: BTreeSet<&String> = failures.iter().map(|(id, _)| id).collect();
        if Self::updating() {
            listed.retain(|id| !ours.contains(id));
            listed.extend(failing.iter().map(|id| id.to_string()));
            self.write(&comments, &listed);
            return;
        }
        let mut problems = Vec::new();
        for (id, diff) in failures {
            if !listed.contains(id) {
                problems.push(format!("{id}: {diff}"));
            }
        }
        for id in listed.iter().filter(|id| ours.contains(id)) {
            if !failing.contains(id) {
                problems.push(format!("{id}: passes but is listed as known-failing"));
            }
        }
        assert!(
            problems.is_empty(),
            "{group}: {} unexpected results (see {}):\n{}",
            problems.len(),
            self.path.display(),
            problems.join("\n")
        );
    }

    /// Every listed id is one of `ids`.
    pub fn check_all_exist(&self, ids: &[String]) {
        let _guard = UPDATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let (comments, mut listed) = self.read();
        let ids: BTreeSet<&String> = ids.iter().collect();
        let stale: Vec<String> = listed
            .iter()
            .filter(|id| !ids.contains(id))
            .cloned()
            .collect();
        if Self::updating() {
            listed.retain(|id| ids.contains(id));
            self.write(&comments, &listed);
            return;
        }
        assert!(
            stale.is_empty(),
            "{} lists cases that do not exist: {stale:?}",
            self.path.display()
        );
    }
}
