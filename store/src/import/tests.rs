//! Imports against in-memory services. Expected store paths are CppNix's,
//! from nix-compat/testdata/store_path/paths.txt (see generate.sh there for
//! the trees, rebuilt by [make_tree]).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use nix_compat::nixhash::{CAHash, NixHash};
use rstest::rstest;
use tvix_castore::Node;
use tvix_castore::blobservice::{BlobService, MemoryBlobService};
use tvix_castore::directoryservice::{DirectoryService, MemoryDirectoryService};

use super::*;
use crate::pathinfoservice::{MemoryPathInfoService, PathInfoService};
use crate::{PathInfo, Signature};

struct Store {
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
    path_info_service: MemoryPathInfoService,
}

fn store() -> Store {
    Store {
        blob_service: Arc::new(MemoryBlobService::new()),
        directory_service: Arc::new(MemoryDirectoryService::new()),
        path_info_service: MemoryPathInfoService::new(),
    }
}

impl Store {
    async fn add(&self, path: &Path, name: Option<&str>) -> Result<PathInfo, ImportError> {
        import_path_as_nar_ca(
            self.blob_service.clone(),
            &*self.directory_service,
            &self.path_info_service,
            path,
            name,
            &(),
        )
        .await
    }

    async fn add_flat(&self, path: &Path, name: Option<&str>) -> Result<PathInfo, ImportError> {
        import_path_as_flat_ca(
            self.blob_service.clone(),
            &*self.directory_service,
            &self.path_info_service,
            path,
            name,
            &(),
        )
        .await
    }
}

fn write(path: &Path, contents: &str, mode: u32) {
    std::fs::write(path, contents).expect("write file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The trees of nix-compat's store_path/generate.sh, below `dir`.
fn make_tree(dir: &Path) {
    write(&dir.join("hello.txt"), "hello\n", 0o644);
    write(&dir.join("empty"), "", 0o644);
    write(&dir.join("script.sh"), "#!/bin/sh\necho hi\n", 0o755);
    std::fs::create_dir_all(dir.join("tree/sub")).expect("mkdir");
    write(&dir.join("tree/a"), "a", 0o644);
    write(&dir.join("tree/sub/b"), "b", 0o644);
    symlink("a", dir.join("tree/link")).expect("symlink");
    std::fs::create_dir(dir.join(".dotted")).expect("mkdir");
    write(&dir.join(".dotted/x"), "x", 0o644);
}

#[rstest]
#[case::file(
    "hello.txt",
    "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt",
    "fixed:r:sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw"
)]
#[case::empty_file(
    "empty",
    "/nix/store/lx5i78a4izwk2qj1nq8rdc07y8zrwy90-empty",
    "fixed:r:sha256:0ip26j2h11n1kgkz36rl4akv694yz65hr72q4kv4b3lxcbi65b3p"
)]
#[case::executable(
    "script.sh",
    "/nix/store/m7k0p6j35ds2qjbzvgmbwsvc04c33f4s-script.sh",
    "fixed:r:sha256:183p8jhjfcpk6kac6hxwp4gzp9brkvkibylz27jfbvgd5kqcq2jy"
)]
#[case::tree(
    "tree",
    "/nix/store/58c1wy2i46yx1mjrczsy3737gjhqkspc-tree",
    "fixed:r:sha256:1g6xbpw6q2mgx3sysc58mfy3ryha1dcpcqdg4swsw1bxijchy3sp"
)]
#[case::dotted_dir(
    ".dotted",
    "/nix/store/73qjm907f2flmrf3ga5733ahj5ppibyv-.dotted",
    "fixed:r:sha256:0gs2nbl9q0rmf99xcw55b7mhf1p4vly12704pyh4lzpg3lb0xbvv"
)]
#[tokio::test]
async fn nar_ca_like_nix_store_add(
    #[case] relative: &str,
    #[case] expected_path: &str,
    #[case] expected_ca: &str,
) {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(tmp.path());
    let store = store();
    let path_info = store
        .add(&tmp.path().join(relative), None)
        .await
        .expect("import");
    assert_eq!(expected_path, path_info.store_path.to_absolute_path());
    let ca = path_info.ca.as_ref().expect("ca");
    assert_eq!(expected_ca, ca.to_nix_nixbase32_string());
    // `nix-store --add` addresses by the NAR hash, which the PathInfo keeps.
    assert_eq!(&CAHash::Nar(NixHash::Sha256(path_info.nar_sha256)), ca);
    assert!(path_info.references.is_empty());
    let stored = store
        .path_info_service
        .get(*path_info.store_path.digest())
        .await
        .expect("get");
    assert_eq!(Some(&path_info), stored.as_ref());
}

