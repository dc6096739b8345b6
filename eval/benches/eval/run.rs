//! Running one evaluator on one program under GNU `time`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::BoxError;

/// An evaluator: a command line that `--eval --strict ARGS…` is appended to.
pub struct Evaluator {
    /// Its column in the table ("tvix", "nix 2.26", …).
    pub name: String,
    pub command: Vec<OsString>,
}

impl Evaluator {
    /// `words`, split on white space: the first is looked up on PATH when
    /// it has no `/`.
    pub fn from_words(name: &str, words: &str) -> Option<Evaluator> {
        let mut words = words.split_whitespace();
        let program = words.next()?;
        let program = if program.contains('/') {
            PathBuf::from(program)
        } else {
            find_on_path(program)?
        };
        let mut command = vec![program.into_os_string()];
        command.extend(words.map(OsString::from));
        Some(Evaluator {
            name: name.to_string(),
            command,
        })
    }
}

/// One program and how to run it; every evaluator gets the same arguments.
pub struct Program {
    pub name: String,
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
    pub dir: PathBuf,
}

/// The best of N runs of one evaluator on one program.
pub struct Run {
    /// Wall-clock time of the fastest run.
    pub wall: Duration,
    /// User + system CPU time of the fastest run, when GNU time measured it.
    pub cpu: Option<Duration>,
    /// The smallest peak resident set size of the runs, in KiB.
    pub max_rss_kib: Option<u64>,
    pub stdout: Vec<u8>,
}

pub struct Runner {
    /// GNU `time`, for CPU time and peak RSS.
    pub time: Option<PathBuf>,
    pub runs: usize,
}

impl Runner {
    /// Runs `evaluator` on `program` N times; the outer error is the
    /// harness failing, the inner one the evaluator.
    pub fn best_of(
        &self,
        evaluator: &Evaluator,
        program: &Program,
    ) -> Result<Result<Run, String>, BoxError> {
        let stats = tempfile::NamedTempFile::new()?;
        let mut best: Option<Run> = None;
        for _ in 0..self.runs {
            let mut cmd = match &self.time {
                Some(time) => {
                    let mut c = Command::new(time);
                    c.args(["-f", "%U %S %M", "-o"]).arg(stats.path());
                    c.args(&evaluator.command);
                    c
                }
                None => {
                    let mut c = Command::new(&evaluator.command[0]);
                    c.args(&evaluator.command[1..]);
                    c
                }
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
                let first = stderr
                    .lines()
                    .find(|l| !l.trim().is_empty() && !l.starts_with("Command exited"))
                    .unwrap_or("");
                return Ok(Err(format!("{}: {first}", out.status)));
            }
            let (cpu, max_rss_kib) = match &self.time {
                Some(_) => parse_time_output(&std::fs::read_to_string(stats.path())?),
                None => (None, None),
            };
            let run = Run {
                wall,
                cpu,
                max_rss_kib,
                stdout: out.stdout,
            };
            best = Some(match best {
                Some(b) => {
                    let rss = min_option(b.max_rss_kib, run.max_rss_kib);
                    let faster = if b.wall <= run.wall { b } else { run };
                    Run {
                        max_rss_kib: rss,
                        ..faster
                    }
                }
                None => run,
            });
        }
        best.map(Ok).ok_or_else(|| "no runs".into())
    }
}

/// `%U %S %M` on the last line (GNU time puts notes above it).
fn parse_time_output(text: &str) -> (Option<Duration>, Option<u64>) {
    let Some(line) = text.lines().last() else {
        return (None, None);
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    let secs = |s: &str| s.parse::<f64>().ok().map(Duration::from_secs_f64);
    match fields.as_slice() {
        [user, sys, rss] => (
            secs(user).zip(secs(sys)).map(|(u, s)| u + s),
            rss.parse().ok(),
        ),
        _ => (None, None),
    }
}

fn min_option(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// GNU time writes `-o FILE`; BSD or busybox `time` would not.
pub fn is_gnu_time(time: &Path) -> bool {
    Command::new(time)
        .args(["-f", "%M", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
