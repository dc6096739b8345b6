//! Writes the seed corpus (`fuzz/corpus/<target>/`) from the repository's
//! fixtures and golden files: nix-compat's NARs, derivations, narinfos,
//! keys and store paths, glue's tar archives, and, if given, small
//! `eval-okay-*.nix` files of the Nix language tests.
//!
//! ```text
//! cargo run -p tvix-fuzz --example make_corpus [NIX_LANG_TESTS_DIR]
//! ```
//!
//! Files are named after the sha256 digest of their contents, so running it
//! again adds nothing twice.

use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use nix_compat::narinfo::{NarInfo, SigningKey};
use nix_compat::nix_daemon::version::ProtocolVersion;
use nix_compat::nix_daemon::worker_protocol::{self, ClientSettings, Verbosity};
use nix_compat::nixbase32;
use nix_compat::store_path::StorePath;
use nix_compat::wire::sync;
use prost::Message;
use sha2::{Digest, Sha256};
use tvix_castore::blobservice::MemoryBlobService;
use tvix_castore::directoryservice::{DirectoryService, MemoryDirectoryService};
use tvix_castore::{Node, proto as castore_proto};
use tvix_fuzz::targets::nar_bridge::{SEPARATOR, STORED_NAR, STORED_PATH};
use tvix_store::nar::ingest_nar;
use tvix_store::{PathInfo, Signature, proto as store_proto};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(repo().join(relative)).unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

fn text(relative: &str) -> String {
    String::from_utf8(read(relative)).expect("fixture is UTF-8")
}

/// The files of a fixture directory with this extension, sorted.
fn files(relative: &str, extension: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo().join(relative))
        .unwrap_or_else(|e| panic!("listing {relative}: {e}"))
        .map(|e| e.expect("listing fixtures").path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    paths
}

fn seed(target: &str, input: impl AsRef<[u8]>) {
    let input = input.as_ref();
    let dir = tvix_fuzz::corpus_dir(target);
    std::fs::create_dir_all(&dir).expect("making the corpus directory");
    let digest = Sha256::digest(input);
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(dir.join(name), input).expect("writing a seed");
}

struct Ingested {
    nar: Vec<u8>,
    node: Node,
    nar_sha256: [u8; 32],
    /// Root first, as `get_recursive` serves them.
    directories: Vec<tvix_castore::Directory>,
}

