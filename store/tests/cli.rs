//! The `tvix-store` binary against a local store: the store paths of
//! `import` and the NARs of `export-nar` compared with CppNix's (golden
//! files from nix-compat/testdata, and `nix-store` itself when it is on
//! PATH), `copy`, `path-info`, `gc --dry-run`, and one-line errors with exit code 1.

mod common;

use std::path::Path;

use common::*;
use rstest::rstest;

/// A fresh store in a temporary directory.
fn local_store(tmp: &Path) -> Vec<String> {
    LocalStore::new(&tmp.join("store"), "redb").args()
}

/// CppNix's paths, from nix-compat/testdata/store_path/paths.txt.
#[rstest]
#[case::file("hello.txt", &[], "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt")]
#[case::empty_file("empty", &[], "/nix/store/lx5i78a4izwk2qj1nq8rdc07y8zrwy90-empty")]
#[case::executable("script.sh", &[], "/nix/store/m7k0p6j35ds2qjbzvgmbwsvc04c33f4s-script.sh")]
#[case::tree("tree", &[], "/nix/store/58c1wy2i46yx1mjrczsy3737gjhqkspc-tree")]
#[case::dotted(".dotted", &[], "/nix/store/73qjm907f2flmrf3ga5733ahj5ppibyv-.dotted")]
#[case::flat_sha256("hello.txt", &["--flat"], "/nix/store/gy454w1cxaq731grqwylhzf4pp9r5izh-hello.txt")]
fn import_golden(#[case] relative: &str, #[case] flags: &[&str], #[case] expected: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    store_path_trees(&mkdir(tmp.path().join("in")));
    let store = local_store(tmp.path());
    let input = tmp.path().join("in").join(relative);
    let mut args = vec!["import"];
    args.extend_from_slice(flags);
    args.push(input.to_str().expect("UTF-8"));
    assert_eq!(vec![expected], lines(&tvix_store_ok(&store, &args)));
}

/// `export-nar` gives CppNix's golden NARs byte for byte.
#[test]
fn export_nar_golden() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = mkdir(tmp.path().join("in"));
    nar_trees(&input);
    let store = local_store(tmp.path());
    for name in NAR_TREES {
        let path = input.join(name);
        let stdout = tvix_store_ok(
            &store,
            &["import", "--name", "x", path.to_str().expect("UTF-8")],
        );
        let [store_path] = lines(&stdout).try_into().expect("one store path");
        let nar = tvix_store_ok(&store, &["export-nar", &store_path]);
        let golden = std::fs::read(nix_compat_testdata().join(format!("nar/{name}.nar")))
            .expect("golden NAR");
        assert!(nar == golden, "{name}: NAR differs from the golden one");
    }
}

/// Same store paths as `nix-store --add` and `--add-fixed sha256`, and the
/// same NARs as `nix-store --dump`, over the fixture trees and real
/// directories of this repository.
#[test]
fn differential_against_nix_store() {
    if !have_nix_store("differential_against_nix_store") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = mkdir(tmp.path().join("in"));
    store_path_trees(&input);
    nar_trees(&input);
    let store = local_store(tmp.path());
    let nix_root = tmp.path().join("nix-root");
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<_> = std::fs::read_dir(&input)
        .expect("read_dir")
        .map(|entry| entry.expect("entry").path())
        .collect();
    paths.sort();
    paths.push(manifest_dir.join("src"));
    paths.push(manifest_dir.join("../nix-compat/testdata"));
    for path in &paths {
        let path_str = path.to_str().expect("UTF-8");
        let ours = tvix_store_ok(&store, &["import", path_str]);
        let theirs = nix_store_add(&nix_root, &["--add"], path);
        assert_eq!(vec![theirs.clone()], lines(&ours), "--add {path_str}");
        let nar = tvix_store_ok(&store, &["export-nar", &theirs]);
        assert!(
            nar == nix_store(&["--dump", path_str]),
            "export-nar of {path_str} differs from nix-store --dump"
        );
        if path.symlink_metadata().expect("stat").is_file() {
            let ours = tvix_store_ok(&store, &["import", "--flat", path_str]);
            let theirs = nix_store_add(&nix_root, &["--add-fixed", "sha256"], path);
            assert_eq!(vec![theirs], lines(&ours), "--add-fixed sha256 {path_str}");
        }
    }
}

