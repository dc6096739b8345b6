//! The stable smoke run: every target replays its committed seed corpus,
//! then runs on mutations of it ([tvix_fuzz::mutate]) for
//! `TVIX_FUZZ_SECS` seconds (default 3), on as many threads as there are
//! cores. A panic fails the run; the input is written next to the test
//! binary's temporary directory and its path printed, so it can be replayed
//! (`cargo +nightly fuzz run <target> <file>` in `fuzz/libfuzzer`) and
//! committed to the corpus with the fix.
//!
//! `TVIX_FUZZ_TARGETS=a,b` runs only those targets; `TVIX_FUZZ_SEED`
//! fixes the mutation seed (printed at the start).
//!
//! It also checks that every target has a corpus and a libFuzzer binary.
//!
//! `cargo test -p tvix-fuzz --test smoke -- TARGET FILE...` instead runs
//! just those files through TARGET, with the panic's backtrace: the way to
//! reproduce a finding of either harness on a stable toolchain.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tvix_fuzz::mutate::{Rng, mutate};
use tvix_fuzz::{TARGETS, Target, corpus_dir};

/// An input running longer than this is a finding too (libFuzzer's
/// `-timeout` in the real runs is 10 s, on an optimised build).
const SLOW_INPUT: Duration = Duration::from_secs(20);

struct Outcome {
    name: &'static str,
    seeds: usize,
    executions: u64,
    slowest: Duration,
    failure: Option<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [name, files @ ..] = &args[..] {
        replay(name, files);
        return;
    }
    let secs: f64 = env_or("TVIX_FUZZ_SECS", 3.0);
    let seed: u64 = env_or(
        "TVIX_FUZZ_SEED",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    );
    let selected: Option<BTreeSet<String>> = std::env::var("TVIX_FUZZ_TARGETS")
        .ok()
        .map(|list| list.split(',').map(str::to_owned).collect());
    let mut problems = check_registry();

    let queue: Mutex<Vec<&'static Target>> = Mutex::new(
        TARGETS
            .iter()
            .filter(|t| selected.as_ref().is_none_or(|s| s.contains(t.name)))
            .rev()
            .collect(),
    );
    eprintln!(
        "fuzz smoke: {} targets, {secs} s each, seed {seed}",
        queue.lock().unwrap().len()
    );
    let budget = Duration::from_secs_f64(secs);
    let outcomes = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let Some(target) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let outcome = run_target(target, budget, seed);
                    outcomes.lock().unwrap().push(outcome);
                }
            });
        }
    });

    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by_key(|o| o.name);
    eprintln!(
        "{:<22} {:>6} {:>10} {:>12}",
        "target", "seeds", "execs", "slowest ms"
    );
    for o in &outcomes {
        eprintln!(
            "{:<22} {:>6} {:>10} {:>12}",
            o.name,
            o.seeds,
            o.executions,
            o.slowest.as_millis()
        );
        if let Some(failure) = &o.failure {
            problems.push(format!("{}: {failure}", o.name));
        }
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("FAILED: {problem}");
        }
        std::process::exit(1);
    }
    eprintln!("fuzz smoke: all {} targets passed", outcomes.len());
}

fn replay(name: &str, files: &[String]) {
    let target = tvix_fuzz::target(name).unwrap_or_else(|| panic!("no target {name}"));
    for file in files {
        let input = std::fs::read(file).unwrap_or_else(|e| panic!("reading {file}: {e}"));
        eprintln!("{name}: {file} ({} bytes)", input.len());
        (target.run)(&input);
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every target needs a non-empty seed corpus and a libFuzzer binary, and
/// every libFuzzer binary a target.
fn check_registry() -> Vec<String> {
    let mut problems = Vec::new();
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shims = std::fs::read_to_string(manifest_dir.join("libfuzzer/Cargo.toml"))
        .expect("fuzz/libfuzzer/Cargo.toml is readable");
    let bins: BTreeSet<&str> = shims
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "tvix-fuzz-libfuzzer")
        .collect();
    let names: BTreeSet<&str> = TARGETS.iter().map(|t| t.name).collect();
    if bins != names {
        problems.push(format!(
            "libFuzzer binaries {bins:?} differ from the targets {names:?}"
        ));
    }
    for name in names {
        if corpus(name).is_empty() {
            problems.push(format!("{name} has no seed corpus"));
        }
    }
    problems
}

/// The seed inputs of target `name`, sorted by file name.
fn corpus(name: &str) -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(corpus_dir(name)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = dir.filter_map(|e| Some(e.ok()?.path())).collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("corpus files are readable"))
        .collect()
}

fn run_target(target: &Target, budget: Duration, seed: u64) -> Outcome {
    let seeds = corpus(target.name);
    let mut outcome = Outcome {
        name: target.name,
        seeds: seeds.len(),
        executions: 0,
        slowest: Duration::ZERO,
        failure: None,
    };
    let mut run = |input: &[u8]| -> bool {
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
        let took = started.elapsed();
        outcome.executions += 1;
        outcome.slowest = outcome.slowest.max(took);
        let failure = match result {
            Err(_) => "panicked",
            Ok(()) if took > SLOW_INPUT => "ran too long",
            Ok(()) => return true,
        };
        let saved = save_failure(target.name, input);
        outcome.failure = Some(format!(
            "{failure} after {took:?} on {} ({} bytes)",
            saved.display(),
            input.len()
        ));
        false
    };
    for input in &seeds {
        if !run(input) {
            return outcome;
        }
    }
    if seeds.is_empty() {
        return outcome;
    }
    let mut rng = Rng::new(seed ^ fnv(target.name));
    let started = Instant::now();
    while started.elapsed() < budget {
        let mut input = seeds[rng.below(seeds.len())].clone();
        let other = &seeds[rng.below(seeds.len())];
        mutate(&mut rng, &mut input, other);
        if !run(&input) {
            break;
        }
    }
    outcome
}

fn save_failure(name: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    std::fs::create_dir_all(&dir).expect("the failure directory can be made");
    let path = dir.join(format!("{name}-{:016x}", fnv_bytes(input)));
    std::fs::write(&path, input).expect("the failing input can be saved");
    path
}

fn fnv(name: &str) -> u64 {
    fnv_bytes(name.as_bytes())
}

/// FNV-1a: a stable name for inputs and per-target seeds.
fn fnv_bytes(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
