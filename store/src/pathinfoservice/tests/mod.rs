//! The conformance suite every [PathInfoService] backend must pass.
//!
//! [path_info_services] lists every backend once, the gRPC client against
//! our own in-process server included; each test below is written once and
//! applied to all of them. A new backend passes the whole suite by adding
//! one case.

use std::sync::Arc;

use futures::TryStreamExt;
use rstest::rstest;
use rstest_reuse::{self, apply, template};
use tempfile::TempDir;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;
use tvix_castore::blobservice::MemoryBlobService;
use tvix_castore::directoryservice::MemoryDirectoryService;

use super::{PathInfoService, from_addr};
use crate::PathInfo;
use crate::fixtures::{PATH_INFO_FILE, PATH_INFO_FULL, store_path};
use crate::nar::{NarCalculationService, SimpleRenderer};
use crate::proto::GrpcPathInfoServiceWrapper;
use crate::proto::path_info_service_server::PathInfoServiceServer;

/// A service under test, with whatever must outlive it.
pub(crate) struct TestPathInfoService {
    pub service: Arc<dyn PathInfoService>,
    _dir: TempDir,
}

impl std::ops::Deref for TestPathInfoService {
    type Target = Arc<dyn PathInfoService>;

    fn deref(&self) -> &Self::Target {
        &self.service
    }
}

/// Serves `server` over gRPC on a Unix socket in `dir` and returns the
/// client address. The server runs as long as the test's runtime.
pub(crate) fn serve_grpc(server: GrpcPathInfoServiceWrapper, dir: &TempDir) -> String {
    let socket = dir.path().join("pathinfo.sock");
    let listener = UnixListener::bind(&socket).expect("bind socket");
    tokio::spawn(
        Server::builder()
            .add_service(tvix_castore::with_message_limits!(
                PathInfoServiceServer::new(server)
            ))
            .serve_with_incoming(UnixListenerStream::new(listener)),
    );
    format!("grpc+unix://{}", socket.display())
}

/// A NAR calculation service over empty in-memory castore services.
pub(crate) fn empty_renderer() -> Arc<dyn NarCalculationService> {
    Arc::new(SimpleRenderer::new(
        MemoryBlobService::new(),
        MemoryDirectoryService::new(),
    ))
}

/// The backend at `addr` over an empty in-memory castore.
async fn from_addr_in_memory(addr: &str) -> Arc<dyn PathInfoService> {
    from_addr(
        addr,
        Arc::new(MemoryBlobService::new()),
        Arc::new(MemoryDirectoryService::new()),
    )
    .await
    .expect("valid address")
}

/// Builds the backend at `addr`, where `{tmp}` is a fresh temporary
/// directory. `grpc+unix://{served}` is a client of an in-process server
/// backed by `memory://`; `bigtable://{emulator}` is a fresh table in the
/// Bigtable emulator, or None (a skip) if there is none.
async fn open(addr: &str) -> Option<TestPathInfoService> {
    let dir = TempDir::new().expect("temp dir");
    let addr = match addr {
        "grpc+unix://{served}" => {
            let backing = from_addr_in_memory("memory://").await;
            serve_grpc(
                GrpcPathInfoServiceWrapper::trusting_puts(backing, empty_renderer()),
                &dir,
            )
        }
        #[cfg(feature = "integration")]
        "bigtable://{emulator}" => tvix_castore::bigtable::emulator::shared_table_url().await?,
        _ => addr.replace("{tmp}", &dir.path().to_string_lossy()),
    };
    Some(TestPathInfoService {
        service: from_addr_in_memory(&addr).await,
        _dir: dir,
    })
}