/// `copy` of a closure in the machine's Nix store, described by `nix
/// path-info --json --recursive`: the same NAR hashes and references.
#[test]
fn copy_closure_from_nix_store() {
    if !have_nix_store("copy_closure_from_nix_store") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    // A closure of two paths, made in the machine's store.
    let input = mkdir(tmp.path().join("in"));
    write(&input.join("leaf"), b"leaf\n", 0o644);
    let leaf = String::from_utf8(nix_store(&["--add", input.join("leaf").to_str().unwrap()]))
        .expect("UTF-8");
    let leaf = leaf.trim();
    let expr = format!("builtins.toFile \"refers-to-leaf\" \"see ${{builtins.storePath {leaf}}}\"");
    let output = std::process::Command::new("nix-instantiate")
        .args(["--eval", "--read-write-mode", "-E", &expr])
        .output()
        .expect("nix-instantiate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let root = String::from_utf8_lossy(&output.stdout)
        .trim()
        .trim_matches('"')
        .to_owned();
    let graph = std::process::Command::new("nix")
        .args([
            "--extra-experimental-features",
            "nix-command",
            "path-info",
            "--json",
            "--recursive",
            &root,
        ])
        .current_dir(tmp.path())
        .output()
        .expect("nix path-info");
    assert!(
        graph.status.success(),
        "{}",
        String::from_utf8_lossy(&graph.stderr)
    );
    let graph_file = tmp.path().join("graph.json");
    std::fs::write(&graph_file, &graph.stdout).expect("write graph");

    let store = local_store(tmp.path());
    let copied = tvix_store_ok(&store, &["copy", graph_file.to_str().expect("UTF-8")]);
    assert_eq!(vec![leaf.to_owned(), root.clone()], lines(&copied));
    let info = String::from_utf8(tvix_store_ok(&store, &["path-info", &root])).expect("UTF-8");
    let nix_hash = String::from_utf8(nix_store(&["--query", "--hash", &root])).expect("UTF-8");
    assert!(
        info.contains(&format!("NarHash: {}\n", nix_hash.trim())),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "References: {}\n",
            leaf.trim_start_matches("/nix/store/")
        )),
        "{info}"
    );
    assert!(info.contains("CA: text:sha256:"), "{info}");
    assert_eq!(
        nix_store(&["--dump", &root]),
        tvix_store_ok(&store, &["export-nar", &root])
    );
}

#[test]
fn path_info_fields() {
    let tmp = tempfile::tempdir().expect("tempdir");
    store_path_trees(&mkdir(tmp.path().join("in")));
    let store = local_store(tmp.path());
    let tree = tmp.path().join("in/tree");
    tvix_store_ok(&store, &["import", tree.to_str().expect("UTF-8")]);
    let info = tvix_store_ok(
        &store,
        &["path-info", "58c1wy2i46yx1mjrczsy3737gjhqkspc-tree"],
    );
    assert_eq!(
        "StorePath: /nix/store/58c1wy2i46yx1mjrczsy3737gjhqkspc-tree\n\
         URL: nar/1g6xbpw6q2mgx3sysc58mfy3ryha1dcpcqdg4swsw1bxijchy3sp.nar\n\
         Compression: none\n\
         NarHash: sha256:1g6xbpw6q2mgx3sysc58mfy3ryha1dcpcqdg4swsw1bxijchy3sp\n\
         NarSize: 840\n\
         References: \n\
         CA: fixed:r:sha256:1g6xbpw6q2mgx3sysc58mfy3ryha1dcpcqdg4swsw1bxijchy3sp\n",
        String::from_utf8_lossy(&info)
    );
}

