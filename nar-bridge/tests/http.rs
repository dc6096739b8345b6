//! nar-bridge over real HTTP, in process, on an in-memory store: serving
//! (narinfo fields and signatures, NARs whole, in ranges and compressed,
//! HEAD), uploads, bad requests (each a 4xx that leaves the store as it
//! was), concurrent clients, and shutdown with a transfer in flight.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use async_compression::tokio::bufread::{XzDecoder, ZstdDecoder};
use futures::TryStreamExt;
use nar_bridge::{AppState, Compression, Config, router};
use nix_compat::narinfo::{NarInfo, SigningKey};
use nix_compat::nixbase32;
use nix_compat::store_path::StorePath;
use rstest::rstest;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tvix_store::PathInfo;
use tvix_store::utils::{ServiceAddrs, Services, construct_services};

/// A secret key as `nix-store --generate-binary-cache-key test-1` writes
/// them.
const SECRET_KEY: &str = "test-1:iC2CnTwTAJVqF/ZhzuZ80VBXEWxUJqH2b+v8Eek5NG9zMbfDs6xUCsTCIkS/lYVaNh5+riOjEvNvdJZsavOH7A==";

/// A running bridge on a fresh in-memory store.
struct Server {
    address: SocketAddr,
    services: Services,
    stop: Option<oneshot::Sender<()>>,
    serving: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(compression: Compression, allow_upload: bool) -> Self {
        let memory = "memory://".to_owned();
        let services = construct_services(&ServiceAddrs {
            blob_service_addr: memory.clone(),
            directory_service_addr: memory.clone(),
            path_info_service_addr: memory,
        })
        .await
        .expect("in-memory services");
        Self::serve(services, compression, allow_upload).await
    }

    /// Another bridge on the same store.
    async fn sibling(&self, compression: Compression, allow_upload: bool) -> Self {
        Self::serve(self.services.clone(), compression, allow_upload).await
    }

