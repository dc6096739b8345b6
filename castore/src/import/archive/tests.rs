use std::sync::Arc;

use rstest::rstest;
use tokio::io::AsyncWriteExt;
use tokio_tar::{Builder, EntryType, Header};

use super::{
    ArchiveRoot, Compression, Error, IngestedArchive, MAX_PATH_LEN, MAX_TOTAL_PATH_BYTES,
    ingest_archive, ingest_archive_with_root,
};
use crate::blobservice::{BlobService, MemoryBlobService};
use crate::directoryservice::{DirectoryService, MemoryDirectoryService};
use crate::fixtures::{blob_contents, directory_node, file, name, symlink};
use crate::import::IngestionError;
use crate::{B3Digest, Directory, Node};

#[rstest]
#[case::gzip(&[0x1f, 0x8b, 0x08, 0x00], Compression::Gzip)]
#[case::bzip2(b"BZh91AY", Compression::Bzip2)]
#[case::xz(&[0xfd, b'7', b'z', b'X', b'Z', 0x00, 0x00], Compression::Xz)]
#[case::zstd(&[0x28, 0xb5, 0x2f, 0xfd, 0x04], Compression::Zstd)]
#[case::tar(b"tree/\0\0\0", Compression::None)]
#[case::empty(b"", Compression::None)]
#[case::truncated_xz_magic(&[0xfd, b'7', b'z'], Compression::None)]
fn detect_compression(#[case] head: &[u8], #[case] expected: Compression) {
    assert_eq!(expected, Compression::detect(head));
}

/// One archive member, with raw (unvalidated) names so tests can write what
/// hostile archives contain.
enum Member<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    CharDevice(&'a str),
}

fn put_raw(field: &mut [u8], value: &str) {
    let value = value.as_bytes();
    field
        .get_mut(..value.len())
        .expect("test name fits the header field")
        .copy_from_slice(value);
}

async fn tar(members: &[Member<'_>]) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    for member in members {
        let mut header = Header::new_gnu();
        let (path, entry_type, data, mode, link): (&str, _, &[u8], _, _) = match member {
            Member::File(path, data, mode) => (path, EntryType::file(), data, *mode, None),
            Member::Dir(path) => (path, EntryType::dir(), b"", 0o755, None),
            Member::Symlink(path, target) => (path, EntryType::symlink(), b"", 0o777, Some(target)),
            Member::HardLink(path, target) => {
                (path, EntryType::hard_link(), b"", 0o644, Some(target))
            }
            Member::CharDevice(path) => (path, EntryType::character_special(), b"", 0o644, None),
        };
        put_raw(&mut header.as_old_mut().name, path);
        if let Some(link) = link {
            put_raw(&mut header.as_old_mut().linkname, link);
        }
        header.set_entry_type(entry_type);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        builder.append(&header, data).await.expect("append");
    }
    builder.into_inner().await.expect("finish tar")
}

async fn ingest(archive: &[u8]) -> Result<Node, IngestionError<Error>> {
    ingest_archive(
        Arc::new(MemoryBlobService::new()),
        &MemoryDirectoryService::new(),
        archive,
    )
    .await
}

/// The root of `top/{bin/tool (executable), lib -> bin, README}`.
fn expected_small_tree() -> Node {
    let bin = Directory::try_from_iter([(
        name("tool"),
        Node::File {
            digest: B3Digest::of(b"tool"),
            size: 4,
            executable: true,
        },
    )])
    .expect("valid");
    let top = Directory::try_from_iter([
        (name("bin"), directory_node(&bin)),
        (name("lib"), symlink("bin")),
        (name("README"), file(B3Digest::of(b"read me"), 7)),
    ])
    .expect("valid");
    directory_node(&top)
}