/// Bad input: exit code 1 and exactly one line on stderr, which starts
/// with the expected message. `flags` are `--…-service-addr=URL`.
#[rstest]
#[case::unknown_blob_scheme(&["--blob-service-addr=foo://"], &["import", "{in}/hello.txt"], "error: blob service: unknown blob service scheme \"foo\"")]
#[case::unknown_path_info_scheme(&["--path-info-service-addr=foo://"], &["import", "{in}/hello.txt"], "error: path info service: unknown path info service scheme \"foo\"")]
#[case::missing_path(&[], &["import", "{in}/missing"], "error: importing \"{in}/missing\": walking the tree: ")]
#[case::flat_directory(&[], &["import", "--flat", "{in}/tree"], "error: \"{in}/tree\" is not a regular file; a flat import takes only a file")]
#[case::name_two_paths(&[], &["import", "--name", "x", "{in}/tree", "{in}/empty"], "error: --name takes exactly one PATH")]
#[case::invalid_store_path(&[], &["export-nar", "/nix/store/xx"], "error: invalid store path \"/nix/store/xx\": ")]
#[case::not_in_store_dir(&[], &["path-info", "/tmp/00000000000000000000000000000000-x"], "error: invalid store path \"/tmp/00000000000000000000000000000000-x\": ")]
#[case::unknown_path(&[], &["path-info", "00000000000000000000000000000000-x"], "error: /nix/store/00000000000000000000000000000000-x is not in the store")]
#[case::bad_graph(&[], &["copy", "{in}/hello.txt"], "error: reference graph is not valid JSON: ")]
#[case::bad_listen_address(&[], &["daemon", "--listen-address", "nowhere"], "error: listen address \"nowhere\" is neither HOST:PORT nor unix:///path")]
#[case::relative_socket(&[], &["daemon", "--listen-address", "unix://sock"], "error: listen address \"unix://sock\": a unix socket needs an absolute path (unix:///path)")]
#[case::gc_not_pack(&["--blob-service-addr=memory://"], &["gc", "--dry-run"], "error: gc needs a pack blob service (blobservices.default of type pack)")]
#[case::socket_path_is_file(&[], &["daemon", "--listen-address", "unix://{in}/hello.txt"], "error: \"{in}/hello.txt\" exists and is not a socket")]
fn bad_input(#[case] flags: &[&str], #[case] args: &[&str], #[case] expected_prefix: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = mkdir(tmp.path().join("in"));
    store_path_trees(&input);
    let fill = |s: &str| s.replace("{in}", input.to_str().expect("UTF-8"));
    // Each flag replaces the store's address of the same service.
    let mut store = local_store(tmp.path());
    for flag in flags {
        let name = flag.split('=').next().unwrap_or(flag);
        store.retain(|arg| !arg.starts_with(name));
        store.push(fill(flag));
    }
    let args: Vec<String> = args.iter().map(|arg| fill(arg)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = tvix_store(&store, &args);
    assert_eq!(Some(1), output.status.code(), "{args:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(1, stderr.lines().count(), "{stderr}");
    assert!(stderr.starts_with(&fill(expected_prefix)), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// Without addresses, a store under `$XDG_DATA_HOME/tvix-store` (else
/// `~/.local/share/tvix-store`) is created and kept between runs.
#[rstest]
#[case::xdg_data_home(true)]
#[case::home(false)]
fn default_store(#[case] xdg: bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    store_path_trees(&mkdir(tmp.path().join("in")));
    let home = tmp.path().join("home");
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(BIN);
        command
            .args(args)
            .env_remove("BLOB_SERVICE_ADDR")
            .env_remove("DIRECTORY_SERVICE_ADDR")
            .env_remove("PATH_INFO_SERVICE_ADDR");
        if xdg {
            command
                .env("XDG_DATA_HOME", home.join("data"))
                .env("HOME", "/nonexistent");
        } else {
            command.env_remove("XDG_DATA_HOME").env("HOME", &home);
        }
        let output = command.output().expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let tree = tmp.path().join("in/tree");
    run(&["import", tree.to_str().expect("UTF-8")]);
    let info = run(&["path-info", "58c1wy2i46yx1mjrczsy3737gjhqkspc-tree"]);
    assert!(!info.is_empty());
    let dir = if xdg {
        home.join("data/tvix-store")
    } else {
        home.join(".local/share/tvix-store")
    };
    for file in [
        "pack/index.redb",
        "pack/packs",
        "directories.redb",
        "pathinfo.redb",
    ] {
        assert!(dir.join(file).exists(), "{file} missing in {dir:?}");
    }
    // The same import again writes nothing: every file of the store keeps
    // its size, and the packs their modification time (redb rewrites its
    // databases' headers on every open, so theirs change).
    let before = files_with_times(&dir);
    std::thread::sleep(std::time::Duration::from_millis(20));
    run(&["import", tree.to_str().expect("UTF-8")]);
    let after = files_with_times(&dir);
    let packs = |files: &[(std::path::PathBuf, u64, std::time::SystemTime)]| {
        files
            .iter()
            .map(|(path, len, modified)| {
                let pack = path.extension().is_some_and(|ext| ext == "pack");
                (path.clone(), *len, pack.then_some(*modified))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(packs(&before), packs(&after));
}

/// Every file below `dir` (but the lock, which each process takes), with
/// its size and modification time.
fn files_with_times(dir: &Path) -> Vec<(std::path::PathBuf, u64, std::time::SystemTime)> {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.expect("walk"))
        .filter(|entry| entry.file_type().is_file() && entry.file_name() != "lock")
        .map(|entry| {
            let metadata = entry.metadata().expect("stat");
            (
                entry.path().to_owned(),
                metadata.len(),
                metadata.modified().expect("mtime"),
            )
        })
        .collect();
    files.sort();
    files
}

#[rstest]
#[case::top(&["--help"])]
#[case::daemon(&["daemon", "--help"])]
#[case::import(&["import", "--help"])]
#[case::copy(&["copy", "--help"])]
#[case::path_info(&["path-info", "--help"])]
#[case::export_nar(&["export-nar", "--help"])]
#[case::gc(&["gc", "--help"])]
fn help(#[case] args: &[&str]) {
    let stdout = String::from_utf8(tvix_store_ok(&[], args)).expect("UTF-8");
    assert!(stdout.contains("Usage: tvix-store"), "{stdout}");
}

/// `gc --dry-run` counts the bytes no PathInfo reaches: none after an
/// import, then those of a blob written outside any import.
#[test]
fn gc_dry_run_reports_unreachable_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = mkdir(tmp.path().join("in"));
    store_path_trees(&input);
    let store = local_store(tmp.path());
    let tree = input.join("tree");
    tvix_store_ok(&store, &["import", tree.to_str().expect("UTF-8")]);

    let clean = tvix_store_ok(&store, &["gc", "--dry-run"]);
    // The tree's files: "a" and "b".
    assert_eq!(
        "2 bytes in packs, 2 reachable, 0 unreachable (0 unreachable blobs)\n",
        String::from_utf8_lossy(&clean)
    );
    let orphan = b"written, but named by no PathInfo";
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            use tvix_castore::blobservice::{BlobService, PackBlobService};
            let blobs =
                PackBlobService::open(tmp.path().join("store/pack")).expect("open pack store");
            blobs
                .put(bytes::Bytes::from_static(orphan))
                .await
                .expect("put");
        });

    let dirty = tvix_store_ok(&store, &["gc", "--dry-run"]);
    assert_eq!(
        format!(
            "{} bytes in packs, 2 reachable, {} unreachable (1 unreachable blobs)\n",
            2 + orphan.len(),
            orphan.len()
        ),
        String::from_utf8_lossy(&dirty)
    );
    let without_dry_run = tvix_store(&store, &["gc"]);
    assert_eq!(Some(2), without_dry_run.status.code(), "clap's usage error");
}
