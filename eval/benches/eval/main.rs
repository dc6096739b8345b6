//! `tvix` beside CppNix, whole process against whole process, on the same
//! programs in one run.
//!
//!     cargo bench -p tvix-eval --bench eval
//!
//! Evaluators, each run as `COMMAND --eval --strict ARGS…` under GNU `time`
//! (so start-up, parsing, evaluation, printing and freeing all count, and
//! peak RSS is the kernel's figure):
//! - `tvix`: `TVIX_BIN` if set, else built here with `cargo build --release
//!   -p tvix-cli`;
//! - the reference, CppNix 2.26: `EVAL_BENCH_REFERENCE` (a command line;
//!   empty to leave it out), by default `../shared/tools/modern-nix
//!   nix-instantiate`, which runs it in a chroot that sees the temporary
//!   folder: the programs are copied there;
//! - CppNix 2.8: `EVAL_BENCH_NIX_OLD`, by default `nix-instantiate` on PATH.
//!
//! Each number is the best of `EVAL_BENCH_RUNS` runs (default 3): wall time
//! and, separately, the smallest peak RSS. The ratios divide tvix's figure by
//! the reference's; a program where tvix prints something else than the
//! reference is marked "differs" and gets no ratio. `EVAL_BENCH_FILTER=a,b`
//! runs only the programs whose names contain one of the words;
//! `EVAL_BENCH_SUITE=0` leaves out the language suite.
//!
//! Programs:
//! - the committed ones in `benches/programs/`, one row each, one per cost
//!   class (see the comment at the top of each); `data.json`, the 10 MB
//!   document that `from-json.nix` reads, is written by this bench;
//! - every `eval-okay` test of `../shared/nix-lang-tests` listed in
//!   `cli/tests/lang-passing.txt`, run the way the suite's runner does, timed
//!   as one group (the sum of the best times, the largest peak RSS).

mod run;
mod table;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use run::{Evaluator, Program, Run, Runner};
use table::{Outcome, Row, Table};

type BoxError = Box<dyn std::error::Error>;

/// The target for tvix's time over CppNix 2.26's.
const TARGET_RATIO: f64 = 0.67;

