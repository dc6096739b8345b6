//! Runs CppNix's language test suite (`../shared/nix-lang-tests`) against
//! the `tvix` binary, checking what its `RUNNER-lang.sh.txt` checks:
//!
//! - `parse-okay-*`: `tvix --parse - < test.nix` succeeds and prints the
//!   syntax tree in `.exp`;
//! - `parse-fail-*`: it fails, with the error message of `.err.exp`;
//! - `eval-okay-*`: `tvix --eval --strict test.nix` (plus `.flags`, with
//!   `NIX_PATH=lang/dir3:lang/dir4` and `HOME=/fake-home`) prints `.exp`,
//!   and writes `.err.exp` to standard error, or nothing if there is no
//!   such file; `.exp.xml` tests run with `--xml --no-location` instead;
//! - `eval-fail-*`: `tvix` (with `.flags`, or `--eval --strict
//!   --show-trace`) fails, and its error message — the last `error:` line,
//!   which follows the trace — is the one in `.err.exp`. How many tests
//!   match `.err.exp` as a whole is reported too.
//!
//! The suite is copied to a temporary directory first (the copy in
//! `../shared` stores the suite's four symlinks as plain files, which the
//! copy turns back into symlinks), and every command runs in the parent of
//! that `lang/` directory, whose path is replaced by `/pwd` in the output,
//! as the runner does. Each test has a timeout.
//!
//! `tests/lang-passing.txt` lists the tests that pass; the run fails if a
//! listed test fails or an unlisted one passes. `UPDATE_LANG_PASSING=1`
//! rewrites the list. Without the suite the test is skipped with a
//! message, except under CI (`CI=true`), where that is a failure.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);

/// The suite's symlinks, which the shared copy stores as plain files
/// holding their targets.
const SYMLINKS: &[&str] = &[
    "readDir/ldir",
    "readDir/linked",
    "symlink-resolution/broken",
    "symlink-resolution/foo/overlays",
];

/// What the runner's `nix.conf` (written by the Nix test suite's
/// `common/init.sh`) enables for every test and that evaluation sees: the
/// `nix-command` and `flakes` experimental features, without which
/// `parseFlakeRef` does not exist. Passed before each test's own flags.
const RUNNER_CONFIG: &[&str] = &["--extra-experimental-features", "nix-command flakes"];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Category {
    ParseOkay,
    ParseFail,
    EvalOkay,
    EvalFail,
}

impl Category {
    const ALL: [Category; 4] = [
        Category::ParseOkay,
        Category::ParseFail,
        Category::EvalOkay,
        Category::EvalFail,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Category::ParseOkay => "parse-okay-",
            Category::ParseFail => "parse-fail-",
            Category::EvalOkay => "eval-okay-",
            Category::EvalFail => "eval-fail-",
        }
    }
}

struct Outcome {
    pass: bool,
    /// eval-fail and parse-fail: whether all of standard error matched.
    full_match: bool,
    why: String,
}

fn suite_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NIX_LANG_TESTS") {
        return Some(dir.into());
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/nix-lang-tests")
        .canonicalize()
        .ok()
}

/// Copies the suite to `dest`, restoring its symlinks.
fn copy_suite(from: &Path, dest: &Path) -> std::io::Result<()> {
    let mut work = vec![PathBuf::new()];
    while let Some(rel) = work.pop() {
        std::fs::create_dir_all(dest.join(&rel))?;
        for entry in std::fs::read_dir(from.join(&rel))? {
            let entry = entry?;
            let rel = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                work.push(rel);
            } else if SYMLINKS.iter().any(|link| Path::new(link) == rel)
                && entry.file_type()?.is_file()
            {
                let target = std::fs::read_to_string(entry.path())?;
                std::os::unix::fs::symlink(target.trim_end(), dest.join(&rel))?;
            } else {
                std::fs::copy(entry.path(), dest.join(&rel))?;
            }
        }
    }
    Ok(())
}