#[tokio::test]
async fn flat_like_nix_store_add_fixed_sha256() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(tmp.path());
    let path_info = store()
        .add_flat(&tmp.path().join("hello.txt"), None)
        .await
        .expect("import");
    assert_eq!(
        "/nix/store/gy454w1cxaq731grqwylhzf4pp9r5izh-hello.txt",
        path_info.store_path.to_absolute_path()
    );
    assert_eq!(
        "fixed:sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq",
        path_info.ca.expect("ca").to_nix_nixbase32_string()
    );
    // The NAR of "hello\n" as a plain file (the same NAR as --add's).
    assert_eq!(
        "04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw",
        nix_compat::nixbase32::encode(&path_info.nar_sha256)
    );
    assert_eq!(120, path_info.nar_size);
}

/// Nix stores flat imports as plain files: the executable bit is dropped,
/// so the NAR is that of a non-executable file.
#[tokio::test]
async fn flat_drops_executable_bit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write(&tmp.path().join("plain"), "#!/bin/sh\n", 0o644);
    write(&tmp.path().join("run"), "#!/bin/sh\n", 0o755);
    let store = store();
    let plain = store
        .add_flat(&tmp.path().join("plain"), Some("x"))
        .await
        .expect("plain");
    let run = store
        .add_flat(&tmp.path().join("run"), Some("x"))
        .await
        .expect("run");
    assert_eq!(plain, run);
    assert!(matches!(
        run.node,
        Node::File {
            executable: false,
            ..
        }
    ));
}

#[tokio::test]
async fn name_override() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(tmp.path());
    let path_info = store()
        .add(&tmp.path().join("tree/a"), Some("hello.txt"))
        .await
        .expect("import");
    assert_eq!("hello.txt", path_info.store_path.name());
}

#[rstest]
#[case::file_name("some/dir/file", None, "file")]
#[case::trailing_slash("some/dir/", None, "dir")]
#[case::dot_at_end("some/dir/.", None, "dir")]
#[case::dotdot("some/dir/sub/..", None, "dir")]
#[case::explicit("some/dir", Some("other"), "other")]
fn names(#[case] path: &str, #[case] name: Option<&str>, #[case] expected: &str) {
    let name = store_path_name(Path::new(path), name).expect("name");
    assert_eq!(expected, name);
}

#[rstest]
#[case::root(
    "/",
    None,
    "\"/\" has no file name to name the store path after; pass a name"
)]
#[case::dotdot_to_root(
    "/..",
    None,
    "\"/..\" has no file name to name the store path after; pass a name"
)]
#[case::invalid_char(
    "/tmp/a b",
    None,
    "invalid store path name \"a b\": invalid name for a store path: "
)]
#[case::invalid_explicit(
    "/tmp/x",
    Some("with/slash"),
    "invalid store path name \"with/slash\": invalid name for a store path: "
)]
fn bad_names(#[case] path: &str, #[case] name: Option<&str>, #[case] expected_prefix: &str) {
    let error = store_path_name(Path::new(path), name)
        .expect_err("must be refused")
        .to_string();
    assert!(error.starts_with(expected_prefix), "{error}");
}

