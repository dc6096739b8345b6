//! nar-bridge's request handlers: up to [MAX_REQUESTS] HTTP requests,
//! separated by [SEPARATOR], each `METHOD URI` on its first line, then
//! header lines up to an empty line, then the body. They go, in order, to a
//! fresh bridge over memory services that holds one path and takes
//! uploads, so a NAR upload, its narinfo and fetching both can be chained.
//! No request may panic or be answered with an internal server error.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use nar_bridge::{AppState, Config, router};
use nix_compat::store_path::StorePath;
use tower::ServiceExt;
use tvix_castore::blobservice::{BlobService, MemoryBlobService};
use tvix_castore::directoryservice::{DirectoryService, MemoryDirectoryService};
use tvix_store::PathInfo;
use tvix_store::nar::ingest_nar;
use tvix_store::pathinfoservice::{MemoryPathInfoService, PathInfoService};

use super::split_line;
use crate::runtime::block_on;

/// Separates the requests of one input.
pub const SEPARATOR: &[u8] = b"\n--next-request--\n";
/// Requests taken from one input; the rest is ignored.
pub const MAX_REQUESTS: usize = 4;
/// The path the bridge holds before the requests: a NAR with a directory, a
/// file and a symlink.
pub const STORED_PATH: &str = "/nix/store/00000000000000000000000000000000-fuzz";
pub const STORED_NAR: &[u8] = include_bytes!("../../../nix-compat/testdata/nar/nested.nar");
/// Response bodies are read up to this size; the stored NAR is far smaller.
const MAX_BODY: usize = 16 * 1024 * 1024;

pub fn nar_bridge_request(data: &[u8]) {
    let requests: Vec<Request<Body>> = split_requests(data)
        .into_iter()
        .take(MAX_REQUESTS)
        .filter_map(parse_request)
        .collect();
    if requests.is_empty() {
        return;
    }
    block_on(async {
        let app = router(bridge().await);
        for request in requests {
            let described = format!("{} {}", request.method(), request.uri());
            let response = app
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let body = to_bytes(response.into_body(), MAX_BODY).await;
            assert_ne!(
                status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{described}: {body:?}"
            );
        }
    });
}

/// The requests of one input, split at [SEPARATOR].
fn split_requests(mut data: &[u8]) -> Vec<&[u8]> {
    let mut requests = Vec::new();
    while let Some(at) = data
        .windows(SEPARATOR.len())
        .position(|window| window == SEPARATOR)
    {
        requests.push(&data[..at]);
        data = &data[at + SEPARATOR.len()..];
    }
    requests.push(data);
    requests
}

/// One request; None if its method, URI or a header is not valid HTTP.
fn parse_request(data: &[u8]) -> Option<Request<Body>> {
    let (line, mut rest) = split_line(data);
    let line = std::str::from_utf8(line).ok()?;
    let (method, uri) = line.split_once(' ')?;
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).ok()?)
        .uri(Uri::try_from(uri).ok()?);
    loop {
        let (header, after) = split_line(rest);
        rest = after;
        if header.is_empty() {
            break;
        }
        let colon = header.iter().position(|&b| b == b':')?;
        let name = HeaderName::from_bytes(&header[..colon]).ok()?;
        let value = HeaderValue::from_bytes(header[colon + 1..].trim_ascii()).ok()?;
        request = request.header(name, value);
    }
    request.body(Body::from(rest.to_vec())).ok()
}

/// A bridge over fresh memory services holding [STORED_PATH].
async fn bridge() -> AppState {
    let blobs: Arc<dyn BlobService> = Arc::new(MemoryBlobService::new());
    let directories: Arc<dyn DirectoryService> = Arc::new(MemoryDirectoryService::new());
    let path_infos: Arc<dyn PathInfoService> = Arc::new(MemoryPathInfoService::new());
    let ingested = ingest_nar(&*blobs, &*directories, STORED_NAR)
        .await
        .expect("the stored NAR is valid");
    path_infos
        .put(PathInfo {
            store_path: StorePath::from_absolute_path(STORED_PATH.as_bytes())
                .expect("the stored path is valid"),
            node: ingested.node,
            references: Vec::new(),
            nar_size: ingested.nar.nar_size,
            nar_sha256: ingested.nar.nar_sha256,
            signatures: Vec::new(),
            deriver: None,
            ca: None,
        })
        .await
        .expect("a memory service stores");
    let config = Config {
        priority: 40,
        allow_upload: true,
        // No token and no keys: the fuzzer's requests reach every handler.
        ..Config::default()
    };
    AppState::new(blobs, directories, path_infos, config)
}
