//! Tests of the binary cache backend against the golden cache CppNix wrote
//! (`testdata/nix-cache`, see its `generate.sh`), served over HTTP by an
//! in-process server that tests can tamper with.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use bytes::Bytes;
use futures::StreamExt;
use nix_compat::narinfo::NarInfo;
use nix_compat::nixbase32;
use nix_compat::store_path::{DIGEST_SIZE, StorePath};
use rstest::rstest;
use sha2::Digest;
use tokio::net::TcpListener;
use tvix_castore::Node;
use tvix_castore::blobservice::{BlobService, MemoryBlobService};
use tvix_castore::directoryservice::{DirectoryService, MemoryDirectoryService};

use super::*;
use crate::nar::{NarSummary, calculate_nar, write_nar};
use crate::pathinfoservice::from_addr;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/nix-cache");
/// The public key that signed the golden cache.
const TEST_KEY: &str = include_str!("../../../testdata/nix-cache/tvix-test-1.pub");

/// A binary cache in memory, served at `/cache/` by [TestCache::serve].
#[derive(Clone)]
struct TestCache {
    /// Served files by their path below the cache root.
    files: HashMap<String, (StatusCode, Bytes)>,
}

impl TestCache {
    /// The golden cache, as `nix copy` wrote it.
    fn golden() -> Self {
        let root = Path::new(GOLDEN).join("cache");
        let mut files = HashMap::new();
        for entry in files_below(&root) {
            let name = entry
                .strip_prefix(&root)
                .expect("below the root")
                .to_str()
                .expect("UTF-8 file name")
                .to_owned();
            let contents = std::fs::read(&entry).expect("read golden file");
            files.insert(name, (StatusCode::OK, Bytes::from(contents)));
        }
        Self { files }
    }

    fn narinfo_name(name: &str) -> String {
        format!("{}.narinfo", nixbase32::encode(golden_path(name).digest()))
    }

    /// The narinfo text of the golden path called `name`.
    fn narinfo(&self, name: &str) -> String {
        let (_, bytes) = &self.files[&Self::narinfo_name(name)];
        String::from_utf8(bytes.to_vec()).expect("UTF-8 narinfo")
    }

    /// Replaces the narinfo of the golden path called `name`.
    fn set_narinfo(&mut self, name: &str, text: String) {
        self.files.insert(
            Self::narinfo_name(name),
            (StatusCode::OK, Bytes::from(text)),
        );
    }

    /// The cache-relative path of the NAR file of the golden path `name`.
    fn nar_file(&self, name: &str) -> String {
        let text = self.narinfo(name);
        NarInfo::parse(&text)
            .expect("golden narinfo")
            .url
            .to_owned()
    }

    /// Serves the cache over HTTP until the test's runtime ends.
    async fn serve(self) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ServerState {
            cache: self,
            requests: requests.clone(),
        });
        let router = Router::new().fallback(serve_file).with_state(state);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Served {
            base: format!("nix+http://127.0.0.1:{port}/cache"),
            requests,
        }
    }
}