#[tokio::test]
async fn flat_refuses_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(tmp.path());
    let store = store();
    let error = store
        .add_flat(&tmp.path().join("tree"), None)
        .await
        .expect_err("a directory is not a file");
    assert!(matches!(error, ImportError::NotAFile(_)), "{error}");
    assert!(store.path_info_service.list().next().await.is_none());
}

#[tokio::test]
async fn missing_path_puts_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = store();
    let error = store
        .add(&tmp.path().join("missing"), None)
        .await
        .expect_err("missing path");
    assert!(
        matches!(error, ImportError::IngestHashingNar { ref source, .. }
            if matches!(**source, tvix_castore::import::IngestionError::Producer(WalkError::Stat { .. }))),
        "{error}"
    );
    assert!(store.path_info_service.list().next().await.is_none());
}

/// The NAR hash taken while ingesting (files read once, large ones in
/// pieces) is the hash of the NAR rendered from what was stored.
#[tokio::test]
async fn single_pass_nar_hash_matches_rendered_nar() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("mixed");
    std::fs::create_dir(&dir).expect("mkdir");
    make_tree(&dir);
    // Larger than a streamed piece, and not a multiple of one.
    let large: Vec<u8> = (0..9_437_201u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("large"), &large).expect("write large");
    std::fs::set_permissions(dir.join("large"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    // Just above the limit for reading files whole.
    std::fs::write(dir.join("tree/medium"), &large[..1024 * 1024 + 1]).expect("write medium");
    let store = store();
    let path_info = store.add(&dir, None).await.expect("import");
    let rendered = crate::nar::calculate_nar(
        &path_info.node,
        &store.blob_service,
        &*store.directory_service,
    )
    .await
    .expect("render");
    assert_eq!(
        (rendered.nar_size, rendered.nar_sha256),
        (path_info.nar_size, path_info.nar_sha256)
    );
}

/// Store paths with made-up digests for closure tests; the digests only
/// need to be valid nixbase32.
const LEAF: &str = "/nix/store/00000000000000000000000000000000-leaf";
const ROOT: &str = "/nix/store/11111111111111111111111111111111-root";
/// NAR of the file "Hello, NAR!\n" (nix-compat/testdata/nar/regular.nar).
const REGULAR_SHA256: &str = "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi";
const REGULAR_SIZE: u64 = 128;
/// NAR of an empty directory (nix-compat/testdata/nar/empty-dir.nar).
const EMPTY_DIR_SHA256: &str = "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=";
const EMPTY_DIR_SIZE: u64 = 96;

/// A Nix store directory holding [LEAF] (a file) and [ROOT] (an empty
/// directory).
fn fake_nix_store() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let basename = |path: &str| path.trim_start_matches("/nix/store/").to_owned();
    write(&tmp.path().join(basename(LEAF)), "Hello, NAR!\n", 0o644);
    std::fs::create_dir(tmp.path().join(basename(ROOT))).expect("mkdir");
    tmp
}

fn entry(path: &str, sha256: &str, size: u64, references: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "narHash": sha256,
        "narSize": size,
        "references": references,
        "registrationTime": 1,
    })
}

fn store_paths(entries: &[ReferenceGraphEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| entry.store_path.to_absolute_path())
        .collect()
}

#[rstest]
#[case::path_info_list(serde_json::json!([
    entry(ROOT, EMPTY_DIR_SHA256, EMPTY_DIR_SIZE, &[LEAF, ROOT]),
    entry(LEAF, REGULAR_SHA256, REGULAR_SIZE, &[]),
]))]
#[case::export_references_graph(serde_json::json!({
    "closure": [
        entry(ROOT, EMPTY_DIR_SHA256, EMPTY_DIR_SIZE, &[LEAF, ROOT]),
        entry(LEAF, REGULAR_SHA256, REGULAR_SIZE, &[]),
    ],
    "leaf": [entry(LEAF, REGULAR_SHA256, REGULAR_SIZE, &[])],
}))]
#[case::keyed_by_path(serde_json::json!({
    ROOT: {"narHash": EMPTY_DIR_SHA256, "narSize": EMPTY_DIR_SIZE, "references": [LEAF]},
    LEAF: {"narHash": REGULAR_SHA256, "narSize": REGULAR_SIZE, "references": []},
}))]
fn reference_graph_shapes(#[case] json: serde_json::Value) {
    let graph = ReferenceGraph::from_json(json.to_string().as_bytes()).expect("parse");
    assert_eq!(vec![LEAF, ROOT], store_paths(graph.entries()));
}