#[template]
#[rstest]
#[case::memory("memory://")]
#[case::redb_in_memory("redb://")]
#[case::redb_file("redb://{tmp}/pathinfo.redb")]
#[case::sled_temporary("sled://")]
#[case::sled_dir("sled://{tmp}/pathinfo.sled")]
#[case::grpc_memory("grpc+unix://{served}")]
#[cfg_attr(feature = "integration", case::bigtable("bigtable://{emulator}"))]
pub fn path_info_services(#[case] addr: &str) {}

/// `count` distinct PathInfos, all with a file root.
fn many(count: u32) -> Vec<PathInfo> {
    (0..count)
        .map(|i| {
            let mut digest = [0; 20];
            digest[..4].copy_from_slice(&i.to_le_bytes());
            PathInfo {
                store_path: nix_compat::store_path::StorePath::from_name_and_digest(
                    &format!("path-{i}"),
                    &digest,
                )
                .expect("valid store path"),
                ..PATH_INFO_FILE.clone()
            }
        })
        .collect()
}

async fn list_sorted(service: &dyn PathInfoService) -> Vec<PathInfo> {
    let mut listed: Vec<PathInfo> = service.list().try_collect().await.expect("list");
    listed.sort_by(|a, b| a.store_path.cmp(&b.store_path));
    listed
}

#[apply(path_info_services)]
#[tokio::test]
async fn get_missing(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    assert_eq!(
        None,
        service
            .get(*PATH_INFO_FULL.store_path.digest())
            .await
            .expect("get")
    );
}

#[apply(path_info_services)]
#[tokio::test]
async fn put_get(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    for path_info in [&*PATH_INFO_FILE, &*PATH_INFO_FULL] {
        assert_eq!(
            *path_info,
            service.put(path_info.clone()).await.expect("put")
        );
        assert_eq!(
            Some(path_info.clone()),
            service
                .get(*path_info.store_path.digest())
                .await
                .expect("get")
        );
    }
}

/// Only the exact digest finds a PathInfo.
#[apply(path_info_services)]
#[tokio::test]
async fn get_other_digest(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    service.put(PATH_INFO_FULL.clone()).await.expect("put");
    let mut other = *PATH_INFO_FULL.store_path.digest();
    other[19] ^= 1;
    assert_eq!(None, service.get(other).await.expect("get"));
}

/// A second put for the same store path replaces the first.
#[apply(path_info_services)]
#[tokio::test]
async fn put_replaces(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    service.put(PATH_INFO_FULL.clone()).await.expect("put");
    let replacement = PathInfo {
        signatures: vec![],
        deriver: None,
        nar_size: 2048,
        ..PATH_INFO_FULL.clone()
    };
    service.put(replacement.clone()).await.expect("put again");
    assert_eq!(
        Some(replacement.clone()),
        service
            .get(*PATH_INFO_FULL.store_path.digest())
            .await
            .expect("get")
    );
    assert_eq!(vec![replacement], list_sorted(&**service).await);
}

#[apply(path_info_services)]
#[tokio::test]
async fn list_empty(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    assert_eq!(Vec::<PathInfo>::new(), list_sorted(&**service).await);
}

/// More PathInfos than any listing queue holds, each listed exactly once.
#[apply(path_info_services)]
#[tokio::test]
async fn list_many(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let mut expected = many(300);
    for path_info in &expected {
        service.put(path_info.clone()).await.expect("put");
    }
    expected.sort_by(|a, b| a.store_path.cmp(&b.store_path));
    assert_eq!(expected, list_sorted(&**service).await);
}

/// Reading a listing only partly, then dropping it, leaves the service
/// usable.
#[apply(path_info_services)]
#[tokio::test]
async fn list_abandoned(#[case] addr: &str) {
    use futures::StreamExt;

    let Some(service) = open(addr).await else {
        return;
    };
    for path_info in many(100) {
        service.put(path_info).await.expect("put");
    }
    let first = service.list().next().await;
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    service
        .put(PATH_INFO_FULL.clone())
        .await
        .expect("put after");
    assert_eq!(
        Some(PATH_INFO_FULL.clone()),
        service
            .get(*store_path("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-full").digest())
            .await
            .expect("get")
    );
}