#[rstest]
#[case::parents_first(&[
    Member::Dir("top/"),
    Member::Dir("top/bin/"),
    Member::File("top/bin/tool", b"tool", 0o755),
    Member::Symlink("top/lib", "bin"),
    Member::File("top/README", b"read me", 0o644),
])]
#[case::children_first(&[
    Member::File("top/README", b"read me", 0o644),
    Member::File("top/bin/tool", b"tool", 0o755),
    Member::Dir("top/bin/"),
    Member::Symlink("top/lib", "bin"),
    Member::Dir("top/"),
])]
#[case::no_directory_entries(&[
    Member::File("top/bin/tool", b"tool", 0o755),
    Member::Symlink("top/lib", "bin"),
    Member::File("top/README", b"read me", 0o644),
])]
#[case::dot_slash_prefix(&[
    Member::Dir("./"),
    Member::Dir("./top/"),
    Member::Dir("./top/bin/"),
    Member::File("./top/bin/tool", b"tool", 0o755),
    Member::Symlink("./top/lib", "bin"),
    Member::File("./top/README", b"read me", 0o644),
])]
#[case::later_entry_replaces_earlier(&[
    Member::File("top/README", b"old", 0o644),
    Member::File("top/bin/tool", b"tool", 0o755),
    Member::Symlink("top/lib", "bin"),
    Member::File("top/README", b"read me", 0o644),
])]
#[tokio::test]
async fn entries_in_any_order(#[case] members: &[Member<'_>]) {
    let archive = tar(members).await;

    assert_eq!(
        expected_small_tree(),
        ingest(&archive).await.expect("ingest")
    );
}

#[tokio::test]
async fn hard_link_shares_contents() {
    let archive = tar(&[
        Member::File("top/a", b"shared", 0o755),
        Member::HardLink("top/b", "top/a"),
    ])
    .await;
    let shared = Node::File {
        digest: B3Digest::of(b"shared"),
        size: 6,
        executable: true,
    };
    let expected = Directory::try_from_iter([(name("a"), shared.clone()), (name("b"), shared)])
        .expect("valid");

    assert_eq!(
        directory_node(&expected),
        ingest(&archive).await.expect("ingest")
    );
}

#[tokio::test]
async fn single_file_archive() {
    let archive = tar(&[Member::File("hello", b"hello", 0o644)]).await;

    assert_eq!(
        file(B3Digest::of(b"hello"), 5),
        ingest(&archive).await.expect("ingest")
    );
}

async fn ingest_whole(archive: &[u8]) -> IngestedArchive {
    ingest_archive_with_root(
        Arc::new(MemoryBlobService::new()),
        &MemoryDirectoryService::new(),
        archive,
        ArchiveRoot::SingleDirectoryOrAll,
    )
    .await
    .expect("ingest")
}

/// With [ArchiveRoot::SingleDirectoryOrAll], a lone top-level directory is
/// the root and anything else is kept whole.
#[rstest]
#[case::single_directory(
    &[Member::File("top/a", b"a", 0o644), Member::File("top/b", b"b", 0o755)],
    Directory::try_from_iter([
        (name("a"), file(B3Digest::of(b"a"), 1)),
        (name("b"), Node::File { digest: B3Digest::of(b"b"), size: 1, executable: true }),
    ]).expect("valid")
)]
#[case::several_entries(
    &[Member::File("a", b"a", 0o644), Member::Dir("d/")],
    Directory::try_from_iter([
        (name("a"), file(B3Digest::of(b"a"), 1)),
        (name("d"), directory_node(&Directory::new())),
    ]).expect("valid")
)]
#[case::single_file(
    &[Member::File("a", b"a", 0o644)],
    Directory::try_from_iter([(name("a"), file(B3Digest::of(b"a"), 1))]).expect("valid")
)]
#[case::single_symlink(
    &[Member::Symlink("l", "x")],
    Directory::try_from_iter([(name("l"), symlink("x"))]).expect("valid")
)]
#[case::empty(&[], Directory::new())]
#[case::only_dot(&[Member::Dir("./")], Directory::new())]
#[tokio::test]
async fn single_directory_or_all(#[case] members: &[Member<'_>], #[case] expected: Directory) {
    let archive = tar(members).await;

    assert_eq!(directory_node(&expected), ingest_whole(&archive).await.root);
}

