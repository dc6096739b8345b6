//! Runs CppNix's language test suite (`../shared/nix-lang-tests`) the way
//! its `RUNNER-lang.sh.txt` does:
//! - `parse-okay-*` must parse (and bind every name), `parse-fail-*` must not;
//! - `eval-okay-*` is evaluated with `--strict` (plus its `.flags`) and the
//!   printed value compared with `.exp`; `.exp.xml` needs `--xml`;
//! - `eval-fail-*` must fail with an evaluation error.
//!
//! Every test runs in its own thread with a timeout and an interrupt flag,
//! and panics are caught, so no test can hang or crash the suite.
//! `tests/lang-passing.txt` lists the tests known to pass; the run fails if
//! one of them fails. Set `UPDATE_LANG_PASSING=1` to rewrite the list.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tvix_eval::{
    AutoArg, EvalOptions, EvalRequest, Evaluator, LintLevel, OutputFormat, SearchPathEntry,
};

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Category {
    ParseOkay,
    ParseFail,
    EvalOkay,
    EvalFail,
}

impl Category {
    fn prefix(self) -> &'static str {
        match self {
            Category::ParseOkay => "parse-okay-",
            Category::ParseFail => "parse-fail-",
            Category::EvalOkay => "eval-okay-",
            Category::EvalFail => "eval-fail-",
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Pass,
    Fail(String),
}

fn tests_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NIX_LANG_TESTS") {
        return Some(dir.into());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/nix-lang-tests");
    dir.canonicalize().ok()
}

/// Reads `.flags` into an evaluation request and options, mapping the
/// runner's `lang/` prefix onto the test directory.
fn flags(dir: &Path, name: &str, request: &mut EvalRequest, options: &mut EvalOptions) {
    let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.flags"))) else {
        return;
    };
    let text = text.split('#').next().unwrap_or("").to_string();
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.replace("lang/", &format!("{}/", dir.display())))
        .collect();
    let mut includes = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let next = |k: usize| words.get(i + k).cloned().unwrap_or_default();
        match w {
            "--arg" => {
                request.auto_args.push((next(1), AutoArg::Expr(next(2))));
                i += 3;
            }
            "--argstr" => {
                request.auto_args.push((next(1), AutoArg::Str(next(2))));
                i += 3;
            }
            "-A" => {
                request.attr_path = Some(next(1));
                i += 2;
            }
            "--lint-absolute-path-literals"
            | "--lint-short-path-literals"
            | "--lint-url-literals" => {
                let level = match next(1).as_str() {
                    "fatal" => LintLevel::Fatal,
                    "warn" => LintLevel::Warn,
                    _ => LintLevel::Allow,
                };
                match w {
                    "--lint-absolute-path-literals" => options.lints.absolute_paths = level,
                    "--lint-short-path-literals" => options.lints.short_paths = level,
                    _ => options.lints.url_literals = level,
                }
                i += 2;
            }
            "-I" => {
                includes.push(SearchPathEntry::parse(&next(1)));
                i += 2;
            }
            _ => i += 1,
        }
    }
    includes.append(&mut options.search_path);
    options.search_path = includes;
}

fn run_one(dir: &Path, category: Category, name: &str, interrupt: Arc<AtomicBool>) -> Outcome {
    let file = dir.join(format!("{name}.nix"));
    let mut options = EvalOptions {
        search_path: vec![
            SearchPathEntry::parse(&dir.join("dir3").display().to_string()),
            SearchPathEntry::parse(&dir.join("dir4").display().to_string()),
        ],
        home: Some(PathBuf::from("/fake-home")),
        env: Some(
            [
                ("TEST_VAR".to_string(), "foo".to_string()),
                ("HOME".to_string(), "/fake-home".to_string()),
            ]
            .into(),
        ),
        ..EvalOptions::default()
    };
    let mut request = EvalRequest {
        strict: true,
        ..EvalRequest::default()
    };
    flags(dir, name, &mut request, &mut options);
    let evaluator = Evaluator::new(options, Some(interrupt));
    match category {
        Category::ParseOkay | Category::ParseFail => {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => return Outcome::Fail(format!("cannot read: {e}")),
            };
            let result = evaluator.check(&text, &file.display().to_string(), dir);
            match (category, result) {
                (Category::ParseOkay, Ok(())) | (Category::ParseFail, Err(_)) => Outcome::Pass,
                (Category::ParseOkay, Err(e)) => {
                    Outcome::Fail(e.render(evaluator.sources(), false))
                }
                _ => Outcome::Fail("parsed, but should not".into()),
            }
        }
        Category::EvalFail => match evaluator.eval_file(&file, &request) {
            Ok(out) => Outcome::Fail(format!("evaluated to {out}")),
            Err(_) => Outcome::Pass,
        },
        Category::EvalOkay => {
            let xml = dir.join(format!("{name}.exp.xml"));
            if xml.exists() {
                request.output = OutputFormat::Xml;
            }
            let exp = if xml.exists() {
                xml
            } else {
                dir.join(format!("{name}.exp"))
            };
            let expected = match std::fs::read_to_string(exp) {
                Ok(e) => e,
                Err(e) => return Outcome::Fail(format!("no .exp: {e}")),
            };
            match evaluator.eval_file(&file, &request) {
                Ok(out) => {
                    let out = if request.output == OutputFormat::Xml {
                        out
                    } else {
                        format!("{out}\n")
                    };
                    let parent = dir
                        .parent()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    let out = out
                        .replace(&dir.display().to_string(), "/pwd/lang")
                        .replace(&parent, "/pwd");
                    if out == expected {
                        Outcome::Pass
                    } else {
                        Outcome::Fail(format!("expected {expected:?}, got {out:?}"))
                    }
                }
                Err(e) => Outcome::Fail(e.render(evaluator.sources(), false)),
            }
        }
    }
}