#[test]
fn reference_graph_fields() {
    let json = serde_json::json!([{
        "path": "/nix/store/mf7mcx065m9y1xmzxzg19pf3f85wiwzr-built-output",
        "narHash": "sha256-40DUH49OavwtPqGDXVImWFxZNGodnnxbfrjiPedcEoM=",
        "narSize": 176,
        "references": ["/nix/store/c2nkj2pxdvlb3n9y8azj4402zvasim9k-refers-to-greeting"],
        "deriver": "/nix/store/byd4sgp5wrylr1gvsmbqsn854wv5nwza-built-output.drv",
        "signatures": ["cache.example.org-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="],
        "ca": "text:sha256:02jg18cb9gh3llr9xixfdryxjgr9wm8cpgli8xqqk42gyjq3sgqv",
        "registrationTime": 1795606984,
        "ultimate": true
    }]);
    let graph = ReferenceGraph::from_json(json.to_string().as_bytes()).expect("parse");
    let [entry] = graph.entries() else {
        panic!("one entry expected");
    };
    assert_eq!(176, entry.nar_size);
    assert_eq!(
        "sha256-40DUH49OavwtPqGDXVImWFxZNGodnnxbfrjiPedcEoM=",
        NixHash::Sha256(entry.nar_sha256).to_sri_string()
    );
    assert_eq!(
        Some("/nix/store/byd4sgp5wrylr1gvsmbqsn854wv5nwza-built-output.drv".to_owned()),
        entry.deriver.as_ref().map(|d| d.to_absolute_path())
    );
    assert_eq!(1, entry.references.len());
    assert_eq!(
        vec!["cache.example.org-1"],
        entry
            .signatures
            .iter()
            .map(Signature::name)
            .collect::<Vec<_>>()
    );
    assert!(matches!(entry.ca, Some(CAHash::Text(_))));
}

#[rstest]
#[case::not_json(
    "[",
    "reference graph is not valid JSON: EOF while parsing a list at line 1 column 1"
)]
#[case::string(
    "\"x\"",
    "reference graph must be a list or an object of path infos, got a string"
)]
#[case::entry_not_object(
    "[1]",
    "reference graph entry #0: invalid type: integer `1`, expected struct RawEntry"
)]
#[case::no_path("[{}]", "#0 has no path in the reference graph")]
#[case::bad_path(
    r#"[{"path": "/tmp/x"}]"#,
    "reference graph entry /tmp/x: path \"/tmp/x\" is not a store path: "
)]
#[case::not_valid(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "valid": false}]"#,
    "/nix/store/00000000000000000000000000000000-leaf is not valid in the Nix store the reference graph was made from"
)]
#[case::null_entry(
    r#"{"/nix/store/00000000000000000000000000000000-leaf": null}"#,
    "/nix/store/00000000000000000000000000000000-leaf is not valid in the Nix store the reference graph was made from"
)]
#[case::no_nar_hash(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 1}]"#,
    "/nix/store/00000000000000000000000000000000-leaf has no narHash in the reference graph"
)]
#[case::md5_nar_hash(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 1, "narHash": "md5:4425hx5d1mc9y39llj4k4nm55i"}]"#,
    "/nix/store/00000000000000000000000000000000-leaf has an invalid narHash \"md5:4425hx5d1mc9y39llj4k4nm55i\": "
)]
#[case::bad_reference(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 1, "narHash": "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi", "references": ["x"]}]"#,
    "reference graph entry /nix/store/00000000000000000000000000000000-leaf: reference \"x\" is not a store path: "
)]
#[case::bad_signature(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 1, "narHash": "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi", "signatures": ["nokey"]}]"#,
    "/nix/store/00000000000000000000000000000000-leaf has an invalid signature \"nokey\": "
)]
#[case::bad_ca(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 1, "narHash": "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi", "ca": "fixed:foo"}]"#,
    "/nix/store/00000000000000000000000000000000-leaf has an invalid ca \"fixed:foo\""
)]
#[case::conflicting(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 1, "narHash": "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi"},
        {"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 2, "narHash": "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi"}]"#,
    "00000000000000000000000000000000-leaf is listed twice with different path infos"
)]
#[case::cycle(
    r#"[{"path": "/nix/store/00000000000000000000000000000000-leaf", "narSize": 1, "narHash": "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi", "references": ["/nix/store/11111111111111111111111111111111-root"]},
        {"path": "/nix/store/11111111111111111111111111111111-root", "narSize": 1, "narHash": "sha256:11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi", "references": ["/nix/store/00000000000000000000000000000000-leaf"]}]"#,
    "the references of "
)]
fn reference_graph_errors(#[case] json: &str, #[case] expected_prefix: &str) {
    let error = ReferenceGraph::from_json(json.as_bytes())
        .expect_err("must be refused")
        .to_string();
    assert!(error.starts_with(expected_prefix), "{error}");
}

