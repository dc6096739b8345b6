//! A differential test over larger programs written in the style of real
//! Nix libraries (`tests/programs/*.nix`, over the small library in
//! `tests/programs/lib`): fixed points and overlays, a module system,
//! string, list and attribute-set utilities, versions, JSON. Each is
//! evaluated with tvix-eval as `nix-instantiate --eval --strict` would, and
//! its printed value compared exactly with the `.exp` CppNix 2.26 printed
//! (`tests/programs/generate.sh` wrote them with `modern-nix
//! nix-instantiate --eval --strict NAME.nix`).
//!
//! `tests/programs/known-failing.txt` lists the programs tvix gets wrong
//! today, checked both ways; rewrite it with `UPDATE_KNOWN_FAILING=1
//! cargo test -p tvix-eval --test programs`. A new program is picked up
//! when this file is compiled again.

mod golden;

use std::path::{Path, PathBuf};

use rstest::rstest;

use golden::{KnownFailing, Outcome, Source};

fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs")
}

#[rstest]
fn program(#[files("tests/programs/*.nix")] path: PathBuf) {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected = std::fs::read_to_string(path.with_extension("exp"))
        .unwrap_or_else(|e| panic!("{name}.exp: {e} (run generate.sh)"));
    let expected = Outcome::Value(expected.trim_end_matches('\n').to_string());
    let got = golden::evaluate(Source::File(&path), &programs_dir(), false).outcome;
    let failures = if got == expected {
        Vec::new()
    } else {
        vec![(name.clone(), describe_difference(&expected, &got))]
    };
    let known = KnownFailing::new(programs_dir().join("known-failing.txt"));
    known.check("programs", &[name], &failures);
}

/// Where the printed values first differ, with some context, or the error.
fn describe_difference(expected: &Outcome, got: &Outcome) -> String {
    match (expected, got) {
        (Outcome::Value(want), Outcome::Value(have)) => {
            let at = want
                .bytes()
                .zip(have.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(have.len()));
            let from = at.saturating_sub(60);
            let excerpt = |s: &str| {
                String::from_utf8_lossy(&s.as_bytes()[from.min(s.len())..(at + 60).min(s.len())])
                    .into_owned()
            };
            format!(
                "values differ at byte {at}:\n  expected …{}…\n  got      …{}…",
                excerpt(want),
                excerpt(have)
            )
        }
        (_, Outcome::Error { message, .. }) => format!("error: {message}"),
        (_, got) => format!("got {got:?}"),
    }
}

/// Every listed program still exists.
#[test]
fn known_failing_programs_exist() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(programs_dir()).expect("programs folder") {
        let path = entry.expect("folder entry").path();
        if let Some(stem) = path
            .file_stem()
            .filter(|_| path.extension().is_some_and(|e| e == "nix"))
        {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    KnownFailing::new(programs_dir().join("known-failing.txt")).check_all_exist(&names);
}