async fn ingest(nar: Vec<u8>) -> Ingested {
    let blobs = MemoryBlobService::new();
    let directory_service = MemoryDirectoryService::new();
    let ingested = ingest_nar(&blobs, &directory_service, &nar[..])
        .await
        .expect("fixture NARs are valid");
    let directories = match &ingested.node {
        Node::Directory { digest, .. } => directory_service
            .get_recursive(digest)
            .try_collect()
            .await
            .expect("served"),
        _ => Vec::new(),
    };
    Ingested {
        nar,
        node: ingested.node,
        nar_sha256: ingested.nar.nar_sha256,
        directories,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let nars: Vec<Vec<u8>> = files("nix-compat/testdata/nar", "nar")
        .iter()
        .map(|p| std::fs::read(p).expect("reading a NAR"))
        .collect();
    let mut ingested = Vec::new();
    for nar in &nars {
        ingested.push(ingest(nar.clone()).await);
    }
    let narinfos: Vec<String> = ["multisig", "none", "xz"]
        .iter()
        .flat_map(|dir| files(&format!("nix-compat/testdata/narinfo/{dir}"), "narinfo"))
        .map(|p| std::fs::read_to_string(p).expect("reading a narinfo"))
        .collect();
    let store_paths: Vec<String> = text("nix-compat/testdata/store_path/paths.txt")
        .lines()
        .filter_map(|line| line.split(' ').next().map(str::to_owned))
        .collect();

    formats(&nars, &narinfos, &store_paths);
    wire().await;
    castore(&ingested);
    store(&ingested, &narinfos);
    nar_bridge(&ingested).await;
    eval(std::env::args().nth(1).map(PathBuf::from));
}

fn formats(nars: &[Vec<u8>], narinfos: &[String], store_paths: &[String]) {
    let hashes = text("nix-compat/testdata/nar/hashes.txt");
    for line in hashes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if let [_, hex, base32] = fields[..] {
            seed("nixbase32_decode", base32);
            seed("nixhash_parse", format!("sha256:{base32}"));
            seed("nixhash_parse", format!("sha256:{hex}"));
            seed("nixhash_parse", format!("r:sha256:{base32}"));
        }
    }
    for (i, path) in store_paths.iter().enumerate() {
        seed("store_path_parse", path);
        seed("store_path_parse", format!("{path}/bin/hello"));
        let basename = path.trim_start_matches("/nix/store/");
        seed("store_path_parse", basename);
        seed("nixbase32_decode", &basename[..32]);
        if i == 0 {
            seed("nixhash_parse", "md5-rL0Y20zC+Fzt72VPzMSk2A==");
            seed("nixhash_parse", "sha1:2jmj7l5rsw0yvb0hh4kq1nvvuc84yzbq");
            seed(
                "nixhash_parse",
                "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
            );
            seed(
                "nixhash_parse",
                "fixed:r:sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw",
            );
            seed(
                "nixhash_parse",
                "text:sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq",
            );
        }
    }
    for nar in nars {
        seed("nar_reader_sync", nar);
        seed("nar_reader_async", nar);
    }
    for drv in files("nix-compat/testdata/derivation", "drv") {
        seed("aterm_parse", std::fs::read(drv).expect("reading a drv"));
    }
    for json in files("nix-compat/testdata/derivation", "json") {
        if json.ends_with("manifest.json") {
            continue;
        }
        // Files with non-UTF-8 strings are no serde_json Value; they are
        // seeds whole (a map from path to derivation), the others per value.
        let bytes = std::fs::read(json).expect("reading JSON");
        let Ok(serde_json::Value::Object(document)) = serde_json::from_slice(&bytes) else {
            seed("derivation_json", bytes);
            continue;
        };
        for drv in document.values() {
            seed("derivation_json", serde_json::to_vec(drv).expect("JSON"));
        }
    }
    for narinfo in narinfos {
        seed("narinfo_parse", narinfo);
    }
    for n in [1, 2] {
        let secret = text(&format!("nix-compat/testdata/narinfo/test-key-{n}.sec"));
        let public = text(&format!("nix-compat/testdata/narinfo/test-key-{n}.pub"));
        let key: SigningKey = secret.trim().parse().expect("fixture key");
        for narinfo in narinfos.iter().take(4) {
            let narinfo = NarInfo::parse(narinfo).expect("fixture narinfo");
            let fingerprint = narinfo.fingerprint();
            seed("signing_keys", format!("{}\n{fingerprint}", secret.trim()));
            for signature in &narinfo.signatures {
                seed("signing_keys", format!("{}\n{signature}", public.trim()));
            }
            seed(
                "signing_keys",
                format!("{}\n{}", public.trim(), key.sign(fingerprint.as_bytes())),
            );
        }
    }
}

async fn wire() {
    let mut packets = Vec::new();
    for payload in [&b""[..], b"a", b"12345678", b"hello, world", &[0u8; 40]] {
        let mut out = Vec::new();
        sync::write_bytes(&mut out, payload).expect("writing to a Vec");
        packets.push(out);
    }
    let mut strings = Vec::new();
    sync::write_strings(
        &mut strings,
        ["substituters", "https://cache.nixos.org", ""],
    )
    .expect("writing to a Vec");
    packets.push(strings);
    let mut handshake = Vec::new();
    for word in [worker_protocol::WORKER_MAGIC_1, 0x122, 0, 0] {
        sync::write_u64(&mut handshake, word).expect("writing to a Vec");
    }
    packets.push(handshake);
    let settings = ClientSettings {
        keep_failed: false,
        keep_going: true,
        try_fallback: false,
        verbosity: Verbosity::Error,
        max_build_jobs: 4,
        max_silent_time: 0,
        verbose_build: false,
        build_cores: 2,
        use_substitutes: true,
        overrides: vec![
            ("sandbox".into(), "true".into()),
            ("cores".into(), "8".into()),
        ],
    };
    for minor in [10, 12, 34] {
        let mut out = Vec::new();
        worker_protocol::write_client_settings(
            &mut out,
            &settings,
            ProtocolVersion::from_parts(1, minor),
        )
        .await
        .expect("writing to a Vec");
        packets.push(out);
    }
    for packet in packets {
        seed("wire_read", packet);
    }
}