/// A running [TestCache]: its address, and every path requested from it.
struct Served {
    base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Served {
    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

/// What the test server's handler sees.
struct ServerState {
    cache: TestCache,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn serve_file(State(state): State<Arc<ServerState>>, uri: Uri) -> (StatusCode, Bytes) {
    state
        .requests
        .lock()
        .expect("not poisoned")
        .push(uri.path().to_owned());
    uri.path()
        .strip_prefix("/cache/")
        .and_then(|file| state.cache.files.get(file))
        .cloned()
        .unwrap_or((StatusCode::NOT_FOUND, Bytes::new()))
}

/// Every file below `dir`, recursively.
fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read golden directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The golden store path whose name is `name` (see `paths.txt`).
fn golden_path(name: &str) -> StorePath {
    let paths = std::fs::read_to_string(Path::new(GOLDEN).join("paths.txt")).expect("paths.txt");
    paths
        .lines()
        .filter_map(|line| StorePath::from_absolute_path(line.as_bytes()).ok())
        .find(|path| path.name() == name)
        .unwrap_or_else(|| panic!("no golden path named {name}"))
}

/// A service over `served`, with `query` appended to its address, and the
/// castore it ingests into.
struct Client {
    service: Arc<dyn PathInfoService>,
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
}

impl Client {
    async fn new(served: &Served, query: &str) -> Self {
        let blob_service: Arc<dyn BlobService> = Arc::new(MemoryBlobService::new());
        let directory_service: Arc<dyn DirectoryService> = Arc::new(MemoryDirectoryService::new());
        let service = from_addr(
            &format!("{}?{query}", served.base),
            blob_service.clone(),
            directory_service.clone(),
        )
        .await
        .expect("valid address");
        Self {
            service,
            blob_service,
            directory_service,
        }
    }

    /// A client trusting the golden cache's key.
    async fn trusting(served: &Served) -> Self {
        Self::new(served, &format!("trusted-public-keys={}", TEST_KEY.trim())).await
    }

    async fn get(&self, name: &str) -> Result<Option<PathInfo>, Error> {
        self.service.get(*golden_path(name).digest()).await
    }

    async fn render(&self, node: &Node) -> Vec<u8> {
        let mut nar = Vec::new();
        write_nar(
            &mut nar,
            node,
            &self.blob_service,
            self.directory_service.as_ref(),
        )
        .await
        .expect("render NAR");
        nar
    }
}

/// The error inside `result`, which must be a [NixHttpError].
fn nix_http_error(result: Result<Option<PathInfo>, Error>) -> NixHttpError {
    match result {
        Err(Error::NixHttp(error)) => *error,
        other => panic!("expected a binary cache error, got {other:?}"),
    }
}

/// Every golden path is found, described exactly as its narinfo says, and
/// its castore tree renders to the NAR the narinfo's hash and size name.
#[rstest]
#[case::directory_xz("tree")]
#[case::references_xz("refers-to-tree")]
#[case::none("none.txt")]
#[case::bzip2("bzip2.txt")]
#[case::gzip("gzip.txt")]
#[case::zstd("zstd.txt")]
#[tokio::test]
async fn get_golden(#[case] name: &str) {
    let cache = TestCache::golden();
    let text = cache.narinfo(name);
    let narinfo = NarInfo::parse(&text).expect("golden narinfo");
    let served = cache.clone().serve().await;
    let client = Client::trusting(&served).await;

    let path_info = client.get(name).await.expect("get").expect("present");
    assert_eq!(
        PathInfo {
            store_path: golden_path(name),
            node: path_info.node.clone(),
            references: narinfo.references.iter().map(|r| r.to_owned()).collect(),
            nar_size: narinfo.nar_size,
            nar_sha256: narinfo.nar_hash,
            signatures: narinfo.signatures.iter().copied().map(Into::into).collect(),
            deriver: None,
            ca: narinfo.ca.clone(),
        },
        path_info
    );
    assert_eq!(
        NarSummary {
            nar_size: narinfo.nar_size,
            nar_sha256: narinfo.nar_hash,
        },
        calculate_nar(
            &path_info.node,
            &client.blob_service,
            client.directory_service.as_ref()
        )
        .await
        .expect("calculate NAR")
    );
}

/// The facts about the golden paths, checked against what `nix-store`
/// reported when they were made.
#[tokio::test]
async fn get_golden_values() {
    let served = TestCache::golden().serve().await;
    let client = Client::trusting(&served).await;

    let tree = client.get("tree").await.expect("get").expect("present");
    assert!(matches!(tree.node, Node::Directory { .. }), "{tree:?}");
    assert_eq!(920, tree.nar_size);
    assert_eq!(
        "1r0cmb7s2cn5605if1301k06s1nwa1b39yybmns82al4hi0kyfgx",
        nixbase32::encode(&tree.nar_sha256)
    );

    let refers = client
        .get("refers-to-tree")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(vec![golden_path("tree")], refers.references);
    assert!(matches!(refers.node, Node::File { .. }), "{refers:?}");
}

/// An uncompressed NAR re-renders to the very bytes served.
#[tokio::test]
async fn none_renders_byte_identical() {
    let cache = TestCache::golden();
    let (_, served_nar) = cache.files[&cache.nar_file("none.txt")].clone();
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    let path_info = client.get("none.txt").await.expect("get").expect("present");
    assert_eq!(served_nar.to_vec(), client.render(&path_info.node).await);
}

/// The narinfo and NAR are fetched once; later gets are answered from
/// memory.
#[tokio::test]
async fn fetched_once() {
    let cache = TestCache::golden();
    let narinfo = TestCache::narinfo_name("tree");
    let nar = cache.nar_file("tree");
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    let first = client.get("tree").await.expect("get");
    let second = client.get("tree").await.expect("get again");
    assert_eq!(first, second);
    assert_eq!(
        vec![format!("/cache/{narinfo}"), format!("/cache/{nar}")],
        served.requests()
    );
}

#[tokio::test]
async fn missing() {
    let served = TestCache::golden().serve().await;
    let client = Client::trusting(&served).await;
    let digest = [0x42; DIGEST_SIZE];
    assert_eq!(None, client.service.get(digest).await.expect("get"));
    assert_eq!(
        vec![format!("/cache/{}.narinfo", nixbase32::encode(&digest))],
        served.requests()
    );
}

/// Asserts that getting `name` fails for want of a trusted signature, and
/// that the NAR was not fetched.
async fn assert_untrusted(client: &Client, served: &Served, name: &str) {
    match nix_http_error(client.get(name).await) {
        NixHttpError::Untrusted { store_path } => assert_eq!(golden_path(name), store_path),
        other => panic!("expected Untrusted, got {other}"),
    }
    assert_eq!(
        vec![format!("/cache/{}", TestCache::narinfo_name(name))],
        served.requests()
    );
}

/// Narinfos edited after signing (`from` replaced by `to`; a line starting
/// `X-Removed-` is dropped) are refused before their NAR is fetched.
#[rstest]
#[case::unsigned("tree", "Sig: ", "X-Removed-Sig: ")]
#[case::other_key_name("tree", "Sig: tvix-test-1:", "Sig: tvix-test-2:")]
#[case::tampered_nar_size("tree", "NarSize: 920", "NarSize: 921")]
#[case::tampered_nar_hash(
    "tree",
    "NarHash: sha256:1r0cmb7s2cn5605if1301k06s1nwa1b39yybmns82al4hi0kyfgx",
    "NarHash: sha256:0r0cmb7s2cn5605if1301k06s1nwa1b39yybmns82al4hi0kyfgx"
)]
#[case::tampered_references(
    "refers-to-tree",
    "References: iciq593l6r4cdqlaag5lwrwgkk54k2jn-tree",
    "References: "
)]
#[tokio::test]
async fn tampered(#[case] name: &str, #[case] from: &str, #[case] to: &str) {
    let mut cache = TestCache::golden();
    let text = cache.narinfo(name);
    assert!(text.contains(from), "{text}");
    let text: String = text
        .replace(from, to)
        .lines()
        .filter(|line| !line.starts_with("X-Removed-"))
        .map(|line| format!("{line}\n"))
        .collect();
    cache.set_narinfo(name, text);
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    assert_untrusted(&client, &served, name).await;
}

