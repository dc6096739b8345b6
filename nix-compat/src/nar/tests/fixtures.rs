//! The trees behind the golden NARs in `testdata/nar/`, as Rust data.
//!
//! `testdata/nar/generate.sh` builds the same trees with shell commands and
//! dumps them with CppNix; the two descriptions must agree, which the golden
//! tests check byte for byte.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::harness::Tree;

/// The tree a fixture name stands for.
pub(super) fn fixture(name: &str) -> Tree {
    match name {
        "regular" => Tree::file(b"Hello, NAR!\n"),
        "executable" => Tree::executable(b"#!/bin/sh\necho hi\n"),
        "symlink" => Tree::symlink(b"target/of/link"),
        "empty-file" => Tree::file(b""),
        "empty-dir" => Tree::directory([]),
        "eight-bytes" => Tree::file(b"01234567"),
        "sixteen-bytes" => Tree::file(b"0123456789abcdef"),
        "nul-bytes" => Tree::file(b"\0\x01\0nul\0"),
        "nested" => Tree::directory([
            (b"B", Tree::file(b"upper\n")),
            (
                b"a",
                Tree::directory([
                    (b"empty", Tree::directory([])),
                    (b"link", Tree::symlink(b"../B")),
                    (b"run", Tree::executable(b"#!/bin/sh\n")),
                ]),
            ),
            (b"a.b", Tree::file(b"dot\n")),
            (b"ab", Tree::symlink(b"a.b")),
            (b"z", Tree::file(b"")),
            ("é".as_bytes(), Tree::file(b"accent\n")),
        ]),
        _ => panic!("no fixture named {name}"),
    }
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/nar")
}

/// The NAR CppNix made of a fixture.
pub(super) fn golden(name: &str) -> Vec<u8> {
    let path = testdata().join(format!("{name}.nar"));
    fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `nix-hash --type sha256` of each fixture, hex and nixbase32, by name.
pub(super) fn nix_hashes() -> BTreeMap<String, (String, String)> {
    let path = testdata().join("hashes.txt");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(|line| match line.split(' ').collect::<Vec<_>>()[..] {
            [name, hex, base32] => (name.to_owned(), (hex.to_owned(), base32.to_owned())),
            _ => panic!("malformed hashes.txt line {line:?}"),
        })
        .collect()
}

/// Creates `tree` at `path`, as generate.sh does.
pub(super) fn materialise(tree: &Tree, path: &Path) -> io::Result<()> {
    match tree {
        Tree::File {
            executable,
            contents,
        } => {
            fs::write(path, contents)?;
            let mode = if *executable { 0o755 } else { 0o644 };
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
        }
        Tree::Symlink(target) => symlink(OsStr::from_bytes(target), path),
        Tree::Directory(entries) => {
            fs::create_dir(path)?;
            for (name, child) in entries {
                materialise(child, &path.join(OsStr::from_bytes(name)))?;
            }
            Ok(())
        }
    }
}

/// Reads the tree at `path` back from the filesystem, keeping what a NAR
/// keeps (the owner's executable bit, as CppNix does).
pub(super) fn read_tree(path: &Path) -> io::Result<Tree> {
    let meta = fs::symlink_metadata(path)?;
    Ok(if meta.is_symlink() {
        Tree::Symlink(fs::read_link(path)?.as_os_str().as_bytes().to_vec())
    } else if meta.is_dir() {
        let mut entries = BTreeMap::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            entries.insert(
                entry.file_name().as_bytes().to_vec(),
                read_tree(&entry.path())?,
            );
        }
        Tree::Directory(entries)
    } else {
        Tree::File {
            executable: meta.permissions().mode() & 0o100 != 0,
            contents: fs::read(path)?,
        }
    })
}