/// The last line of `text` that starts with `error:` (after indentation),
/// and what follows it up to the next position line: the error's own
/// message, which comes after the trace.
fn error_message(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("error:"))?;
    let mut message = vec![lines[start].trim_start()];
    for line in &lines[start + 1..] {
        let trimmed = line.trim_start();
        if trimmed.starts_with("at ") || trimmed.contains("| ") || trimmed.is_empty() {
            break;
        }
        message.push(line);
    }
    Some(message.join("\n"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `tvix` in `cwd` with a timeout, replacing `cwd` by `/pwd` in its
/// output.
fn run_tvix(cwd: &Path, args: &[String], stdin: Option<&Path>, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tvix"));
    cmd.args(RUNNER_CONFIG)
        .args(args)
        .current_dir(cwd)
        .env_remove("NIX_PATH")
        .env_remove("NIX_ABORT_ON_WARN")
        .env("TEST_VAR", "foo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match stdin.map(std::fs::File::open) {
        Some(Ok(f)) => {
            cmd.stdin(f);
        }
        Some(Err(e)) => {
            return Run {
                code: None,
                stdout: String::new(),
                stderr: format!("cannot open stdin: {e}"),
            };
        }
        None => {
            cmd.stdin(Stdio::null());
        }
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Run {
                code: None,
                stdout: String::new(),
                stderr: format!("cannot run tvix: {e}"),
            };
        }
    };
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(TIMEOUT) {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return Run {
                code: None,
                stdout: String::new(),
                stderr: format!("tvix failed to run: {e}"),
            };
        }
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            return Run {
                code: None,
                stdout: String::new(),
                stderr: "timed out".into(),
            };
        }
    };
    let pwd = cwd.display().to_string();
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&pwd, "/pwd");
    Run {
        code: output.status.code(),
        stdout: clean(&output.stdout),
        stderr: clean(&output.stderr),
    }
}

/// The words of a `.flags` file; `#` starts a comment where `strip` asks
/// (eval-fail runs strip it, eval-okay runs read the first line as is).
fn flags(lang: &Path, name: &str, strip: bool) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(lang.join(format!("{name}.flags"))).ok()?;
    let text = if strip {
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        text.lines().next().unwrap_or("").to_string()
    };
    Some(text.split_whitespace().map(String::from).collect())
}