#[tokio::test]
async fn copy_closure_references_first() {
    let nix_store = fake_nix_store();
    let graph = ReferenceGraph::from_json(
        serde_json::json!([
            entry(ROOT, EMPTY_DIR_SHA256, EMPTY_DIR_SIZE, &[LEAF]),
            entry(LEAF, REGULAR_SHA256, REGULAR_SIZE, &[]),
        ])
        .to_string()
        .as_bytes(),
    )
    .expect("parse");
    let store = store();
    let copy = || {
        copy_closure(
            store.blob_service.clone(),
            &*store.directory_service,
            &store.path_info_service,
            &graph,
            nix_store.path(),
            &(),
        )
    };
    let copied = copy().await.expect("copy");
    assert_eq!(
        vec![LEAF, ROOT],
        copied
            .iter()
            .map(|p| p.store_path.to_absolute_path())
            .collect::<Vec<_>>()
    );
    let [leaf, root] = copied.as_slice() else {
        panic!("two paths expected");
    };
    assert_eq!(vec![leaf.store_path.clone()], root.references);
    assert_eq!(None, root.ca);
    // A second copy finds both and uploads nothing.
    assert_eq!(copied, copy().await.expect("second copy"));
}

#[tokio::test]
async fn copy_closure_refuses_changed_path() {
    let nix_store = fake_nix_store();
    let graph = ReferenceGraph::from_json(
        serde_json::json!([
            entry(LEAF, REGULAR_SHA256, REGULAR_SIZE, &[]),
            entry(ROOT, REGULAR_SHA256, REGULAR_SIZE, &[LEAF]),
        ])
        .to_string()
        .as_bytes(),
    )
    .expect("parse");
    let store = store();
    let error = copy_closure(
        store.blob_service.clone(),
        &*store.directory_service,
        &store.path_info_service,
        &graph,
        nix_store.path(),
        &(),
    )
    .await
    .expect_err("root is not what the graph says");
    assert_eq!(
        "11111111111111111111111111111111-root in the local store has NAR size 96 and sha256 0sjjj9z1dhilhpc8pq4154czrb79z9cm044jvn75kxcjv6v5l2m5, the reference graph says 128 and 11kjij7p0sxpqd71a6i1p2c0nxsm68csl0f8n5wdwpv4126vb6bi",
        error.to_string()
    );
    // The leaf, complete, was put; the root was not.
    let listed: Vec<_> = store
        .path_info_service
        .list()
        .map(|p| p.expect("list").store_path.to_absolute_path())
        .collect()
        .await;
    assert_eq!(vec![LEAF.to_owned()], listed);
}