fn castore(ingested: &[Ingested]) {
    for nar in ingested {
        let entry = castore_proto::Entry::from_name_and_node(
            "fuzz".try_into().expect("a valid name"),
            nar.node.clone(),
        );
        seed("castore_directory", entry.encode_to_vec());
        for directory in &nar.directories {
            seed(
                "castore_directory",
                castore_proto::Directory::from(directory).encode_to_vec(),
            );
        }
        if !nar.directories.is_empty() {
            let mut closure = Vec::new();
            for directory in nar.directories.iter().rev() {
                castore_proto::Directory::from(directory)
                    .encode_length_delimited(&mut closure)
                    .expect("writing to a Vec");
            }
            seed("closure_validator", closure);
        }
    }
    // Directories that list the one below them twice (the shape of shared
    // subtrees), a file beside them, in chains of 1 to 8.
    for depth in 1..=8 {
        let mut closure = Vec::new();
        let mut below: Option<tvix_castore::Directory> = None;
        for level in 0..depth {
            let mut directory = tvix_castore::Directory::new();
            if let Some(child) = &below {
                for name in ["a", "b"] {
                    let node = Node::Directory {
                        digest: child.digest(),
                        size: child.size(),
                    };
                    directory
                        .add(name.try_into().expect("valid"), node)
                        .expect("fits");
                }
            }
            let file = Node::File {
                digest: tvix_castore::B3Digest::of(format!("{level}").as_bytes()),
                size: level,
                executable: level % 2 == 1,
            };
            directory
                .add("f".try_into().expect("valid"), file)
                .expect("fits");
            castore_proto::Directory::from(&directory)
                .encode_length_delimited(&mut closure)
                .expect("writing to a Vec");
            below = Some(directory);
        }
        seed("closure_validator", closure);
    }
    for path in [
        "",
        "a",
        "a/b",
        "foo/bar/baz",
        ".",
        "..",
        "a/../b",
        "a//b",
        "/abs",
        "a/",
        "a\0b",
        "with space/ünïcode",
        "bin/hello",
        ".hidden/x",
    ] {
        seed("castore_path", path);
    }
    seed("castore_path", "x".repeat(255));
    seed("castore_path", "x".repeat(256));
    for tar in [
        "empty.tar",
        "file.tar",
        "multi.tar",
        "tree.tar",
        "tree.tar.bz2",
        "tree.tar.gz",
        "tree.tar.xz",
        "tree.tar.zst",
    ] {
        seed(
            "tar_import",
            read(&format!("glue/testdata/fetchers/files/{tar}")),
        );
    }
}

fn store(ingested: &[Ingested], narinfos: &[String]) {
    let mut graph = Vec::new();
    for narinfo in narinfos {
        let narinfo = NarInfo::parse(narinfo).expect("fixture narinfo");
        let store_path = narinfo.store_path.to_owned();
        let nar = &ingested[graph.len() % ingested.len()];
        let path_info = PathInfo {
            store_path: store_path.clone(),
            node: nar.node.clone(),
            references: narinfo.references.iter().map(|r| r.to_owned()).collect(),
            nar_size: nar.nar.len() as u64,
            nar_sha256: nar.nar_sha256,
            signatures: narinfo
                .signatures
                .iter()
                .copied()
                .map(Signature::from)
                .collect(),
            deriver: narinfo.deriver.map(|d| d.to_owned()),
            ca: narinfo.ca.clone(),
        };
        seed(
            "path_info",
            store_proto::PathInfo::from(path_info).encode_to_vec(),
        );
        graph.push(serde_json::json!({
            "path": store_path.to_absolute_path(),
            "narHash": format!("sha256:{}", nixbase32::encode(&narinfo.nar_hash)),
            "narSize": narinfo.nar_size,
            "references": narinfo.references.iter().map(|r| r.to_absolute_path()).collect::<Vec<_>>(),
            "signatures": narinfo.signatures.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "ca": narinfo.ca.as_ref().map(|ca| ca.to_nix_nixbase32_string()),
            "deriver": narinfo.deriver.map(|d| d.to_absolute_path()),
        }));
    }
    for nar in ingested {
        seed("ingest_nar", &nar.nar);
    }
    for chunk in graph.chunks(4) {
        seed(
            "reference_graph_json",
            serde_json::to_vec(chunk).expect("JSON"),
        );
        let by_name = serde_json::json!({ "closure": chunk });
        seed(
            "reference_graph_json",
            serde_json::to_vec(&by_name).expect("JSON"),
        );
        let by_path: serde_json::Map<String, serde_json::Value> = chunk
            .iter()
            .map(|entry| {
                (
                    entry["path"].as_str().expect("path").to_owned(),
                    entry.clone(),
                )
            })
            .collect();
        seed(
            "reference_graph_json",
            serde_json::to_vec(&by_path).expect("JSON"),
        );
    }
}