#[tokio::test]
async fn newest_mtime_of_any_entry() {
    let mut builder = Builder::new(Vec::new());
    for (path, mtime, entry_type) in [
        ("top/", 20, EntryType::dir()),
        ("top/a", 30, EntryType::file()),
        ("top/b", 10, EntryType::file()),
    ] {
        let mut header = Header::new_gnu();
        header.set_path(path).expect("a valid path");
        header.set_entry_type(entry_type);
        header.set_size(0);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_cksum();
        builder.append(&header, &b""[..]).await.expect("append");
    }
    let archive = builder.into_inner().await.expect("finish tar");

    assert_eq!(30, ingest_whole(&archive).await.newest_mtime);
    assert_eq!(0, ingest_whole(&tar(&[]).await).await.newest_mtime);
}

#[rstest]
#[case::empty(&[], "the archive has no entries")]
#[case::only_dot(&[Member::Dir("./")], "the archive has no entries")]
#[case::two_top_level_entries(
    &[Member::File("b", b"", 0o644), Member::File("a/x", b"", 0o644)],
    "the archive has several top-level entries (a and b), expected one"
)]
#[case::dotdot(
    &[Member::File("top/../../etc/passwd", b"", 0o644)],
    "archive entry \"top/../../etc/passwd\": invalid path: host path \"top/../../etc/passwd\" contains '..' and resolving it was not requested"
)]
#[case::absolute(
    &[Member::File("/etc/passwd", b"", 0o644)],
    "archive entry \"/etc/passwd\": invalid path: host path \"/etc/passwd\" is absolute, castore paths are relative"
)]
#[case::char_device(
    &[Member::Dir("top/"), Member::CharDevice("top/tty")],
    "archive entry top/tty: unsupported entry type Char"
)]
#[case::hard_link_to_nothing(
    &[Member::HardLink("top/a", "top/b")],
    "archive entry top/a: hard link to \"top/b\", which is no earlier regular file"
)]
#[case::hard_link_to_directory(
    &[Member::Dir("top/"), Member::HardLink("top/a", "top")],
    "archive entry top/a: hard link to \"top\", which is no earlier regular file"
)]
#[case::empty_symlink_target(
    &[Member::Symlink("top", "")],
    "archive entry top: link without a target"
)]
#[case::file_as_parent(
    &[Member::File("top/a", b"", 0o644), Member::File("top/a/b", b"", 0o644)],
    "archive entry top/a/b: its parent top/a is not a directory"
)]
#[case::file_replaces_full_directory(
    &[Member::File("top/a/b", b"", 0o644), Member::File("top/a", b"", 0o644)],
    "archive entry top/a: replaces a directory that has entries"
)]
#[tokio::test]
async fn rejects(#[case] members: &[Member<'_>], #[case] message: &str) {
    let archive = tar(members).await;

    let error = ingest(&archive).await.expect_err("must be rejected");

    assert_eq!(message, error.to_string());
}

/// An archive of one file below as many directories as a path of `len`
/// bytes can hold.
async fn deep_file_archive(len: usize) -> Vec<u8> {
    let depth = (len - 1) / 2;
    let path = "a/".repeat(depth) + &"f".repeat(len - 2 * depth);
    assert_eq!(len, path.len());
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::file());
    header.set_size(0);
    header.set_mode(0o644);
    let mut builder = Builder::new(Vec::new());
    builder
        .append_data(&mut header, &path, &b""[..])
        .await
        .expect("append");
    builder.into_inner().await.expect("finish tar")
}