fn read(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn run_one(cwd: &Path, category: Category, name: &str) -> Outcome {
    let lang = cwd.join("lang");
    let file = format!("lang/{name}.nix");
    let fail = |why: String| Outcome {
        pass: false,
        full_match: false,
        why,
    };
    match category {
        Category::ParseOkay | Category::ParseFail => {
            let run = run_tvix(
                cwd,
                &["--parse".into(), "-".into()],
                Some(&lang.join(format!("{name}.nix"))),
                &[],
            );
            if category == Category::ParseOkay {
                let Some(expected) = read(&lang.join(format!("{name}.exp"))) else {
                    return fail("no .exp".into());
                };
                return match run.code {
                    Some(0) if run.stdout == expected => Outcome {
                        pass: true,
                        full_match: true,
                        why: String::new(),
                    },
                    Some(0) => fail(format!("printed {:?}, expected {expected:?}", run.stdout)),
                    _ => fail(run.stderr),
                };
            }
            compare_error(&lang, name, run)
        }
        Category::EvalFail => {
            let args = flags(&lang, name, true)
                .unwrap_or_else(|| vec!["--eval".into(), "--strict".into(), "--show-trace".into()]);
            let mut args: Vec<String> = args;
            args.push(file);
            compare_error(&lang, name, run_tvix(cwd, &args, None, &[]))
        }
        Category::EvalOkay => {
            let xml = lang.join(format!("{name}.exp.xml"));
            let (args, exp, env): (Vec<String>, PathBuf, Vec<(&str, &str)>) = if xml.exists() {
                let args = ["--eval", "--xml", "--no-location", "--strict"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain([file])
                    .collect();
                (args, xml, Vec::new())
            } else {
                let mut args = flags(&lang, name, false).unwrap_or_default();
                args.extend(["--eval".into(), "--strict".into(), file]);
                let env = vec![("NIX_PATH", "lang/dir3:lang/dir4"), ("HOME", "/fake-home")];
                (args, lang.join(format!("{name}.exp")), env)
            };
            let Some(expected) = read(&exp) else {
                return fail("no .exp".into());
            };
            let run = run_tvix(cwd, &args, None, &env);
            if run.code != Some(0) {
                return fail(run.stderr);
            }
            if run.stdout != expected {
                return fail(format!("printed {:?}, expected {expected:?}", run.stdout));
            }
            let expected_err = read(&lang.join(format!("{name}.err.exp"))).unwrap_or_default();
            if run.stderr != expected_err {
                return fail(format!(
                    "standard error {:?}, expected {expected_err:?}",
                    run.stderr
                ));
            }
            Outcome {
                pass: true,
                full_match: true,
                why: String::new(),
            }
        }
    }
}

/// A failing run passes if it failed (exit code 1) with the error message
/// of `.err.exp`.
fn compare_error(lang: &Path, name: &str, run: Run) -> Outcome {
    let expected = read(&lang.join(format!("{name}.err.exp"))).unwrap_or_default();
    let full_match = run.stderr == expected;
    let fail = |why: String| Outcome {
        pass: false,
        full_match,
        why,
    };
    if run.code != Some(1) {
        return fail(format!("exit code {:?}: {}", run.code, run.stdout));
    }
    let (got, want) = (error_message(&run.stderr), error_message(&expected));
    if got.is_some() && got == want {
        Outcome {
            pass: true,
            full_match,
            why: String::new(),
        }
    } else {
        fail(format!("error {got:?}, expected {want:?}"))
    }
}

fn main() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(suite) = suite_dir() else {
        println!("lang tests: SKIPPED: ../shared/nix-lang-tests not found (set NIX_LANG_TESTS)");
        std::process::exit(if ci { 1 } else { 0 });
    };
    let tmp = std::env::temp_dir().join(format!("tvix-lang-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    if let Err(e) = copy_suite(&suite, &tmp.join("lang")) {
        println!("lang tests: cannot copy the suite: {e}");
        std::process::exit(1);
    }
    let list_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang-passing.txt");
    let listed: BTreeSet<String> = read(&list_file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let verbose = std::env::var_os("LANG_TESTS_VERBOSE").is_some() || filter.is_some();

    let mut names: Vec<(Category, String)> = Vec::new();
    let entries = std::fs::read_dir(tmp.join("lang"))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default();
    for entry in entries {
        let fname = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = fname.strip_suffix(".nix") else {
            continue;
        };
        for cat in Category::ALL {
            if stem.starts_with(cat.prefix())
                && !(cat == Category::EvalOkay
                    && tmp.join(format!("lang/{stem}.exp-disabled")).exists())
                && filter.as_ref().is_none_or(|f| stem.contains(f.as_str()))
            {
                names.push((cat, stem.to_string()));
            }
        }
    }
    names.sort();

    let started = Instant::now();
    let queue = Mutex::new(names.iter());
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).ok().flatten();
                    let Some((cat, name)) = next else { break };
                    let outcome = run_one(&tmp, *cat, name);
                    if let Ok(mut r) = results.lock() {
                        r.push((*cat, name.clone(), outcome));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));

    let mut passing = BTreeSet::new();
    let mut counts = std::collections::BTreeMap::<Category, (usize, usize, usize)>::new();
    let mut out = std::io::stdout().lock();
    for (cat, name, outcome) in &results {
        let c = counts.entry(*cat).or_default();
        c.1 += 1;
        c.2 += usize::from(outcome.full_match);
        if outcome.pass {
            c.0 += 1;
            passing.insert(name.clone());
        } else if verbose {
            let _ = writeln!(out, "FAIL {name}: {}", outcome.why);
        }
    }
    for (cat, (pass, total, full)) in &counts {
        let label = cat.prefix().trim_end_matches('-');
        let _ = match cat {
            Category::EvalFail | Category::ParseFail => writeln!(
                out,
                "{label:<11} passed {pass:>4} / {total:>4}  (whole stderr matches: {full})"
            ),
            _ => writeln!(out, "{label:<11} passed {pass:>4} / {total:>4}"),
        };
    }
    let _ = writeln!(
        out,
        "({} tests in {:.1?})",
        results.len(),
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&tmp);

    if filter.is_some() {
        return;
    }
    if std::env::var_os("UPDATE_LANG_PASSING").is_some() {
        let body: String = passing.iter().map(|n| format!("{n}\n")).collect();
        let _ = std::fs::write(
            &list_file,
            format!(
                "# Lang tests that pass; maintained by tests/lang.rs (UPDATE_LANG_PASSING=1).\n{body}"
            ),
        );
        return;
    }
    let regressions: Vec<&String> = listed.difference(&passing).collect();
    let unlisted: Vec<&String> = passing.difference(&listed).collect();
    for name in &regressions {
        let _ = writeln!(out, "REGRESSION (listed, now failing): {name}");
    }
    for name in &unlisted {
        let _ = writeln!(
            out,
            "UNLISTED (passing, add to tests/lang-passing.txt): {name}"
        );
    }
    if !regressions.is_empty() || !unlisted.is_empty() {
        std::process::exit(1);
    }
}