fn main() -> Result<(), BoxError> {
    // `cargo test --all-targets` runs this binary without `--bench`; the
    // benchmark takes minutes, so it only runs when asked for.
    if !std::env::args().any(|a| a == "--bench") {
        println!("eval bench: run with `cargo bench -p tvix-eval --bench eval`");
        return Ok(());
    }
    let runs: usize = std::env::var("EVAL_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(3);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let evaluators = evaluators(manifest)?;
    let time = run::find_on_path("time").filter(|t| run::is_gnu_time(t));
    if time.is_none() {
        println!("GNU time (package `time`) is not on PATH: no CPU time or peak RSS figures");
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average: {}", load.trim());
    }
    for e in evaluators.iter().flatten() {
        println!("{}: {}", e.name, join_words(&e.command));
    }
    println!("best of {runs} runs");
    let runner = Runner { time, runs };

    // The reference may run in a chroot that sees only the temporary
    // folder, so every input is copied there.
    let work = tempfile::Builder::new()
        .prefix("tvix-eval-bench")
        .tempdir()?;
    let filter: Vec<String> = std::env::var("EVAL_BENCH_FILTER")
        .map(|f| f.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut table = Table {
        evaluators: evaluators
            .iter()
            .zip(["tvix", "nix 2.26", "nix 2.8"])
            .map(|(e, default)| e.as_ref().map_or(default.to_string(), |e| e.name.clone()))
            .collect(),
        rows: Vec::new(),
        target: TARGET_RATIO,
    };
    for program in programs(&manifest.join("benches/programs"), work.path())? {
        if !filter.is_empty() && !filter.iter().any(|f| program.name.contains(f.as_str())) {
            continue;
        }
        let row = compare(&runner, &evaluators, &program)?;
        match row.agrees() {
            Some(false) => println!("{}: tvix's output differs from the reference's", row.name),
            _ => println!("{}: done", row.name),
        }
        table.rows.push(row);
    }
    if filter.is_empty() && std::env::var("EVAL_BENCH_SUITE").map_or(true, |s| s != "0") {
        match lang_suite(manifest, work.path()) {
            Ok(None) => println!("note: ../shared/nix-lang-tests is absent: no eval-okay group"),
            Ok(Some(tests)) => table.rows.push(suite_group(&runner, &evaluators, &tests)?),
            Err(e) => println!("note: no eval-okay group: {e}"),
        }
    }
    table.print();
    Ok(())
}

/// tvix, the reference (CppNix 2.26) and CppNix 2.8, in the table's order;
/// `None` for a CppNix that is not available.
fn evaluators(manifest: &Path) -> Result<Vec<Option<Evaluator>>, BoxError> {
    let tvix = Evaluator {
        name: "tvix".into(),
        command: vec![tvix_binary()?.into_os_string()],
    };
    let modern = manifest.join("../../shared/tools/modern-nix");
    let reference = match std::env::var("EVAL_BENCH_REFERENCE") {
        Ok(words) => Evaluator::from_words("nix 2.26", &words),
        Err(_) => modern.canonicalize().ok().and_then(|m| {
            Evaluator::from_words("nix 2.26", &format!("{} nix-instantiate", m.display()))
        }),
    };
    if reference.is_none() {
        println!("no reference (EVAL_BENCH_REFERENCE, ../shared/tools/modern-nix): no ratios");
    }
    let old = Evaluator::from_words(
        "nix 2.8",
        &std::env::var("EVAL_BENCH_NIX_OLD").unwrap_or_else(|_| "nix-instantiate".into()),
    );
    if old.is_none() {
        println!("nix-instantiate (2.8) is not on PATH");
    }
    Ok(vec![Some(tvix), reference, old])
}

fn compare(
    runner: &Runner,
    evaluators: &[Option<Evaluator>],
    program: &Program,
) -> Result<Row, BoxError> {
    let mut outcomes = Vec::new();
    for evaluator in evaluators {
        outcomes.push(match evaluator {
            None => Outcome::Absent,
            Some(e) => match runner.best_of(e, program)? {
                Ok(run) => Outcome::Ran(run),
                Err(why) => Outcome::Failed(why),
            },
        });
    }
    Ok(Row {
        name: program.name.clone(),
        outcomes,
    })
}

/// The eval-okay tests as one row: the sums of the best times over the
/// tests every available evaluator ran, the largest peak RSS.
fn suite_group(
    runner: &Runner,
    evaluators: &[Option<Evaluator>],
    tests: &[Program],
) -> Result<Row, BoxError> {
    let mut totals: Vec<Run> = evaluators
        .iter()
        .map(|_| Run {
            wall: Duration::ZERO,
            cpu: Some(Duration::ZERO),
            max_rss_kib: None,
            stdout: Vec::new(),
        })
        .collect();
    let mut count = 0;
    let mut left_out = Vec::new();
    for test in tests {
        let row = compare(runner, evaluators, test)?;
        let runs: Vec<&Run> = row
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Ran(r) => Some(r),
                _ => None,
            })
            .collect();
        let present = row
            .outcomes
            .iter()
            .filter(|o| !matches!(o, Outcome::Absent))
            .count();
        if runs.len() < present {
            left_out.push(test.name.clone());
            continue;
        }
        count += 1;
        let ran = row.outcomes.iter().filter_map(|o| match o {
            Outcome::Ran(r) => Some(r),
            _ => None,
        });
        for (total, run) in totals.iter_mut().zip(ran) {
            total.wall += run.wall;
            total.cpu = total.cpu.zip(run.cpu).map(|(a, b)| a + b);
            total.max_rss_kib = total.max_rss_kib.max(run.max_rss_kib);
        }
    }
    if !left_out.is_empty() {
        println!(
            "note: {} eval-okay tests left out (an evaluator failed): {}",
            left_out.len(),
            left_out.join(", ")
        );
    }
    let mut totals = totals.into_iter();
    Ok(Row {
        name: format!("eval-okay suite ({count} tests, total)"),
        outcomes: evaluators
            .iter()
            .map(|e| match e {
                Some(_) => totals.next().map_or(Outcome::Absent, Outcome::Ran),
                None => Outcome::Absent,
            })
            .collect(),
    })
}