    async fn serve(services: Services, compression: Compression, allow_upload: bool) -> Self {
        let state = AppState::new(
            services.blob_service.clone(),
            services.directory_service.clone(),
            services.path_info_service.clone(),
            Config {
                priority: 30,
                signing_key: Some(SECRET_KEY.parse().expect("valid key")),
                compression,
                allow_upload,
                ..Config::default()
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("serving");
        });
        Self {
            address,
            services,
            stop: Some(stop),
            serving,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn request(&self, method: &str, path: &str, body: Vec<u8>) -> reqwest::Response {
        reqwest::Client::new()
            .request(method.parse().expect("method"), self.url(path))
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Uploads `nar` as a NAR file and the narinfo `narinfo` for it,
    /// expecting both to be taken.
    async fn upload(&self, path: &TestPath) {
        let response = self.request("PUT", &path.nar_url(), path.nar.clone()).await;
        assert_eq!(
            200,
            response.status().as_u16(),
            "{:?}",
            response.text().await
        );
        let response = self
            .request("PUT", &path.narinfo_url(), path.narinfo().into_bytes())
            .await;
        assert_eq!(
            200,
            response.status().as_u16(),
            "{:?}",
            response.text().await
        );
    }

    async fn stored(&self) -> Vec<PathInfo> {
        let mut stored: Vec<PathInfo> = self
            .services
            .path_info_service
            .list()
            .try_collect()
            .await
            .expect("listing");
        stored.sort_by(|a, b| a.store_path.cmp(&b.store_path));
        stored
    }
}

/// A store path with its NAR, references and the narinfo uploading them.
#[derive(Clone)]
struct TestPath {
    store_path: StorePath,
    nar: Vec<u8>,
    references: Vec<StorePath>,
}

impl TestPath {
    /// A path holding one regular file with `contents`.
    fn file(hash_char: char, name: &str, contents: &[u8]) -> Self {
        let mut nar = Vec::new();
        nix_compat::nar::writer::open(&mut nar)
            .expect("NAR")
            .file(false, contents.len() as u64, &mut &contents[..])
            .expect("NAR file");
        Self {
            store_path: StorePath::from_bytes(
                format!("{}-{name}", hash_char.to_string().repeat(32)).as_bytes(),
            )
            .expect("store path"),
            nar,
            references: vec![],
        }
    }

    fn nar_sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.nar).into()
    }

    fn nar_url(&self) -> String {
        format!("/nar/{}.nar", nixbase32::encode(&self.nar_sha256()))
    }

    fn narinfo_url(&self) -> String {
        format!("/{}.narinfo", nixbase32::encode(self.store_path.digest()))
    }

    /// The narinfo `nix copy --to` would upload for this path, uncompressed.
    fn narinfo(&self) -> String {
        let mut text = format!(
            "StorePath: {}\nURL: {}\nCompression: none\nNarHash: sha256:{}\nNarSize: {}\n",
            self.store_path.to_absolute_path(),
            self.nar_url().trim_start_matches('/'),
            nixbase32::encode(&self.nar_sha256()),
            self.nar.len(),
        );
        let references: Vec<String> = self.references.iter().map(|r| r.to_string()).collect();
        text.push_str(&format!("References: {}\n", references.join(" ")));
        text
    }
}

fn seeded_path() -> TestPath {
    TestPath::file('a', "seeded", &b"seeded contents ".repeat(1000))
}

/// Contents that take many NAR chunks to send.
fn big_path() -> TestPath {
    let contents: Vec<u8> = (0..8u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    TestPath::file('b', "big", &contents)
}

#[tokio::test]
async fn cache_info() {
    let server = Server::start(Compression::None, false).await;
    let response = server.request("GET", "/nix-cache-info", vec![]).await;
    assert_eq!(200, response.status().as_u16());
    assert_eq!(
        "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n",
        response.text().await.expect("body")
    );
}

/// The narinfo carries the PathInfo's fields, a URL and compression as
/// configured, file hash and size only where known, and our signature.
#[rstest]
#[case::none(Compression::None, ".nar", true)]
#[case::zstd(Compression::Zstd, ".nar.zst", false)]
#[case::xz(Compression::Xz, ".nar.xz", false)]
#[tokio::test]
async fn narinfo_served(
    #[case] compression: Compression,
    #[case] extension: &str,
    #[case] file_fields: bool,
) {
    let server = Server::start(compression, true).await;
    let dependency = seeded_path();
    let mut path = TestPath::file('c', "user", b"uses the seeded path");
    path.references = vec![dependency.store_path.clone(), path.store_path.clone()];
    server.upload(&dependency).await;
    server.upload(&path).await;

    for method in ["GET", "HEAD"] {
        let response = server.request(method, &path.narinfo_url(), vec![]).await;
        assert_eq!(200, response.status().as_u16());
        assert_eq!(
            Some("text/x-nix-narinfo"),
            response.headers()["content-type"].to_str().ok()
        );
        let text = response.text().await.expect("body");
        if method == "HEAD" {
            assert_eq!("", text);
            continue;
        }
        let narinfo = NarInfo::parse(&text).expect("a narinfo");
        assert_eq!(path.store_path.as_ref(), narinfo.store_path);
        assert_eq!(
            format!("nar/{}{extension}", nixbase32::encode(&path.nar_sha256())),
            narinfo.url
        );
        assert_eq!(Some(compression.name()), narinfo.compression);
        assert_eq!(path.nar_sha256(), narinfo.nar_hash);
        assert_eq!(path.nar.len() as u64, narinfo.nar_size);
        assert_eq!(file_fields, narinfo.file_hash.is_some());
        assert_eq!(file_fields, narinfo.file_size.is_some());
        assert_eq!(2, narinfo.references.len());
        let key: SigningKey = SECRET_KEY.parse().expect("key");
        let [signature] = narinfo.signatures[..] else {
            panic!("expected one signature: {text}");
        };
        assert!(signature.verify(narinfo.fingerprint().as_bytes(), &key.verifying_key()));
    }
}

/// Downloads of the NAR: whole, in ranges, compressed, and HEAD.
#[rstest]
#[case::whole("", None, 200, Some(0..60000))]
#[case::first_bytes(".nar", Some("bytes=0-99"), 206, Some(0..100))]
#[case::middle(".nar", Some("bytes=1000-40999"), 206, Some(1000..41000))]
#[case::open_end(".nar", Some("bytes=59000-"), 206, Some(59000..60000))]
#[case::suffix(".nar", Some("bytes=-10"), 206, Some(59990..60000))]
#[case::unsatisfiable(".nar", Some("bytes=70000-"), 416, None)]
#[case::several_ranges_give_all(".nar", Some("bytes=0-1,4-5"), 200, Some(0..60000))]
#[case::zstd(".nar.zst", None, 200, Some(0..60000))]
#[case::xz(".nar.xz", None, 200, Some(0..60000))]
#[case::zstd_ignores_range(".nar.zst", Some("bytes=0-9"), 200, Some(0..60000))]
#[tokio::test]
async fn nar_served(
    #[case] extension: &str,
    #[case] range: Option<&str>,
    #[case] status: u16,
    #[case] expected: Option<std::ops::Range<usize>>,
) {
    let server = Server::start(Compression::None, true).await;
    let contents: Vec<u8> = (0..59888u32).map(|i| (i % 253) as u8).collect();
    let path = TestPath::file('d', "ranged", &contents);
    assert_eq!(60000, path.nar.len());
    server.upload(&path).await;
    let url = server.url(&format!(
        "/nar/{}.nar{}",
        nixbase32::encode(&path.nar_sha256()),
        extension.trim_start_matches(".nar")
    ));
    for head in [true, false] {
        let client = reqwest::Client::new();
        let mut request = if head {
            client.head(&url)
        } else {
            client.get(&url)
        };
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let response = request.send().await.expect("request");
        assert_eq!(status, response.status().as_u16());
        let Some(expected) = expected.clone() else {
            continue;
        };
        let uncompressed = matches!(extension, "" | ".nar");
        if uncompressed {
            assert_eq!(
                Some(expected.len().to_string().as_str()),
                response.headers()["content-length"].to_str().ok()
            );
        }
        // Ranges only where they are served: a compressed NAR is made anew
        // on each request, so its length is not known up front, and a
        // Range on it is answered with the whole file (RFC 9110 lets a
        // server ignore Range). Nix only resumes a broken download with a
        // Range where the server announced Accept-Ranges.
        assert_eq!(
            uncompressed,
            response.headers().contains_key("accept-ranges"),
            "Accept-Ranges"
        );
        let body = response.bytes().await.expect("body").to_vec();
        if head {
            assert!(body.is_empty());
            continue;
        }
        let mut nar = Vec::new();
        match extension {
            ".nar.zst" => ZstdDecoder::new(&body[..]).read_to_end(&mut nar).await,
            ".nar.xz" => XzDecoder::new(&body[..]).read_to_end(&mut nar).await,
            _ => {
                nar = body;
                Ok(0)
            }
        }
        .expect("decompress");
        assert!(nar == path.nar[expected], "wrong bytes");
    }
}

/// One request of a bad-request case, and the status it must get.
enum Step {
    Http {
        method: &'static str,
        path: String,
        body: Vec<u8>,
        status: u16,
    },
    /// Bytes written to a fresh connection, which is then half-closed.
    Raw { request: Vec<u8>, status: u16 },
}

fn get(path: impl Into<String>, status: u16) -> Vec<Step> {
    vec![Step::Http {
        method: "GET",
        path: path.into(),
        body: vec![],
        status,
    }]
}

fn put(path: impl Into<String>, body: Vec<u8>, status: u16) -> Step {
    Step::Http {
        method: "PUT",
        path: path.into(),
        body,
        status,
    }
}

/// A 52-character nixbase32 hash of nothing stored.
const UNKNOWN_HASH: &str = "0000000000000000000000000000000000000000000000000000";

fn garbage_path() -> Vec<Step> {
    get("/garbage", 404)
}
fn narinfo_hash_too_short() -> Vec<Step> {
    get("/abc.narinfo", 400)
}
fn narinfo_hash_too_long() -> Vec<Step> {
    get(format!("/{}.narinfo", "a".repeat(33)), 400)
}
fn narinfo_hash_not_nixbase32() -> Vec<Step> {
    get(format!("/{}.narinfo", "e".repeat(32)), 400)
}
fn narinfo_absent() -> Vec<Step> {
    get(format!("/{}.narinfo", "z".repeat(32)), 404)
}
fn nar_hash_too_short() -> Vec<Step> {
    get("/nar/abc.nar", 400)
}
fn nar_absent() -> Vec<Step> {
    get(format!("/nar/{UNKNOWN_HASH}.nar"), 404)
}
fn nar_unknown_compression() -> Vec<Step> {
    get(format!("/nar/{UNKNOWN_HASH}.nar.br"), 404)
}
fn log() -> Vec<Step> {
    get(format!("/log/{}-seeded", "a".repeat(32)), 404)
}
fn realisations() -> Vec<Step> {
    get("/realisations/sha256:abc!out.doi", 404)
}
fn truncated_upload() -> Vec<Step> {
    let path = TestPath::file('f', "truncated", &[7; 1000]);
    let half = path.nar[..path.nar.len() / 2].to_vec();
    vec![
        put(path.nar_url(), half, 400),
        put(path.narinfo_url(), path.narinfo().into_bytes(), 400),
    ]
}
fn not_a_nar() -> Vec<Step> {
    vec![put(
        format!("/nar/{UNKNOWN_HASH}.nar"),
        b"this is not a NAR".to_vec(),
        400,
    )]
}
fn not_xz() -> Vec<Step> {
    vec![put(
        format!("/nar/{UNKNOWN_HASH}.nar.xz"),
        vec![0; 100],
        400,
    )]
}
fn nar_not_matching_narinfo() -> Vec<Step> {
    let path = TestPath::file('f', "claimed", b"what the narinfo says");
    let other = TestPath::file('f', "claimed", b"what was uploaded instead");
    vec![
        put(path.nar_url(), other.nar.clone(), 200),
        put(path.narinfo_url(), path.narinfo().into_bytes(), 400),
    ]
}
fn nar_size_not_matching_narinfo() -> Vec<Step> {
    let path = TestPath::file('f', "sized", b"contents");
    let narinfo = path
        .narinfo()
        .replace(&format!("NarSize: {}", path.nar.len()), "NarSize: 12345");
    vec![
        put(path.nar_url(), path.nar.clone(), 200),
        put(path.narinfo_url(), narinfo.into_bytes(), 400),
    ]
}
fn file_hash_not_matching_upload() -> Vec<Step> {
    let path = TestPath::file('f', "filehash", b"contents");
    let narinfo = format!(
        "{}FileHash: sha256:{}\n",
        path.narinfo(),
        nixbase32::encode(&[9; 32])
    );
    vec![
        put(path.nar_url(), path.nar.clone(), 200),
        put(path.narinfo_url(), narinfo.into_bytes(), 400),
    ]
}
fn file_size_not_matching_upload() -> Vec<Step> {
    let path = TestPath::file('f', "filesize", b"contents");
    let narinfo = format!("{}FileSize: {}\n", path.narinfo(), path.nar.len() + 1);
    vec![
        put(path.nar_url(), path.nar.clone(), 200),
        put(path.narinfo_url(), narinfo.into_bytes(), 400),
    ]
}
fn reference_not_in_store() -> Vec<Step> {
    let mut path = TestPath::file('f', "dangling", b"refers to nothing stored");
    path.references =
        vec![StorePath::from_bytes(b"hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh-gone").expect("path")];
    vec![
        put(path.nar_url(), path.nar.clone(), 200),
        put(path.narinfo_url(), path.narinfo().into_bytes(), 400),
    ]
}
fn narinfo_without_nar() -> Vec<Step> {
    let path = TestPath::file('f', "alone", b"never uploaded");
    vec![put(path.narinfo_url(), path.narinfo().into_bytes(), 400)]
}
fn narinfo_malformed() -> Vec<Step> {
    let path = TestPath::file('f', "malformed", b"x");
    vec![put(
        path.narinfo_url(),
        b"StorePath: nonsense\n".to_vec(),
        400,
    )]
}
fn narinfo_not_utf8() -> Vec<Step> {
    let path = TestPath::file('f', "binary", b"x");
    vec![put(path.narinfo_url(), vec![0xff, 0xfe, 0], 400)]
}
fn narinfo_at_another_path() -> Vec<Step> {
    let path = TestPath::file('f', "elsewhere", b"x");
    vec![
        put(path.nar_url(), path.nar.clone(), 200),
        put(
            format!("/{}.narinfo", "g".repeat(32)),
            path.narinfo().into_bytes(),
            400,
        ),
    ]
}
fn narinfo_too_large() -> Vec<Step> {
    let path = TestPath::file('f', "huge", b"x");
    let mut narinfo = path.narinfo();
    narinfo.push_str(&"Sig: x\n".repeat(300_000));
    vec![put(path.narinfo_url(), narinfo.into_bytes(), 400)]
}
fn existing_path_other_contents() -> Vec<Step> {
    let path = TestPath::file('a', "seeded", b"not what was seeded");
    vec![
        put(path.nar_url(), path.nar.clone(), 200),
        put(path.narinfo_url(), path.narinfo().into_bytes(), 409),
    ]
}
fn huge_content_length_without_body() -> Vec<Step> {
    vec![Step::Raw {
        request: format!(
            "PUT /nar/{UNKNOWN_HASH}.nar HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n"
        )
        .into_bytes(),
        status: 400,
    }]
}
fn uploads_disabled() -> Vec<Step> {
    let path = TestPath::file('f', "refused", b"x");
    vec![
        put(path.nar_url(), path.nar.clone(), 403),
        put(path.narinfo_url(), path.narinfo().into_bytes(), 403),
    ]
}

/// Each bad request gets its 4xx, and the store holds what it held before.
#[rstest]
#[case::garbage_path(garbage_path, true)]
#[case::narinfo_hash_too_short(narinfo_hash_too_short, true)]
#[case::narinfo_hash_too_long(narinfo_hash_too_long, true)]
#[case::narinfo_hash_not_nixbase32(narinfo_hash_not_nixbase32, true)]
#[case::narinfo_absent(narinfo_absent, true)]
#[case::nar_hash_too_short(nar_hash_too_short, true)]
#[case::nar_absent(nar_absent, true)]
#[case::nar_unknown_compression(nar_unknown_compression, true)]
#[case::log(log, true)]
#[case::realisations(realisations, true)]
#[case::truncated_upload(truncated_upload, true)]
#[case::not_a_nar(not_a_nar, true)]
#[case::not_xz(not_xz, true)]
#[case::nar_not_matching_narinfo(nar_not_matching_narinfo, true)]
#[case::nar_size_not_matching_narinfo(nar_size_not_matching_narinfo, true)]
#[case::file_hash_not_matching_upload(file_hash_not_matching_upload, true)]
#[case::file_size_not_matching_upload(file_size_not_matching_upload, true)]
#[case::reference_not_in_store(reference_not_in_store, true)]
#[case::narinfo_without_nar(narinfo_without_nar, true)]
#[case::narinfo_malformed(narinfo_malformed, true)]
#[case::narinfo_not_utf8(narinfo_not_utf8, true)]
#[case::narinfo_at_another_path(narinfo_at_another_path, true)]
#[case::narinfo_too_large(narinfo_too_large, true)]
#[case::existing_path_other_contents(existing_path_other_contents, true)]
#[case::huge_content_length_without_body(huge_content_length_without_body, true)]
#[case::uploads_disabled(uploads_disabled, false)]
#[tokio::test]
async fn bad_request(#[case] steps: fn() -> Vec<Step>, #[case] allow_upload: bool) {
    let server = Server::start(Compression::None, true).await;
    server.upload(&seeded_path()).await;
    let before = server.stored().await;
    let server = if allow_upload {
        server
    } else {
        server.sibling(Compression::None, false).await
    };
    for step in steps() {
        match step {
            Step::Http {
                method,
                path,
                body,
                status,
            } => {
                let response = server.request(method, &path, body).await;
                let got = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                assert_eq!(status, got, "{method} {path}: {text}");
            }
            Step::Raw { request, status } => {
                let address = server.address;
                let response = tokio::task::spawn_blocking(move || {
                    let mut stream = TcpStream::connect(address).expect("connect");
                    stream.write_all(&request).expect("send");
                    stream
                        .shutdown(std::net::Shutdown::Write)
                        .expect("half-close");
                    let mut response = String::new();
                    let _ = stream.read_to_string(&mut response);
                    response
                })
                .await
                .expect("raw request");
                assert!(
                    response.starts_with(&format!("HTTP/1.1 {status} ")),
                    "{response}"
                );
            }
        }
    }
    assert_eq!(before, server.stored().await, "the store changed");
}

/// Clients at once each get the whole NAR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_downloads() {
    let server = Server::start(Compression::None, true).await;
    let path = big_path();
    server.upload(&path).await;
    let url = server.url(&path.nar_url());
    let downloads = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let body = reqwest::get(&url)
                .await
                .expect("GET")
                .bytes()
                .await
                .expect("body");
            <[u8; 32]>::from(Sha256::digest(&body))
        })
    });
    for download in downloads {
        assert_eq!(path.nar_sha256(), download.await.expect("download"));
    }
}

/// Once shutdown begins, no new connection is taken, and a transfer in
/// flight still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests() {
    let mut server = Server::start(Compression::None, true).await;
    let path = big_path();
    server.upload(&path).await;
    let mut response = reqwest::get(server.url(&path.nar_url()))
        .await
        .expect("GET");
    let mut received = response
        .chunk()
        .await
        .expect("first chunk")
        .expect("data")
        .to_vec();
    server
        .stop
        .take()
        .expect("running")
        .send(())
        .expect("signal");
    while let Some(chunk) = response.chunk().await.expect("the rest") {
        received.extend_from_slice(&chunk);
    }
    assert!(received == path.nar, "the NAR arrived incomplete");
    server.serving.await.expect("stopped");
    assert!(
        TcpStream::connect(server.address).is_err(),
        "still listening"
    );
}
