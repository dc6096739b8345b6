//! TvixStoreIO's view of files: below a store path it knows, castore's
//! tree, with symlinks followed as the kernel follows them; elsewhere the
//! host's file system.

mod common;

use std::io::{ErrorKind, Read};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use rstest::rstest;
use tvix_eval::io::{EvalIO, FileType};

use common::{TestStore, fixture};

/// What a question about a path answers, or the kind of its error.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Type(FileType),
    Exists(bool),
    Real(String),
    Contents(String),
    Entries(Vec<(String, FileType)>),
    Error(ErrorKind),
}

#[derive(Clone, Copy, Debug)]
enum Question {
    FileType,
    Exists,
    Canonicalize,
    Read,
    ReadDir,
}

fn ask(io: &dyn EvalIO, question: Question, path: &Path) -> Answer {
    let answer = match question {
        Question::FileType => io.file_type(path).map(Answer::Type),
        Question::Exists => io.path_exists(path).map(Answer::Exists),
        Question::Canonicalize => io
            .canonicalize(path)
            .map(|p| Answer::Real(p.display().to_string())),
        Question::Read => io.open(path).and_then(|mut r| {
            let mut text = String::new();
            r.read_to_string(&mut text).map(|_| Answer::Contents(text))
        }),
        Question::ReadDir => io.read_dir(path).map(|entries| {
            let mut entries: Vec<(String, FileType)> = entries
                .into_iter()
                .map(|(name, t)| (String::from_utf8_lossy(&name).into_owned(), t))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Answer::Entries(entries)
        }),
    };
    answer.unwrap_or_else(|e| Answer::Error(e.kind()))
}

/// The fixture, with a symlink loop and a link out of the tree added, is
/// imported; `STORE` in paths and answers is its store path, `HOST` the
/// fixture on the host.
#[rstest]
#[case::file(Question::FileType, "STORE/file.txt", Answer::Type(FileType::Regular))]
#[case::final_symlink_not_followed(
    Question::FileType,
    "STORE/link",
    Answer::Type(FileType::Symlink)
)]
#[case::symlink_on_the_way(
    Question::FileType,
    "STORE/dir-link/nested",
    Answer::Type(FileType::Directory)
)]
#[case::root(Question::FileType, "STORE", Answer::Type(FileType::Directory))]
#[case::missing(
    Question::FileType,
    "STORE/missing",
    Answer::Error(ErrorKind::NotFound)
)]
#[case::below_a_file(
    Question::FileType,
    "STORE/file.txt/x",
    Answer::Error(ErrorKind::NotFound)
)]
#[case::exists_through_symlink(Question::Exists, "STORE/sub/up-link", Answer::Exists(true))]
#[case::dangling_does_not_exist(Question::Exists, "STORE/dangling", Answer::Exists(false))]
#[case::canonical_through_directory_link(
    Question::Canonicalize,
    "STORE/dir-link/nested/deep.txt",
    Answer::Real("STORE/sub/nested/deep.txt".into())
)]
#[case::canonical_through_parent_link(Question::Canonicalize, "STORE/sub/up-link", Answer::Real("STORE/file.txt".into()))]
#[case::canonical_out_of_the_store(Question::Canonicalize, "STORE/out", Answer::Real("HOST/file.txt".into()))]
#[case::read(Question::Read, "STORE/sub/nested/deep.txt", Answer::Contents("deep\n".into()))]
#[case::read_through_links(Question::Read, "STORE/dir-link/up-link", Answer::Contents("hello\n".into()))]
#[case::read_out_of_the_store(Question::Read, "STORE/out", Answer::Contents("hello\n".into()))]
#[case::read_a_directory(Question::Read, "STORE/sub", Answer::Error(ErrorKind::IsADirectory))]
#[case::read_a_loop(Question::Read, "STORE/loop", Answer::Error(ErrorKind::Other))]
#[case::read_dir_empty(Question::ReadDir, "STORE/empty", Answer::Entries(vec![]))]
#[case::read_dir_through_link(
    Question::ReadDir,
    "STORE/dir-link/nested",
    Answer::Entries(vec![("deep.txt".into(), FileType::Regular)])
)]
#[case::read_dir_of_a_file(
    Question::ReadDir,
    "STORE/file.txt",
    Answer::Error(ErrorKind::NotADirectory)
)]
#[case::host(Question::Read, "HOST/file.txt", Answer::Contents("hello\n".into()))]
#[case::unknown_store_path(
    Question::Exists,
    "/nix/store/00000000000000000000000000000000-not-in-tvix",
    Answer::Exists(false)
)]
fn store_paths_read_through_castore(
    #[case] question: Question,
    #[case] path: &str,
    #[case] expected: Answer,
) {
    let fixture = fixture();
    let host = fixture.path().join("fixture");
    symlink("loop", host.join("loop")).expect("a symlink loop");
    symlink(host.join("file.txt"), host.join("out")).expect("a link out of the tree");
    let host_text = host.display().to_string();
    TestStore::new().with_io(|io| {
        let store = io.import_path(&host).expect("the fixture imports");
        let store_text = store.display().to_string();
        let fill = |s: &str| s.replace("STORE", &store_text).replace("HOST", &host_text);
        let expected = match expected {
            Answer::Real(p) => Answer::Real(fill(&p)),
            other => other,
        };
        assert_eq!(ask(&*io, question, &PathBuf::from(fill(path))), expected);
    });
}
