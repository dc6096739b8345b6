//! The instantiation benchmark: `benches/package-set/default.nix` (a
//! nixpkgs-style package set) evaluated to all its `drvPath`s, as
//! `nix-instantiate FILE -A packages` does, by `tvix` beside CppNix 2.8
//! (`nix-instantiate` on PATH) and CppNix 2.26 (through `modern-nix`) in
//! the same run. Per size and program: the best wall time, CPU time (user
//! and system) and the lowest peak RSS (GNU time's `%M`) of N runs, and
//! tvix's ratios to them.
//!
//! ```text
//! cargo bench -p tvix-cli --bench package_set
//! PACKAGE_SET_SIZES=1000,3000 PACKAGE_SET_RUNS=5 cargo bench -p tvix-cli --bench package_set
//! ```
//!
//! Every program writes the `.drv` files: tvix into its in-memory store,
//! CppNix into a throwaway store root (`--store DIR`, emptied before each
//! run so that every run writes all of them). The `drvPath`s each prints
//! must be tvix's, or the benchmark fails.
//!
//! `cargo test --all-targets` runs this without `--bench`: then it only
//! says how to run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A program that instantiates the package set.
struct Program {
    name: &'static str,
    /// The command line before the arguments.
    command: Vec<String>,
    /// Where CppNix keeps its store, emptied before each run.
    store_root: Option<PathBuf>,
    /// Extra arguments (`--readonly-mode`).
    extra: Vec<String>,
}

/// The best of one program's runs at one size.
struct Measure {
    time: Duration,
    /// User and system CPU time: on a loaded machine it varies less than
    /// the wall time.
    cpu_secs: f64,
    rss_kib: u64,
}

/// What GNU time reports of a run.
struct Usage {
    rss_kib: u64,
    cpu_secs: f64,
}

/// GNU time's last line, as `-f "%M %U %S"` writes it.
fn parse_usage(text: &str) -> Option<Usage> {
    let mut fields = text.lines().last()?.split_whitespace();
    let rss_kib = fields.next()?.parse().ok()?;
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some(Usage {
        rss_kib,
        cpu_secs: user + system,
    })
}

const GNU_TIME: &str = "/usr/bin/time";

fn package_set() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/package-set/default.nix")
}

/// `modern-nix` is in `../shared/tools` of the worktree, or where
/// `MODERN_NIX` says.
fn modern_nix() -> Option<PathBuf> {
    let path = std::env::var_os("MODERN_NIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/modern-nix")
        });
    path.exists().then_some(path)
}

