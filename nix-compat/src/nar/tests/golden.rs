//! Our reader and writer against the NARs CppNix made (testdata/nar/).

use std::collections::BTreeSet;
use std::process::Command;

use rstest::rstest;
use sha2::{Digest, Sha256};

use super::fixtures::{fixture, golden, materialise, nix_hashes, read_tree};
use super::harness::{ALL, Impl};
use crate::nixbase32;

const FIXTURES: [&str; 9] = [
    "regular",
    "executable",
    "symlink",
    "empty-file",
    "empty-dir",
    "eight-bytes",
    "sixteen-bytes",
    "nul-bytes",
    "nested",
];

#[rstest]
fn writer_matches_golden(
    #[values(Impl::Sync, Impl::Async)] imp: Impl,
    #[values(
        "regular",
        "executable",
        "symlink",
        "empty-file",
        "empty-dir",
        "eight-bytes",
        "sixteen-bytes",
        "nul-bytes",
        "nested"
    )]
    name: &str,
) {
    assert_eq!(imp.write(&fixture(name)).unwrap(), golden(name));
}

#[test]
fn reader_reads_golden() {
    for imp in ALL {
        for name in FIXTURES {
            let (tree, left) = imp.read(&golden(name)).unwrap();
            assert_eq!(tree, fixture(name), "{imp:?} {name}");
            assert_eq!(left, b"", "{imp:?} {name}");
        }
    }
}

#[test]
fn reader_to_writer_reproduces_golden() {
    for imp in ALL {
        for name in FIXTURES {
            assert_eq!(
                imp.copy(&golden(name)).unwrap(),
                golden(name),
                "{imp:?} {name}"
            );
        }
    }
}

/// Like CppNix, the reader stops after the root node's `")"`, leaving what
/// follows to the caller.
#[test]
fn reader_leaves_trailing_data() {
    for imp in ALL {
        for name in FIXTURES {
            let nar = [golden(name), b"trailing".to_vec()].concat();
            let (tree, left) = imp.read(&nar).unwrap();
            assert_eq!(tree, fixture(name), "{imp:?} {name}");
            assert_eq!(left, b"trailing", "{imp:?} {name}");
        }
    }
}

#[test]
fn nar_sha256_matches_nix_hash() {
    for name in FIXTURES {
        let digest = Sha256::digest(Impl::Sync.write(&fixture(name)).unwrap());
        let (hex, base32) = &nix_hashes()[name];
        assert_eq!(&data_encoding::HEXLOWER.encode(&digest), hex, "{name}");
        assert_eq!(&nixbase32::encode(&digest), base32, "{name}");
    }
}

#[test]
fn hashes_cover_exactly_the_fixtures() {
    let recorded: BTreeSet<String> = nix_hashes().into_keys().collect();
    let described: BTreeSet<String> = FIXTURES.iter().map(|n| n.to_string()).collect();
    assert_eq!(recorded, described);
}

/// The trees the tests build on disk are the fixtures they describe.
#[test]
fn materialised_trees_read_back() {
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let path = dir.path().join(name);
        materialise(&fixture(name), &path).unwrap();
        assert_eq!(read_tree(&path).unwrap(), fixture(name), "{name}");
    }
}

/// CppNix dumps the trees built from the Rust description to the golden
/// bytes, so generate.sh and the description agree.
#[test]
fn cppnix_dumps_fixtures_to_golden() {
    if Command::new("nix-store").arg("--version").output().is_err() {
        println!("skipping: nix-store is not on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let path = dir.path().join(name);
        materialise(&fixture(name), &path).unwrap();
        let dump = Command::new("nix-store")
            .arg("--dump")
            .arg(&path)
            .output()
            .unwrap();
        assert!(dump.status.success(), "nix-store --dump {name} failed");
        assert_eq!(dump.stdout, golden(name), "{name}");
    }
}