async fn nar_bridge(ingested: &[Ingested]) {
    let stored = StorePath::from_absolute_path(STORED_PATH.as_bytes()).expect("valid");
    let digest = nixbase32::encode(stored.digest());
    let stored_nar = ingest(STORED_NAR.to_vec()).await;
    let nar_url = format!("nar/{}.nar", nixbase32::encode(&stored_nar.nar_sha256));
    let requests: Vec<Vec<u8>> = vec![
        b"GET /nix-cache-info\n\n".to_vec(),
        format!("GET /{digest}.narinfo\n\n").into_bytes(),
        format!("HEAD /{digest}.narinfo\n\n").into_bytes(),
        format!("GET /{nar_url}\n\n").into_bytes(),
        format!("GET /{nar_url}\nrange: bytes=10-99\n\n").into_bytes(),
        format!("GET /{nar_url}\nrange: bytes=-8\n\n").into_bytes(),
        format!("GET /{nar_url}.zst\n\n").into_bytes(),
        format!("GET /{nar_url}.xz\n\n").into_bytes(),
        b"GET /log/foo\n\n".to_vec(),
    ];
    for request in &requests {
        seed("nar_bridge_request", request);
    }
    for (i, nar) in ingested.iter().enumerate() {
        let url = format!("nar/{}.nar", nixbase32::encode(&nar.nar_sha256));
        let name = format!("/nix/store/{}-upload-{i}", "1".repeat(32));
        let narinfo = format!(
            "StorePath: {name}\nURL: {url}\nCompression: none\nNarHash: sha256:{}\nNarSize: {}\nReferences: {}\n",
            nixbase32::encode(&nar.nar_sha256),
            nar.nar.len(),
            if i % 2 == 0 {
                "00000000000000000000000000000000-fuzz"
            } else {
                ""
            },
        );
        let mut chain = format!("PUT /{url}\n\n").into_bytes();
        chain.extend_from_slice(&nar.nar);
        chain.extend_from_slice(SEPARATOR);
        chain.extend_from_slice(format!("PUT /{}.narinfo\n\n{narinfo}", "1".repeat(32)).as_bytes());
        chain.extend_from_slice(SEPARATOR);
        chain.extend_from_slice(format!("GET /{}.narinfo\n\n", "1".repeat(32)).as_bytes());
        chain.extend_from_slice(SEPARATOR);
        chain.extend_from_slice(format!("GET /{url}\n\n").as_bytes());
        seed("nar_bridge_request", chain);
    }
}

fn eval(lang_tests: Option<PathBuf>) {
    for (target, inputs) in [
        (
            "eval_from_json",
            &[
                "{}",
                "[]",
                "null",
                "true",
                "1",
                "-1.5e3",
                "\"a\\u00e9\\n\"",
                "{\"a\": [1, 2, {\"b\": null}], \"c\": \"d\"}",
                "9223372036854775807",
                "[[[[[[[[[[1]]]]]]]]]]",
                "{\"a\":1,\"a\":2}",
                "1e400",
            ][..],
        ),
        (
            "eval_from_toml",
            &[
                "a = 1",
                "[t]\nx = \"y\"\n[t.u]\nz = [1, 2]",
                "d = 1979-05-27T07:32:00Z",
                "s = '''\nmulti\nline'''",
                "[[arr]]\nn = 1\n[[arr]]\nn = 2",
                "i = { x = 1, y = { z = 2 } }",
                "f = 3.14\ninf = inf\nnan = nan",
                "hex = 0xdead_beef\noct = 0o755\nbin = 0b11",
                "\"quoted key\" = true",
                "a.b.c = 1",
            ][..],
        ),
        (
            "eval_regex",
            &[
                "a\na",
                "(a)(b)?\nab",
                "[[:alpha:]]+\nfoo bar",
                "(.*)-([0-9.]+)\nhello-2.10",
                "a|ab\nab",
                "([^/]+)/?\n/a/b/c",
                "^$\n",
                "(x*)*\nxxxx",
                "\\.\n.",
                "[a-\n-",
                "a{2,3}\naaaa",
                "((a)|b)+\nabab",
            ][..],
        ),
        (
            "eval_flake_ref",
            &[
                "github:NixOS/nixpkgs",
                "github:NixOS/nixpkgs/nixos-24.05",
                "nixpkgs",
                "git+https://example.org/repo.git?ref=main&rev=0123456789abcdef0123456789abcdef01234567",
                "path:/some/dir",
                "tarball+https://example.org/x.tar.gz",
                "/abs/path",
                "github:owner/repo?dir=sub",
                "sourcehut:~user/repo",
                "file:///x.tar.gz",
            ][..],
        ),
    ] {
        for input in inputs {
            seed(target, input);
        }
    }
    let Some(dir) = lang_tests else {
        eprintln!(
            "no Nix language tests directory given: eval_parse and eval_source keep their seeds"
        );
        return;
    };
    let mut tests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("listing the language tests")
        .map(|e| e.expect("listing").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("eval-okay-") && name.ends_with(".nix")
        })
        .collect();
    tests.sort();
    let small: Vec<String> = tests
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|s| s.len() < 1500 && !s.contains("import") && !s.contains("./"))
        .collect();
    let step = (small.len() / 40).max(1);
    for source in small.iter().step_by(step) {
        seed("eval_parse", source);
        seed("eval_source", source);
    }
}