fn works(command: &[String]) -> bool {
    let Some((program, args)) = command.split_first() else {
        return false;
    };
    Command::new(program)
        .args(args)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A CppNix twice: writing the `.drv` files into a store at `root`, as
/// tvix writes them into its in-memory store, and with `--readonly-mode`,
/// computing the same paths without writing anything.
fn cppnix([name, readonly]: [&'static str; 2], command: Vec<String>, root: &Path) -> [Program; 2] {
    [
        Program {
            name,
            command: command.clone(),
            store_root: Some(root.to_path_buf()),
            extra: Vec::new(),
        },
        Program {
            name: readonly,
            command,
            store_root: Some(root.to_path_buf()),
            extra: vec!["--readonly-mode".to_string()],
        },
    ]
}

fn programs(scratch: &Path) -> Vec<Program> {
    let mut programs = vec![Program {
        name: "tvix",
        command: vec![env!("CARGO_BIN_EXE_tvix").to_string()],
        store_root: None,
        extra: Vec::new(),
    }];
    let nix28 = vec!["nix-instantiate".to_string()];
    if works(&nix28) {
        programs.extend(cppnix(
            ["nix 2.8", "nix 2.8 readonly"],
            nix28,
            &scratch.join("nix-2.8"),
        ));
    } else {
        eprintln!("package_set: nix-instantiate (2.8) is not on PATH: left out");
    }
    match modern_nix() {
        Some(wrapper) => {
            let nix226 = vec![
                wrapper.display().to_string(),
                "/usr/bin/nix-instantiate".to_string(),
            ];
            if works(&nix226) {
                programs.extend(cppnix(
                    ["nix 2.26", "nix 2.26 readonly"],
                    nix226,
                    &scratch.join("nix-2.26"),
                ));
            } else {
                eprintln!("package_set: modern-nix does not run: nix 2.26 left out");
            }
        }
        None => eprintln!("package_set: modern-nix not found (MODERN_NIX): nix 2.26 left out"),
    }
    programs
}

/// One run: the wall time, GNU time's report, and the sorted drvPaths.
fn run_once(
    program: &Program,
    size: usize,
    scratch: &Path,
) -> Result<(Duration, Usage, Vec<String>), String> {
    let rss_file = scratch.join("rss");
    let mut command = Command::new(GNU_TIME);
    command
        .arg("-f")
        .arg("%M %U %S")
        .arg("-o")
        .arg(&rss_file)
        .args(&program.command)
        .arg(package_set())
        .args(["-A", "packages", "--arg", "size", &size.to_string()])
        .args(&program.extra)
        .env_remove("NIX_PATH")
        .stdin(Stdio::null());
    if let Some(root) = &program.store_root {
        if root.exists() {
            std::fs::remove_dir_all(root).map_err(|e| format!("emptying {root:?}: {e}"))?;
        }
        command.arg("--store").arg(root);
    }
    let start = Instant::now();
    let out = command
        .output()
        .map_err(|e| format!("{}: {e}", program.name))?;
    let time = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            program.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let usage = std::fs::read_to_string(&rss_file)
        .map_err(|e| format!("GNU time's output: {e}"))
        .and_then(|text| parse_usage(&text).ok_or(format!("GNU time printed {text:?}")))?;
    let mut paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    paths.sort();
    Ok((time, usage, paths))
}

fn measure(
    program: &Program,
    size: usize,
    runs: usize,
    scratch: &Path,
    expected: &mut Option<Vec<String>>,
) -> Result<Measure, String> {
    let mut best = Measure {
        time: Duration::MAX,
        cpu_secs: f64::MAX,
        rss_kib: u64::MAX,
    };
    for _ in 0..runs {
        let (time, usage, paths) = run_once(program, size, scratch)?;
        if paths.len() != size {
            return Err(format!(
                "{} printed {} drvPaths, not {size}",
                program.name,
                paths.len()
            ));
        }
        match expected {
            Some(want) if *want != paths => {
                let differ = want.iter().zip(&paths).find(|(a, b)| a != b);
                return Err(format!(
                    "{}'s drvPaths differ from tvix's: {differ:?}",
                    program.name
                ));
            }
            Some(_) => {}
            None => *expected = Some(paths),
        }
        best.time = best.time.min(time);
        best.cpu_secs = best.cpu_secs.min(usage.cpu_secs);
        best.rss_kib = best.rss_kib.min(usage.rss_kib);
    }
    Ok(best)
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "package_set: a benchmark; run it with `cargo bench -p tvix-cli --bench package_set`"
        );
        return;
    }
    if !Path::new(GNU_TIME).exists() {
        eprintln!("package_set: needs GNU time at {GNU_TIME} for peak memory");
        std::process::exit(1);
    }
    let sizes = env_list("PACKAGE_SET_SIZES", &[1000, 3000, 10000]);
    let runs = env_list("PACKAGE_SET_RUNS", &[3])[0].max(1);
    let scratch = std::env::temp_dir().join(format!("tvix-package-set-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        eprintln!("package_set: {scratch:?}: {e}");
        std::process::exit(1);
    }
    let programs = programs(&scratch);
    println!("package set, best of {runs} runs: wall time, CPU time (user + system), peak RSS");
    println!();
    println!(
        "| packages | program | time | CPU | peak RSS | tvix/it time | tvix/it CPU | tvix/it RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut failed = false;
    for &size in &sizes {
        let mut expected = None;
        let mut tvix: Option<Measure> = None;
        for p in &programs {
            match measure(p, size, runs, &scratch, &mut expected) {
                Ok(m) => {
                    let ratios = match &tvix {
                        Some(t) => format!(
                            "{:.2} | {:.2} | {:.2}",
                            t.time.as_secs_f64() / m.time.as_secs_f64(),
                            t.cpu_secs / m.cpu_secs,
                            t.rss_kib as f64 / m.rss_kib as f64
                        ),
                        None => "1 | 1 | 1".to_string(),
                    };
                    println!(
                        "| {size} | {} | {:.2} s | {:.2} s | {:.0} MiB | {ratios} |",
                        p.name,
                        m.time.as_secs_f64(),
                        m.cpu_secs,
                        m.rss_kib as f64 / 1024.0
                    );
                    if tvix.is_none() {
                        tvix = Some(m);
                    }
                }
                Err(e) => {
                    eprintln!("package_set: size {size}: {e}");
                    failed = true;
                    if tvix.is_none() {
                        // Without tvix's drvPaths nothing can be checked.
                        break;
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    if failed {
        std::process::exit(1);
    }
}
