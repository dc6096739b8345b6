//! `tvix` beside `nix-instantiate --eval --strict`, whole process against
//! whole process, on the same programs.
//!
//!     cargo bench -p tvix-eval --bench eval
//!
//! Both evaluators run as child processes under GNU `time`, so start-up,
//! parsing, evaluation, printing and freeing all count, and max RSS is the
//! kernel's figure for each. Every number is the best of `EVAL_BENCH_RUNS`
//! runs (default 3). The `tvix` binary is `TVIX_BIN` if set, else built
//! here with `cargo build --release -p tvix-cli`.
//!
//! Programs:
//! - the committed ones in `benches/programs/` (recursion, attribute sets,
//!   strings, lists), one row each;
//! - every `eval-okay` test of `../shared/nix-lang-tests` listed in
//!   `tests/lang-passing.txt`, run the way the suite's runner does, timed
//!   as one group (the sum of the best times); a test gets its own row only
//!   when `tvix` is slower on it.
//!
//! A program is left out of the comparison (with a note) when either
//! evaluator fails on it, e.g. a test of a language feature newer than the
//! installed CppNix. Without `nix-instantiate` on PATH only `tvix` is timed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

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
    let tvix = tvix_binary()?;
    let nix = find_on_path("nix-instantiate");
    let time = find_on_path("time").filter(|t| is_gnu_time(t));
    if nix.is_none() {
        println!("nix-instantiate is not on PATH: timing tvix only");
    }
    if time.is_none() {
        println!("GNU time (package `time`) is not on PATH: no max RSS figures");
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average: {}", load.trim());
    }
    println!("tvix: {}; best of {runs} runs", tvix.display());
    let bench = Bench {
        tvix,
        nix,
        time,
        runs,
    };

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut table = Table::default();
    for program in programs(&manifest.join("benches/programs"))? {
        match bench.compare(&program)? {
            Compared::Both(row) => {
                if let Some(nix) = &row.nix
                    && nix.stdout != row.tvix.stdout
                {
                    println!(
                        "note: {}: tvix and CppNix print different results",
                        row.name
                    );
                }
                table.rows.push(row);
            }
            Compared::Failed(why) => println!("note: {}: left out: {why}", program.name),
        }
    }

    match lang_suite(manifest)? {
        None => println!("note: ../shared/nix-lang-tests is absent: no eval-okay group"),
        Some(tests) => {
            let mut group = Group::default();
            let mut left_out = Vec::new();
            for test in tests {
                match bench.compare(&test)? {
                    Compared::Both(row) => {
                        group.add(&row);
                        if row.nix_slower() == Some(false) {
                            table.slower.push(row);
                        }
                    }
                    Compared::Failed(why) => left_out.push(format!("{} ({why})", test.name)),
                }
            }
            table.group = Some(group);
            if !left_out.is_empty() {
                println!(
                    "note: {} eval-okay tests left out: {}",
                    left_out.len(),
                    left_out.join(", ")
                );
            }
        }
    }
    table.print();
    Ok(())
}

/// One program and how to run it; both evaluators get the same arguments.
struct Program {
    name: String,
    args: Vec<OsString>,
    env: Vec<(&'static str, OsString)>,
    dir: PathBuf,
}

/// The best of N runs of one evaluator on one program.
struct Run {
    wall: Duration,
    max_rss_kib: Option<u64>,
    stdout: Vec<u8>,
}

struct Row {
    name: String,
    tvix: Run,
    nix: Option<Run>,
}

impl Row {
    /// Whether CppNix took longer; `None` without CppNix.
    fn nix_slower(&self) -> Option<bool> {
        self.nix.as_ref().map(|n| n.wall > self.tvix.wall)
    }
}

enum Compared {
    Both(Row),
    /// An evaluator exited unsuccessfully; the reason.
    Failed(String),
}

struct Bench {
    tvix: PathBuf,
    nix: Option<PathBuf>,
    time: Option<PathBuf>,
    runs: usize,
}

impl Bench {
    fn compare(&self, program: &Program) -> Result<Compared, BoxError> {
        let tvix = match self.best_of(&self.tvix, program)? {
            Ok(run) => run,
            Err(why) => return Ok(Compared::Failed(format!("tvix: {why}"))),
        };
        let nix = match &self.nix {
            None => None,
            Some(nix) => match self.best_of(nix, program)? {
                Ok(run) => Some(run),
                Err(why) => return Ok(Compared::Failed(format!("nix-instantiate: {why}"))),
            },
        };
        Ok(Compared::Both(Row {
            name: program.name.clone(),
            tvix,
            nix,
        }))
    }