/// A validly signed narinfo is refused when its key is not trusted (here
/// only Nix's default key is).
#[tokio::test]
async fn wrong_key() {
    let served = TestCache::golden().serve().await;
    let client = Client::new(&served, "").await;
    assert_untrusted(&client, &served, "tree").await;
}

/// With `require-sigs=false` an unsigned narinfo is accepted (its NAR is
/// still checked).
#[tokio::test]
async fn unsigned_accepted_without_require_sigs() {
    let mut cache = TestCache::golden();
    let text: String = cache
        .narinfo("tree")
        .lines()
        .filter(|line| !line.starts_with("Sig: "))
        .map(|line| format!("{line}\n"))
        .collect();
    cache.set_narinfo("tree", text);
    let served = cache.serve().await;
    let client = Client::new(&served, "require-sigs=false").await;
    let path_info = client.get("tree").await.expect("get").expect("present");
    assert_eq!(Vec::<crate::Signature>::new(), path_info.signatures);
    assert_eq!(920, path_info.nar_size);
}

/// A NAR whose contents differ from what the signed narinfo says is
/// refused, and not remembered: the next get fails again.
#[tokio::test]
async fn wrong_nar_hash() {
    let mut cache = TestCache::golden();
    let nar_file = cache.nar_file("none.txt");
    let (_, nar) = cache.files[&nar_file].clone();
    let forged = String::from_utf8_lossy(&nar).replace("with none", "with NONE");
    assert_eq!(nar.len(), forged.len());
    cache
        .files
        .insert(nar_file, (StatusCode::OK, Bytes::from(forged.clone())));
    let narinfo_text = cache.narinfo("none.txt");
    let narinfo = NarInfo::parse(&narinfo_text).expect("golden narinfo");
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;

    for _ in 0..2 {
        match nix_http_error(client.get("none.txt").await) {
            NixHttpError::NarHash {
                store_path,
                expected,
                got,
            } => {
                assert_eq!(golden_path("none.txt"), store_path);
                assert_eq!(narinfo.nar_hash, expected);
                assert_eq!(
                    <[u8; 32]>::from(sha2::Sha256::digest(forged.as_bytes())),
                    got
                );
            }
            other => panic!("expected NarHash, got {other}"),
        }
    }
}

