//! Golden tables, one per builtin: every case of
//! `tests/builtins/<name>.txt` is evaluated with tvix-eval as
//! `nix-instantiate --eval --strict` would, and compared with what CppNix
//! 2.26 printed for it (`tests/builtins/generate.sh` wrote the expected
//! lines with `modern-nix nix-instantiate --eval --strict -E EXPR`).
//!
//! A table holds cases, `NAME: EXPR` at the start of a line, each followed
//! by its expected outcome on indented lines:
//! - `  => VALUE`: the printed value;
//! - `  error: MESSAGE` or `  catchable error: MESSAGE`: the error's own
//!   message (CppNix's last `error:` line), and whether
//!   `builtins.tryEval (builtins.deepSeq EXPR null)` catches it;
//! - `  stderr: LINE`: traces and warnings printed before that, in order;
//! - `  | LINE`: the next line of the record above (multi-line messages);
//! - `  2.34 RECORD`: written by hand, what CppNix 2.34 gives where it
//!   differs from 2.26 (the lang suite's `.err.exp` files show 2.34's
//!   wording); it replaces the record of its kind and is kept by
//!   `generate.sh`.
//!
//! `tests/builtins/known-failing.txt` lists the cases (`TABLE/NAME`) that
//! tvix gets wrong today; it is checked both ways, so a listed case that
//! passes fails its table too. After fixing or breaking cases, rewrite it
//! with `UPDATE_KNOWN_FAILING=1 cargo test -p tvix-eval --test builtins`.
//! A new table is picked up when this file is compiled again.

mod golden;

use std::path::{Path, PathBuf};

use rstest::rstest;

use golden::{KnownFailing, Outcome, Table};
use tvix_eval::{EvalOptions, Evaluator};

/// The folder of the tables; relative paths in cases are resolved against
/// it, and messages show it as `/pwd`.
fn tables_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/builtins")
}

#[rstest]
fn builtin_table(
    #[files("tests/builtins/*.txt")]
    #[exclude("known-failing")]
    path: PathBuf,
) {
    let table = Table::read(&path);
    let known = KnownFailing::new(tables_dir().join("known-failing.txt"));
    let dir = tables_dir();
    table.check(
        &|| Evaluator::new(EvalOptions::default(), None),
        &dir,
        &known,
    );
}

/// Every listed case still exists (a renamed or deleted case is not kept
/// in the list by mistake).
#[test]
fn known_failing_cases_exist() {
    let known = KnownFailing::new(tables_dir().join("known-failing.txt"));
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(tables_dir()).expect("tables folder") {
        let path = entry.expect("folder entry").path();
        let is_table = path.extension().is_some_and(|e| e == "txt")
            && path.file_stem().is_some_and(|s| s != "known-failing");
        if is_table {
            let table = Table::read(&path);
            ids.extend(table.case_ids());
        }
    }
    known.check_all_exist(&ids);
}

/// The outcome format is read back as written.
#[rstest]
#[case::value("  => 3\n", Outcome::Value("3".into()))]
#[case::multi_line_error(
    "  catchable error: a\n  | b\n",
    Outcome::Error { message: "a\nb".into(), catchable: true }
)]
fn parses_outcomes(#[case] text: &str, #[case] outcome: Outcome) {
    let table = Table::parse("t", &format!("c: 1\n{text}"));
    assert_eq!(table.cases[0].expected.outcome, outcome);
}