/// Deep paths cost memory with the square of their length, so the longest
/// is bounded.
#[rstest]
#[case::at_limit(MAX_PATH_LEN, None)]
#[case::over_limit(
    MAX_PATH_LEN + 1,
    Some(format!("archive entry {:?}…: path is {} bytes long, more than {MAX_PATH_LEN}", "a/".repeat(32), MAX_PATH_LEN + 1))
)]
#[tokio::test]
async fn path_length(#[case] len: usize, #[case] expected_error: Option<String>) {
    let archive = deep_file_archive(len).await;

    let result = ingest(&archive).await;

    assert_eq!(expected_error, result.err().map(|e| e.to_string()));
}

#[tokio::test]
async fn truncated_archive_names_the_entry() {
    let archive = tar(&[Member::File("top/big", &[7; 4096], 0o644)]).await;

    let error = ingest(archive.get(..1024).expect("long enough"))
        .await
        .expect_err("must be rejected");

    assert!(
        error
            .to_string()
            .starts_with("archive entry top/big: reading its contents: "),
        "{error}"
    );
}

#[rstest]
#[case::gzip(Compression::Gzip)]
#[case::bzip2(Compression::Bzip2)]
#[case::xz(Compression::Xz)]
#[case::zstd(Compression::Zstd)]
#[tokio::test]
async fn compressed(#[case] compression: Compression) {
    use async_compression::tokio::write::{BzEncoder, GzipEncoder, XzEncoder, ZstdEncoder};

    let big = blob_contents("compressed", 2 * 1024 * 1024 + 3);
    let archive = tar(&[
        Member::File("top/bin/tool", b"tool", 0o755),
        Member::Symlink("top/lib", "bin"),
        Member::File("top/README", b"read me", 0o644),
        Member::File("top/big", &big, 0o644),
    ])
    .await;
    let mut compressed = Vec::new();
    let mut encoder: Box<dyn tokio::io::AsyncWrite + Unpin> = match compression {
        Compression::Gzip => Box::new(GzipEncoder::new(&mut compressed)),
        Compression::Bzip2 => Box::new(BzEncoder::new(&mut compressed)),
        Compression::Xz => Box::new(XzEncoder::new(&mut compressed)),
        Compression::Zstd => Box::new(ZstdEncoder::new(&mut compressed)),
        Compression::None => unreachable!("not a case"),
    };
    encoder.write_all(&archive).await.expect("compress");
    encoder.shutdown().await.expect("finish compression");
    drop(encoder);
    assert_eq!(compression, Compression::detect(&compressed));
    let blob_service = Arc::new(MemoryBlobService::new());

    let root = ingest_archive(
        blob_service.clone(),
        &MemoryDirectoryService::new(),
        compressed.as_slice(),
    )
    .await
    .expect("ingest");

    let plain = ingest(&archive).await.expect("ingest plain");
    assert_eq!(plain, root);
    assert!(blob_service.has(&B3Digest::of(&big)).await.expect("has"));
}