/// NARs that are cut short or go on past the size the narinfo gives are
/// refused while ingesting.
#[rstest]
#[case::truncated(true)]
#[case::trailing_data(false)]
#[tokio::test]
async fn nar_of_wrong_length(#[case] truncate: bool) {
    let mut cache = TestCache::golden();
    let nar_file = cache.nar_file("none.txt");
    let (_, nar) = cache.files[&nar_file].clone();
    let mut changed = nar.to_vec();
    if truncate {
        changed.truncate(nar.len() - 8);
    } else {
        changed.extend_from_slice(b"trailing");
    }
    cache
        .files
        .insert(nar_file, (StatusCode::OK, Bytes::from(changed)));
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;

    match nix_http_error(client.get("none.txt").await) {
        NixHttpError::Ingest {
            store_path, source, ..
        } => {
            assert_eq!(golden_path("none.txt"), store_path);
            match (truncate, source) {
                (true, IngestNarError::Read { offset, source }) => {
                    assert_eq!(nar.len() as u64 - 8, offset);
                    assert_eq!(std::io::ErrorKind::UnexpectedEof, source.kind());
                }
                (false, IngestNarError::TrailingData(offset)) => {
                    assert_eq!(nar.len() as u64, offset)
                }
                (_, other) => panic!("unexpected ingestion error {other}"),
            }
        }
        other => panic!("expected Ingest, got {other}"),
    }
}

/// The compression is not signed; an unknown one is refused before the
/// NAR is fetched.
#[tokio::test]
async fn unsupported_compression() {
    let mut cache = TestCache::golden();
    let text = cache
        .narinfo("tree")
        .replace("Compression: xz", "Compression: br");
    cache.set_narinfo("tree", text);
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    match nix_http_error(client.get("tree").await) {
        NixHttpError::Compression { store_path, source } => {
            assert_eq!(golden_path("tree"), store_path);
            assert_eq!(UnsupportedCompression("br".to_owned()), source);
        }
        other => panic!("expected Compression, got {other}"),
    }
}

/// A narinfo served under another path's digest is refused, even though
/// it is validly signed.
#[tokio::test]
async fn wrong_store_path() {
    let mut cache = TestCache::golden();
    let tree = cache.narinfo("tree");
    cache.set_narinfo("none.txt", tree);
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    match nix_http_error(client.get("none.txt").await) {
        NixHttpError::WrongStorePath { got, .. } => assert_eq!(golden_path("tree"), got),
        other => panic!("expected WrongStorePath, got {other}"),
    }
}

/// HTTP errors other than a missing narinfo are errors, not absence.
#[rstest]
#[case::narinfo_500(true, StatusCode::INTERNAL_SERVER_ERROR)]
#[case::narinfo_403(true, StatusCode::FORBIDDEN)]
#[case::nar_404(false, StatusCode::NOT_FOUND)]
#[tokio::test]
async fn http_status(#[case] narinfo: bool, #[case] status: StatusCode) {
    let mut cache = TestCache::golden();
    let file = if narinfo {
        TestCache::narinfo_name("tree")
    } else {
        cache.nar_file("tree")
    };
    cache.files.insert(file.clone(), (status, Bytes::new()));
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    let error = nix_http_error(client.get("tree").await);
    assert_eq!(
        format!(
            "fetching {}/{file}: HTTP status {status}",
            served.base.replacen("nix+", "", 1)
        ),
        error.to_string()
    );
}