    /// Runs `evaluator` on `program` N times; the outer error is the
    /// harness failing, the inner one the evaluator.
    fn best_of(
        &self,
        evaluator: &Path,
        program: &Program,
    ) -> Result<Result<Run, String>, BoxError> {
        let rss_file = tempfile::NamedTempFile::new()?;
        let mut best: Option<Run> = None;
        for _ in 0..self.runs {
            let mut cmd = match &self.time {
                Some(time) => {
                    let mut c = Command::new(time);
                    c.arg("-f").arg("%M").arg("-o").arg(rss_file.path());
                    c.arg(evaluator);
                    c
                }
                None => Command::new(evaluator),
            };
            cmd.args(["--eval", "--strict"])
                .args(&program.args)
                .current_dir(&program.dir)
                .envs(program.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null());
            let start = Instant::now();
            let out = cmd.output()?;
            let wall = start.elapsed();
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                return Ok(Err(format!("{}: {first}", out.status)));
            }
            let max_rss_kib = match &self.time {
                Some(_) => std::fs::read_to_string(rss_file.path())?
                    .lines()
                    .last()
                    .and_then(|l| l.trim().parse().ok()),
                None => None,
            };
            let run = Run {
                wall,
                max_rss_kib,
                stdout: out.stdout,
            };
            best = Some(match best {
                Some(b) if b.wall <= run.wall => Run {
                    max_rss_kib: min_option(b.max_rss_kib, run.max_rss_kib),
                    ..b
                },
                Some(b) => Run {
                    max_rss_kib: min_option(b.max_rss_kib, run.max_rss_kib),
                    ..run
                },
                None => run,
            });
        }
        best.map(Ok).ok_or_else(|| "no runs".into())
    }
}

fn min_option(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `.nix` files of the benchmark programs, sorted by name.
fn programs(dir: &Path) -> Result<Vec<Program>, BoxError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|f| f.extension().is_some_and(|e| e == "nix"));
    files.sort();
    Ok(files
        .into_iter()
        .map(|f| Program {
            name: f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            args: vec![f.clone().into_os_string()],
            env: Vec::new(),
            dir: dir.to_path_buf(),
        })
        .collect())
}

/// The passing eval-okay tests, set up as `RUNNER-lang.sh.txt` runs them
/// (`NIX_PATH`, `HOME`, `TEST_VAR`, `.flags` with `lang/` mapped onto the
/// test directory; tests with an `.exp.xml` print `--xml --no-location`).
fn lang_suite(manifest: &Path) -> Result<Option<Vec<Program>>, BoxError> {
    let Ok(dir) = manifest.join("../../shared/nix-lang-tests").canonicalize() else {
        return Ok(None);
    };
    let passing = std::fs::read_to_string(manifest.join("tests/lang-passing.txt"))?;
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

/// Totals over the eval-okay tests both evaluators ran.
#[derive(Default)]
struct Group {
    count: usize,
    tvix: Duration,
    nix: Duration,
    tvix_rss: u64,
    nix_rss: u64,
    has_nix: bool,
}

impl Group {
    fn add(&mut self, row: &Row) {
        self.count += 1;
        self.tvix += row.tvix.wall;
        self.tvix_rss = self.tvix_rss.max(row.tvix.max_rss_kib.unwrap_or(0));
        if let Some(n) = &row.nix {
            self.has_nix = true;
            self.nix += n.wall;
            self.nix_rss = self.nix_rss.max(n.max_rss_kib.unwrap_or(0));
        }
    }
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
    group: Option<Group>,
    /// eval-okay tests where tvix was slower.
    slower: Vec<Row>,
}

impl Table {
    fn print(&self) {
        println!();
        println!(
            "{:<44} {:>10} {:>10} {:>7} {:>12} {:>12}",
            "program", "tvix", "nix", "ratio", "tvix maxRSS", "nix maxRSS"
        );
        for row in &self.rows {
            print_line(
                &row.name,
                row.tvix.wall,
                row.nix.as_ref().map(|n| n.wall),
                row.tvix.max_rss_kib,
                row.nix.as_ref().and_then(|n| n.max_rss_kib),
            );
        }
        if let Some(g) = &self.group {
            print_line(
                &format!("eval-okay suite ({} tests, total)", g.count),
                g.tvix,
                g.has_nix.then_some(g.nix),
                Some(g.tvix_rss).filter(|&r| r > 0),
                Some(g.nix_rss).filter(|&r| r > 0).filter(|_| g.has_nix),
            );
            if g.has_nix {
                println!("  (maxRSS of the group is the largest of any test)");
            }
        }
        if !self.slower.is_empty() {
            println!("eval-okay tests where tvix is slower:");
            for row in &self.slower {
                print_line(
                    &format!("  {}", row.name),
                    row.tvix.wall,
                    row.nix.as_ref().map(|n| n.wall),
                    row.tvix.max_rss_kib,
                    row.nix.as_ref().and_then(|n| n.max_rss_kib),
                );
            }
        }
        println!("ratio = tvix time / nix time (below 1 means tvix is faster)");
    }
}

fn print_line(
    name: &str,
    tvix: Duration,
    nix: Option<Duration>,
    tvix_rss: Option<u64>,
    nix_rss: Option<u64>,
) {
    let ms = |d: Duration| format!("{:.1}ms", d.as_secs_f64() * 1000.0);
    let rss =
        |r: Option<u64>| r.map_or("-".to_string(), |k| format!("{:.1}MiB", k as f64 / 1024.0));
    println!(
        "{:<44} {:>10} {:>10} {:>7} {:>12} {:>12}",
        name,
        ms(tvix),
        nix.map_or("-".to_string(), ms),
        nix.map_or("-".to_string(), |n| format!(
            "{:.2}",
            tvix.as_secs_f64() / n.as_secs_f64()
        )),
        rss(tvix_rss),
        rss(nix_rss),
    );
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

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// GNU time writes `-o FILE`; BSD or busybox `time` would not.
fn is_gnu_time(time: &Path) -> bool {
    Command::new(time)
        .args(["-f", "%M", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