/// The tar bomb: entries of about 5 KiB, each a file 2047 directories
/// deep below a top-level directory of its own, so that every entry adds
/// 2047 implied directories with about 4 MiB of paths. Refused once the
/// paths held exceed [MAX_TOTAL_PATH_BYTES], each held once (before, every
/// path was kept twice, twice the bound).
#[tokio::test]
async fn deep_path_bomb() {
    let deep = "a/".repeat((MAX_PATH_LEN - 8) / 2);
    let mut builder = Builder::new(Vec::new());
    let entries = MAX_TOTAL_PATH_BYTES / (deep.len() * deep.len() / 4) + 2;
    for i in 0..entries {
        let path = format!("{i:04}/{deep}f");
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::file());
        header.set_size(0);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, &path, &b""[..])
            .await
            .expect("append");
    }
    let archive = builder.into_inner().await.expect("finish tar");
    assert!(
        archive.len() < entries * 6 * 1024,
        "{} bytes",
        archive.len()
    );

    let started = std::time::Instant::now();
    let error = ingest(&archive).await.expect_err("must be refused");
    assert!(
        matches!(
            &error,
            IngestionError::Producer(Error::TooManyPathBytes { .. })
        ),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

/// A raw tar header of `entry_type` declaring `size` bytes of data.
fn raw_header(entry_type: EntryType, size: u64) -> Header {
    let mut header = Header::new_ustar();
    put_raw(&mut header.as_old_mut().name, "././@LongLink");
    header.set_entry_type(entry_type);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

/// GNU long-name/long-link and PAX records declaring 8 GiB are refused
/// from their header, before the tar reader would read them into memory
/// (the archive only has the header: nothing more is read).
#[rstest]
#[case::gnu_long_name(EntryType::GNULongName, "GNU long name")]
#[case::gnu_long_link(EntryType::GNULongLink, "GNU long link")]
#[case::pax(EntryType::XHeader, "PAX")]
#[case::pax_global(EntryType::XGlobalHeader, "PAX global")]
#[tokio::test]
async fn oversize_extension_record(#[case] entry_type: EntryType, #[case] kind: &str) {
    let size = 8 << 30;
    let mut archive = raw_header(entry_type, size).as_bytes().to_vec();
    archive.extend_from_slice(&[b'a'; 4096]);
    let error = ingest(&archive).await.expect_err("must be refused");
    assert!(
        matches!(&error, IngestionError::Producer(Error::ExtensionTooLong(e))
            if e.kind == kind && e.size == size),
        "{error}"
    );
}

/// Archives with long names (GNU long-name and PAX records below the
/// limit) and a PAX `size` import as before: the limit follows the archive
/// without losing its place.
#[tokio::test]
async fn long_names_within_limit() {
    let long = "d/".repeat(100) + "file";
    let mut builder = Builder::new(Vec::new());
    for (path, data) in [(long.as_str(), &b"contents"[..]), ("d/short", b"x")] {
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::file());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, path, data)
            .await
            .expect("append");
    }
    // A PAX record naming the next entry, and overriding its size (the
    // header says 0): the entry after it is only found if that is obeyed.
    let pax_line = |kv: &str| {
        let len = kv.len() + 2 + 2; // two digits, space, newline
        format!("{len} {kv}\n")
    };
    let record = pax_line("path=d/pax") + &pax_line("size=3");
    let mut pax = Header::new_ustar();
    pax.set_entry_type(EntryType::XHeader);
    pax.set_size(record.len() as u64);
    pax.set_cksum();
    builder
        .append(&pax, record.as_bytes())
        .await
        .expect("append pax");
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::file());
    header.set_path("d/ignored").expect("path");
    header.set_size(0);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, &b"pax"[..]).await.expect("append");
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::file());
    header.set_size(5);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, "d/after", &b"after"[..])
        .await
        .expect("append");
    let archive = builder.into_inner().await.expect("finish tar");

    let blob_service = Arc::new(MemoryBlobService::new());
    let directory_service = MemoryDirectoryService::new();
    let root = ingest_archive(blob_service.clone(), &directory_service, archive.as_slice())
        .await
        .expect("ingest");
    let Node::Directory { digest, .. } = root else {
        panic!("{root:?}");
    };
    let top = directory_service
        .get(&digest)
        .await
        .expect("get")
        .expect("stored");
    let names: Vec<String> = top.nodes().map(|(name, _)| name.to_string()).collect();
    assert_eq!(vec!["after", "d", "pax", "short"], names);

    // The limit still follows the archive after all that: an oversize
    // record at its end is refused.
    let mut bomb = archive
        .get(..archive.len() - 1024)
        .expect("end blocks")
        .to_vec();
    bomb.extend_from_slice(raw_header(EntryType::GNULongName, 8 << 30).as_bytes());
    let error = ingest(&bomb).await.expect_err("must be refused");
    assert!(
        matches!(&error, IngestionError::Producer(Error::ExtensionTooLong(_))),
        "{error}"
    );
}