/// A narinfo too large to be real is refused without being kept whole.
#[tokio::test]
async fn narinfo_too_large() {
    let mut cache = TestCache::golden();
    let text = cache.narinfo("tree") + &"X".repeat(MAX_NARINFO_SIZE);
    cache.set_narinfo("tree", text);
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    match nix_http_error(client.get("tree").await) {
        NixHttpError::NarInfoTooLarge { url } => assert_eq!(
            format!(
                "{}/{}",
                served.base.replacen("nix+", "", 1),
                TestCache::narinfo_name("tree")
            ),
            url.as_str()
        ),
        other => panic!("expected NarInfoTooLarge, got {other}"),
    }
}

/// A narinfo that is not text is an error, not a missing path.
#[tokio::test]
async fn narinfo_not_utf8() {
    let mut cache = TestCache::golden();
    cache.files.insert(
        TestCache::narinfo_name("tree"),
        (StatusCode::OK, Bytes::from_static(b"StorePath: \xff\n")),
    );
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    let error = nix_http_error(client.get("tree").await);
    assert!(
        matches!(error, NixHttpError::NarInfoNotUtf8 { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn put_is_refused() {
    let served = TestCache::golden().serve().await;
    let client = Client::trusting(&served).await;
    let path_info = crate::fixtures::PATH_INFO_FILE.clone();
    match client.service.put(path_info.clone()).await {
        Err(Error::NixHttp(error)) => match *error {
            NixHttpError::ReadOnly(store_path) => assert_eq!(path_info.store_path, store_path),
            other => panic!("expected ReadOnly, got {other}"),
        },
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(Vec::<String>::new(), served.requests());
}

#[tokio::test]
async fn list_is_unsupported() {
    let served = TestCache::golden().serve().await;
    let client = Client::trusting(&served).await;
    let listed: Vec<_> = client.service.list().collect().await;
    assert!(
        matches!(listed.as_slice(), [Err(Error::NixHttp(error))]
            if matches!(**error, NixHttpError::ListUnsupported)),
        "{listed:?}"
    );
}

/// The policy a cache address with this query gives.
fn signature_policy(query: &str) -> Result<SignaturePolicy, NixHttpAddrError> {
    let settings = NixHttpSettings::from_addr(&format!("nix+http://localhost/?{query}"))?;
    SignaturePolicy::new(
        settings.trusted_public_keys.as_deref(),
        settings.require_sigs,
    )
}

/// The query of a cache address, and the policy it gives.
#[rstest]
#[case::default("", Ok(vec![NIX_DEFAULT_TRUSTED_PUBLIC_KEY]))]
#[case::one_key(
    "trusted-public-keys=tvix-test-1:gXRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps=",
    Ok(vec!["tvix-test-1:gXRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps="])
)]
#[case::two_keys_percent_space(
    "trusted-public-keys=a:gXRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps=%20b:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=",
    Ok(vec![
        "a:gXRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps=",
        "b:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
    ])
)]
#[case::require_sigs_true(
    "require-sigs=true&trusted-public-keys=a:gXRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps=",
    Ok(vec!["a:gXRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps="])
)]
#[case::plus_stays_plus(
    "trusted-public-keys=a:+XRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps=",
    Err("trusted-public-keys: \"a:+XRo0WV13r9LyojgGGiAUFDr88aH/ZWoiH0qeF3RZps=\": public key a: the bytes are not an ed25519 point".to_owned())
)]
#[case::empty_keys(
    "trusted-public-keys=",
    Err("trusted-public-keys is empty while require-sigs is true: every path would be refused".to_owned())
)]
#[case::bad_key(
    "trusted-public-keys=nocolon",
    Err("trusted-public-keys: \"nocolon\": \"nocolon\" is not of the form name:base64".to_owned())
)]
#[case::bad_bool("require-sigs=no", Err("require-sigs must be true or false, got \"no\"".to_owned()))]
#[case::unknown(
    "compression=xz",
    Err("unknown query parameter \"compression\": expected trusted-public-keys or require-sigs".to_owned())
)]
#[case::duplicate(
    "require-sigs=true&require-sigs=true",
    Err("query parameter \"require-sigs\" given twice".to_owned())
)]
#[case::not_utf8("require-sigs=%ff", Err("query parameter \"require-sigs\" is not UTF-8 once percent-decoded".to_owned()))]
fn policy_from_query(#[case] query: &str, #[case] expected: Result<Vec<&str>, String>) {
    match (signature_policy(query), expected) {
        (Ok(SignaturePolicy::Require(keys)), Ok(expected)) => assert_eq!(
            expected,
            keys.iter().map(ToString::to_string).collect::<Vec<_>>()
        ),
        (Err(error), Err(expected)) => assert_eq!(expected, error.to_string()),
        (got, expected) => panic!("got {got:?}, expected {expected:?}"),
    }
}

