//! `tvix` beside `nix-instantiate` (Nix 2.8, on PATH) on the same inputs:
//! the output must be the same, byte for byte.
//!
//! Without `nix-instantiate` the comparisons are skipped, and the summary
//! says so; under CI (`CI=true`) that is a failure instead, as CI installs
//! Nix. This runs without libtest's harness so that the summary is shown.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// One comparison: a name, and the arguments both programs get.
struct Case {
    name: &'static str,
    args: Vec<String>,
}

fn package_set() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/package-set/default.nix")
        .display()
        .to_string()
}

fn cases() -> Vec<Case> {
    let set = package_set();
    let args = |extra: &[&str]| -> Vec<String> {
        std::iter::once(set.clone())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    vec![
        // Every .drv path of a nixpkgs-style package set (callPackage,
        // overlays, override, overrideAttrs, multiple outputs).
        Case {
            name: "package set: drvPaths",
            args: args(&["-A", "packages", "--arg", "size", "400"]),
        },
        Case {
            name: "package set: another system",
            args: args(&[
                "-A",
                "packages",
                "--arg",
                "size",
                "50",
                "--argstr",
                "system",
                "aarch64-linux",
            ]),
        },
        Case {
            name: "package set: one package, strictly",
            args: args(&[
                "--eval",
                "--strict",
                "-A",
                "packages.pkg14.drvPath",
                "--arg",
                "size",
                "20",
            ]),
        },
    ]
}

fn run(program: &str, args: &[String]) -> std::io::Result<Output> {
    Command::new(program)
        .args(args)
        .env_remove("NIX_PATH")
        .stdin(Stdio::null())
        .output()
}

fn main() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let have_nix = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let cases = cases();
    if !have_nix {
        println!(
            "differential: {} skipped: nix-instantiate is not on PATH",
            cases.len()
        );
        std::process::exit(if ci { 1 } else { 0 });
    }
    let mut failed = 0;
    for case in &cases {
        let tvix = run(env!("CARGO_BIN_EXE_tvix"), &case.args);
        let nix = run("nix-instantiate", &case.args);
        match (tvix, nix) {
            (Ok(t), Ok(n)) if t.status.success() && n.status.success() && t.stdout == n.stdout => {}
            (Ok(t), Ok(n)) => {
                failed += 1;
                println!(
                    "FAIL {}: tvix {:?} printed {:?} ({}), nix-instantiate {:?} printed {:?}",
                    case.name,
                    t.status.code(),
                    String::from_utf8_lossy(&t.stdout)
                        .lines()
                        .take(3)
                        .collect::<Vec<_>>(),
                    String::from_utf8_lossy(&t.stderr),
                    n.status.code(),
                    String::from_utf8_lossy(&n.stdout)
                        .lines()
                        .take(3)
                        .collect::<Vec<_>>(),
                );
            }
            (t, n) => {
                failed += 1;
                println!(
                    "FAIL {}: cannot run: {:?} {:?}",
                    case.name,
                    t.err(),
                    n.err()
                );
            }
        }
    }
    println!(
        "differential: {} passed, {failed} failed, 0 skipped",
        cases.len() - failed
    );
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