/// Runs one test in a thread; a panic or a timeout is a failure.
fn run_guarded(dir: &Path, category: Category, name: &str) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let interrupt = Arc::new(AtomicBool::new(false));
    let (dir2, name2, flag) = (dir.to_path_buf(), name.to_string(), interrupt.clone());
    let spawned = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let r = std::panic::catch_unwind(|| run_one(&dir2, category, &name2, flag));
            let _ = tx.send(r.unwrap_or_else(|_| Outcome::Fail("panicked".into())));
        });
    if let Err(e) = spawned {
        return Outcome::Fail(format!("cannot spawn: {e}"));
    }
    match rx.recv_timeout(TIMEOUT) {
        Ok(o) => o,
        Err(_) => {
            interrupt.store(true, Ordering::Relaxed);
            let _ = rx.recv_timeout(Duration::from_secs(2));
            Outcome::Fail("timed out".into())
        }
    }
}

fn main() {
    let Some(dir) = tests_dir() else {
        println!("lang tests: SKIPPED, ../shared/nix-lang-tests not found (set NIX_LANG_TESTS)");
        return;
    };
    let list_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang-passing.txt");
    let listed: BTreeSet<String> = std::fs::read_to_string(&list_file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let verbose = std::env::var_os("LANG_TESTS_VERBOSE").is_some();

    let mut names: Vec<(Category, String)> = Vec::new();
    let entries = std::fs::read_dir(&dir)
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default();
    for entry in entries {
        let fname = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = fname.strip_suffix(".nix") else {
            continue;
        };
        for cat in [
            Category::ParseOkay,
            Category::ParseFail,
            Category::EvalOkay,
            Category::EvalFail,
        ] {
            if stem.starts_with(cat.prefix()) {
                if cat == Category::EvalOkay && dir.join(format!("{stem}.exp-disabled")).exists() {
                    continue;
                }
                names.push((cat, stem.to_string()));
            }
        }
    }
    names.sort();

    let mut passing = BTreeSet::new();
    let mut regressions = Vec::new();
    let mut counts = std::collections::BTreeMap::<Category, (usize, usize)>::new();
    for (cat, name) in &names {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let outcome = run_guarded(&dir, *cat, name);
        let c = counts.entry(*cat).or_default();
        c.1 += 1;
        match outcome {
            Outcome::Pass => {
                c.0 += 1;
                passing.insert(name.clone());
            }
            Outcome::Fail(why) => {
                if verbose || filter.is_some() {
                    println!("FAIL {name}: {why}");
                }
                if listed.contains(name) {
                    regressions.push(format!("{name}: {why}"));
                }
            }
        }
    }
    for (cat, (pass, total)) in &counts {
        println!(
            "{:<12} passed {pass:>4} / {total:>4}",
            cat.prefix().trim_end_matches('-')
        );
    }
    let new: Vec<&String> = passing.difference(&listed).collect();
    if !new.is_empty() {
        println!("newly passing (add to tests/lang-passing.txt):");
        for n in &new {
            println!("  {n}");
        }
    }
    if std::env::var_os("UPDATE_LANG_PASSING").is_some() && filter.is_none() {
        let body: String = passing.iter().map(|n| format!("{n}\n")).collect();
        let _ = std::fs::write(
            &list_file,
            format!("# Lang tests that pass; maintained by tests/lang.rs.\n{body}"),
        );
    }
    let code = if regressions.is_empty() {
        0
    } else {
        println!("REGRESSIONS (listed as passing, now failing):");
        for r in &regressions {
            println!("  {r}");
        }
        1
    };
    // Timed-out tests may leave threads behind; don't wait for them.
    std::process::exit(code);
}