#[rstest]
#[case::require_sigs_false("require-sigs=false")]
#[case::keys_ignored("trusted-public-keys=&require-sigs=false")]
fn policy_ignore(#[case] query: &str) {
    assert_eq!(
        SignaturePolicy::Ignore,
        signature_policy(query).expect("valid")
    );
}

/// Remembered PathInfos stay at most the bound however many paths are
/// asked for; the one used last is kept.
#[test]
fn remembered_bounded() {
    let mut remembered = LruCache::new(NonZeroUsize::new(10).expect("not zero"));
    let path_info = |i: u32| {
        let mut digest = [0; DIGEST_SIZE];
        digest[..4].copy_from_slice(&i.to_le_bytes());
        PathInfo {
            store_path: StorePath::from_name_and_digest("p", &digest).expect("store path"),
            ..crate::fixtures::PATH_INFO_FILE.clone()
        }
    };
    let first = path_info(0);
    for i in 0u32..100 {
        let path_info = path_info(i);
        remembered.put(*path_info.store_path.digest(), path_info);
        // Used on every round, so never the least recently used.
        assert!(remembered.get(first.store_path.digest()).is_some(), "{i}");
        assert!(remembered.len() <= 10);
    }
    assert_eq!(10, remembered.len());
}

/// The digest of the golden tree's root directory, as a trusting client
/// ingests it.
async fn golden_tree_root() -> tvix_castore::B3Digest {
    let served = TestCache::golden().serve().await;
    let client = Client::trusting(&served).await;
    match client
        .get("tree")
        .await
        .expect("get")
        .expect("present")
        .node
    {
        Node::Directory { digest, .. } => digest,
        other => panic!("tree is not a directory: {other:?}"),
    }
}

/// The lines of a golden path's narinfo to change.
type Tampering = (&'static str, Vec<(String, String)>);

/// The lines Nix's signature does not cover, changed under a valid
/// signature: the NAR `URL` (and `Compression`) of `none.txt` pointed at
/// the tree's NAR, the tree's `Compression`, `FileSize` and `FileHash`.
/// Each is refused by the check named, the path is not remembered (the
/// next get fails again), and the tree's directories, read each time, are
/// not in the castore.
#[rstest]
#[case::url_of_other_nar(
    |cache: &TestCache| ("none.txt", vec![
        (cache.nar_file("none.txt"), cache.nar_file("tree")),
        ("Compression: none".into(), "Compression: xz".into()),
    ]),
    // Cut one byte after the signed NAR size.
    "Ingest",
)]
#[case::compression(
    |_: &TestCache| ("tree", vec![("Compression: xz".into(), "Compression: none".into())]),
    "Ingest",
)]
#[case::file_size(
    |_: &TestCache| ("tree", vec![("FileSize: 272".into(), "FileSize: 271".into())]),
    "FileSize",
)]
#[case::file_hash(
    |cache: &TestCache| {
        let file = cache.nar_file("tree");
        let hash = file.trim_start_matches("nar/").trim_end_matches(".nar.xz");
        let forged = nixbase32::encode(&[7; 32]);
        ("tree", vec![(format!("FileHash: sha256:{hash}"), format!("FileHash: sha256:{forged}"))])
    },
    "FileHash",
)]
#[tokio::test]
async fn unsigned_lines_tampered(
    #[case] tamper: fn(&TestCache) -> Tampering,
    #[case] caught_by: &str,
) {
    let root = golden_tree_root().await;
    let mut cache = TestCache::golden();
    let (name, replacements) = tamper(&cache);
    let mut text = cache.narinfo(name);
    for (from, to) in replacements {
        assert!(text.contains(&from), "{text}");
        text = text.replace(&from, &to);
    }
    cache.set_narinfo(name, text);
    let served = cache.serve().await;
    let client = Client::trusting(&served).await;
    for _ in 0..2 {
        let error = nix_http_error(client.get(name).await);
        assert!(format!("{error:?}").starts_with(caught_by), "{error:?}");
    }
    assert_eq!(
        None,
        client.directory_service.get(&root).await.expect("get"),
        "the tree's root directory is not stored"
    );
}