/// The benchmark programs, copied into `work`, sorted by name; their data
/// written there too.
fn programs(dir: &Path, work: &Path) -> Result<Vec<Program>, BoxError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|f| f.extension().is_some_and(|e| e == "nix"));
    files.sort();
    std::fs::write(work.join("data.json"), json_document())?;
    let mut programs = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = work.join(&name);
        std::fs::copy(&file, &copy)?;
        programs.push(Program {
            name: name.trim_end_matches(".nix").to_string(),
            args: vec![copy.into_os_string()],
            env: Vec::new(),
            dir: work.to_path_buf(),
        });
    }
    Ok(programs)
}

/// A 9 MB JSON document of 70 000 records: strings with escapes, integers,
/// floats with exponents, booleans, nulls, nested lists and objects.
fn json_document() -> String {
    let mut doc = String::from("{\"items\":[");
    for i in 0..70_000 {
        if i > 0 {
            doc.push(',');
        }
        let _ = write!(
            doc,
            "{{\"name\":\"item-{i}\",\"id\":{i},\"value\":{i}.5,\
             \"tags\":[\"a\",\"b\\u00e9\\n\",\"t{}\"],\
             \"meta\":{{\"ok\":{},\"parent\":null,\"depth\":[1,2,-3e2]}}}}",
            i / 7,
            i % 2 == 0
        );
    }
    doc.push_str("],\"version\":\"1.0\"}");
    doc
}

/// The passing eval-okay tests, copied into `work` and set up as
/// `RUNNER-lang.sh.txt` runs them (`NIX_PATH`, `HOME`, `TEST_VAR`, `.flags`
/// with `lang/` mapped onto the test directory; tests with an `.exp.xml`
/// print `--xml --no-location`).
fn lang_suite(manifest: &Path, work: &Path) -> Result<Option<Vec<Program>>, BoxError> {
    let Ok(source) = manifest.join("../../shared/nix-lang-tests").canonicalize() else {
        return Ok(None);
    };
    let dir = work.join("lang");
    copy_dir(&source, &dir)?;
    // The language suite runs in the CLI's tests, which keep the list.
    let passing = std::fs::read_to_string(manifest.join("../cli/tests/lang-passing.txt"))?;
    let lang_prefix = format!("{}/", dir.display());
    let nix_path = format!("{}/dir3:{}/dir4", dir.display(), dir.display());
    let mut tests = Vec::new();
    for name in passing.lines().filter(|l| l.starts_with("eval-okay-")) {
        let mut args: Vec<OsString> =
            match std::fs::read_to_string(dir.join(format!("{name}.flags"))) {
                Ok(flags) => flags
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(|w| w.replace("lang/", &lang_prefix).into())
                    .collect(),
                Err(_) => Vec::new(),
            };
        if dir.join(format!("{name}.exp.xml")).exists() {
            args.extend(["--xml".into(), "--no-location".into()]);
        }
        args.push(dir.join(format!("{name}.nix")).into_os_string());
        tests.push(Program {
            name: name.to_string(),
            args,
            env: vec![
                ("NIX_PATH", nix_path.clone().into()),
                ("HOME", "/fake-home".into()),
                ("TEST_VAR", "foo".into()),
            ],
            dir: dir.clone(),
        });
    }
    Ok(Some(tests))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn join_words(words: &[OsString]) -> String {
    words
        .iter()
        .map(|w| w.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `TVIX_BIN`, or the release `tvix` built by cargo now.
fn tvix_binary() -> Result<PathBuf, BoxError> {
    if let Some(bin) = std::env::var_os("TVIX_BIN") {
        return Ok(bin.into());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    println!("building tvix: cargo build --release -p tvix-cli");
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "tvix-cli",
            "--bin",
            "tvix",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(&workspace)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("cargo build --release -p tvix-cli: {}", out.status).into());
    }
    for line in out.stdout.split(|&b| b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "tvix"
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(exe.into());
        }
    }
    Err("cargo build did not report the tvix executable".into())
}
