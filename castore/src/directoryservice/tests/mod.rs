//! The conformance suite every [DirectoryService] backend must pass.
//!
//! [directory_services] lists every backend once, the gRPC client against our
//! own in-process server included; each test below is written once and
//! applied to all of them. A new backend passes the whole suite by adding one
//! case.

use std::sync::Arc;

use futures::TryStreamExt;
use rstest::rstest;
use rstest_reuse::{self, apply, template};
use tempfile::TempDir;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use super::{ClosureError, DirectoryService, Error, from_addr};
use crate::fixtures::{
    DIRECTORY_COMPLICATED, DIRECTORY_DEEP, DIRECTORY_EMPTY, DIRECTORY_TWICE_EMPTY,
    DIRECTORY_WITH_KEEP, name,
};
use crate::proto::GrpcDirectoryServiceWrapper;
use crate::proto::directory_service_server::DirectoryServiceServer;
use crate::{Directory, Node};

/// A service under test, with whatever must outlive it.
pub(crate) struct TestDirectoryService {
    pub service: Arc<dyn DirectoryService>,
    _dir: TempDir,
}

impl std::ops::Deref for TestDirectoryService {
    type Target = Arc<dyn DirectoryService>;

    fn deref(&self) -> &Self::Target {
        &self.service
    }
}

/// Serves `service` over gRPC on a Unix socket in `dir` and returns the
/// client address. The server runs as long as the test's runtime.
pub(crate) fn serve_grpc(server: GrpcDirectoryServiceWrapper, dir: &TempDir) -> String {
    let socket = dir.path().join("directories.sock");
    let listener = UnixListener::bind(&socket).expect("bind socket");
    tokio::spawn(
        Server::builder()
            .add_service(crate::with_message_limits!(DirectoryServiceServer::new(
                server
            )))
            .serve_with_incoming(UnixListenerStream::new(listener)),
    );
    format!("grpc+unix://{}", socket.display())
}

/// Builds the backend at `addr`, where `{tmp}` is a fresh temporary
/// directory. `grpc+unix://{served}` is a client of an in-process server
/// backed by `memory://`; `bigtable://{emulator}` is a fresh table in the
/// Bigtable emulator, or None (a skip) if there is none.
async fn open(addr: &str) -> Option<TestDirectoryService> {
    let dir = TempDir::new().expect("temp dir");
    let addr = match addr {
        "grpc+unix://{served}" => {
            let backing = from_addr("memory://").await.expect("memory backend");
            serve_grpc(GrpcDirectoryServiceWrapper::new(backing), &dir)
        }
        #[cfg(feature = "integration")]
        "bigtable://{emulator}" => crate::bigtable::emulator::shared_table_url().await?,
        _ => addr.replace("{tmp}", &dir.path().to_string_lossy()),
    };
    Some(TestDirectoryService {
        service: from_addr(&addr).await.expect("valid address"),
        _dir: dir,
    })
}

#[template]
#[rstest]
#[case::memory("memory://")]
#[case::redb_in_memory("redb://")]
#[case::redb_file("redb://{tmp}/directories.redb")]
#[case::sled_temporary("sled://")]
#[case::sled_dir("sled://{tmp}/directories.sled")]
#[case::grpc_memory("grpc+unix://{served}")]
#[cfg_attr(feature = "integration", case::bigtable("bigtable://{emulator}"))]
pub fn directory_services(#[case] addr: &str) {}

/// Puts `directories` (leaves first) in one closure, returning the root.
async fn put_closure(
    service: &dyn DirectoryService,
    directories: &[&Directory],
) -> Result<crate::B3Digest, Error> {
    let mut putter = service.put_multiple_start();
    for directory in directories {
        putter.put((*directory).clone()).await?;
    }
    putter.close().await
}

/// All of [DIRECTORY_DEEP]'s closure, leaves first.
fn deep_closure() -> Vec<&'static Directory> {
    vec![
        &*DIRECTORY_EMPTY,
        &*DIRECTORY_TWICE_EMPTY,
        &*DIRECTORY_WITH_KEEP,
        &*DIRECTORY_COMPLICATED,
        &*DIRECTORY_DEEP,
    ]
}

/// What `service` has stored under the digest of `directory`.
async fn stored(service: &dyn DirectoryService, directory: &Directory) -> Option<Directory> {
    service.get(&directory.digest()).await.expect("get")
}

/// Everything a recursive get of `root` yields, which must not fail.
async fn get_recursive(service: &dyn DirectoryService, root: &Directory) -> Vec<Directory> {
    service
        .get_recursive(&root.digest())
        .try_collect()
        .await
        .expect("get_recursive")
}

fn closure_error(result: Result<impl std::fmt::Debug, Error>) -> ClosureError {
    match result {
        Err(Error::Closure(e)) => e,
        other => panic!("expected a closure error, got {other:?}"),
    }
}

#[apply(directory_services)]
#[tokio::test]
async fn get_missing(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    assert_eq!(None, stored(&**service, &DIRECTORY_WITH_KEEP).await);
}

#[apply(directory_services)]
#[tokio::test]
async fn get_recursive_missing(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let got = get_recursive(&**service, &DIRECTORY_DEEP).await;
    assert_eq!(Vec::<Directory>::new(), got);
}

#[apply(directory_services)]
#[tokio::test]
async fn put_get_leaf(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let digest = service.put(DIRECTORY_WITH_KEEP.clone()).await.expect("put");
    assert_eq!(DIRECTORY_WITH_KEEP.digest(), digest);
    assert_eq!(
        Some(DIRECTORY_WITH_KEEP.clone()),
        service.get(&digest).await.expect("get")
    );
}

#[apply(directory_services)]
#[tokio::test]
async fn put_empty_directory(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let digest = service.put(Directory::new()).await.expect("put");
    assert_eq!(
        Some(Directory::new()),
        service.get(&digest).await.expect("get")
    );
}

/// A single put is a closure of one: a directory with children is refused.
#[apply(directory_services)]
#[tokio::test]
async fn put_with_children_refused(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    assert_eq!(
        ClosureError::UnknownChild {
            parent: DIRECTORY_COMPLICATED.digest(),
            name: name("keep"),
            child: DIRECTORY_WITH_KEEP.digest(),
        },
        closure_error(service.put(DIRECTORY_COMPLICATED.clone()).await)
    );
    assert_eq!(None, stored(&**service, &DIRECTORY_COMPLICATED).await);
}

#[apply(directory_services)]
#[tokio::test]
async fn put_closure_then_get_each(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let root = put_closure(&**service, &deep_closure())
        .await
        .expect("valid closure");
    assert_eq!(DIRECTORY_DEEP.digest(), root);
    for directory in deep_closure() {
        assert_eq!(Some(directory.clone()), stored(&**service, directory).await);
    }
}

/// Recursive gets stream the root, then breadth first, each directory once.
#[apply(directory_services)]
#[tokio::test]
async fn get_recursive_order(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    put_closure(&**service, &deep_closure())
        .await
        .expect("valid closure");
    let got = get_recursive(&**service, &DIRECTORY_DEEP).await;
    let expected: Vec<Directory> = [
        &*DIRECTORY_DEEP,
        &*DIRECTORY_COMPLICATED,
        &*DIRECTORY_TWICE_EMPTY,
        &*DIRECTORY_WITH_KEEP,
        &*DIRECTORY_EMPTY,
    ]
    .into_iter()
    .cloned()
    .collect();
    assert_eq!(expected, got);
}

/// A wide tree (more directories than one batch of the key-value
/// backends, with a directory shared by all) streams breadth first, each
/// directory once, every one equal to what was put.
#[apply(directory_services)]
#[tokio::test]
async fn get_recursive_wide_tree(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let shared = DIRECTORY_WITH_KEEP.clone();
    let children: Vec<Directory> = (0..2500u64)
        .map(|i| {
            Directory::try_from_iter([
                (
                    name("f"),
                    crate::fixtures::file(crate::fixtures::DUMMY_DIGEST, i),
                ),
                (name("shared"), crate::fixtures::directory_node(&shared)),
            ])
            .expect("valid directory")
        })
        .collect();
    let root = Directory::try_from_iter(children.iter().enumerate().map(|(i, child)| {
        (
            name(&format!("d{i:05}")),
            crate::fixtures::directory_node(child),
        )
    }))
    .expect("valid directory");
    let mut closure: Vec<&Directory> = vec![&shared];
    closure.extend(&children);
    closure.push(&root);
    put_closure(&**service, &closure)
        .await
        .expect("valid closure");

    let got = get_recursive(&**service, &root).await;
    let mut expected = vec![root.clone()];
    expected.extend(children.iter().cloned());
    expected.push(shared);
    assert!(got == expected, "{} directories, not in order", got.len());
    assert!(
        got.iter().all(|directory| directory.digest()
            == crate::B3Digest::of(&prost::Message::encode_to_vec(
                &crate::proto::Directory::from(directory)
            ))),
        "digests as computed from the entries"
    );
}

/// A recursive get of a subtree returns just that subtree.
#[apply(directory_services)]
#[tokio::test]
async fn get_recursive_subtree(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    put_closure(&**service, &deep_closure())
        .await
        .expect("valid closure");
    let got = get_recursive(&**service, &DIRECTORY_COMPLICATED).await;
    assert_eq!(
        vec![DIRECTORY_COMPLICATED.clone(), DIRECTORY_WITH_KEEP.clone()],
        got
    );
}

/// The same directory may be put twice in one closure.
#[apply(directory_services)]
#[tokio::test]
async fn put_duplicates(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let root = put_closure(
        &**service,
        &[&DIRECTORY_EMPTY, &DIRECTORY_EMPTY, &DIRECTORY_TWICE_EMPTY],
    )
    .await
    .expect("valid closure");
    assert_eq!(DIRECTORY_TWICE_EMPTY.digest(), root);
}

/// Putting a closure again is harmless.
#[apply(directory_services)]
#[tokio::test]
async fn put_closure_twice(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    for _ in 0..2 {
        assert_eq!(
            DIRECTORY_DEEP.digest(),
            put_closure(&**service, &deep_closure())
                .await
                .expect("valid closure")
        );
    }
}

/// A parent before its child is refused at once, and nothing of the
/// closure is stored.
#[apply(directory_services)]
#[tokio::test]
async fn putter_refuses_unknown_child(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let mut putter = service.put_multiple_start();
    putter
        .put(DIRECTORY_EMPTY.clone())
        .await
        .expect("unrelated leaf");
    assert_eq!(
        ClosureError::UnknownChild {
            parent: DIRECTORY_COMPLICATED.digest(),
            name: name("keep"),
            child: DIRECTORY_WITH_KEEP.digest(),
        },
        closure_error(putter.put(DIRECTORY_COMPLICATED.clone()).await)
    );
    drop(putter);
    assert_eq!(None, stored(&**service, &DIRECTORY_EMPTY).await);
}

/// A parent claiming a wrong size for its child is refused.
#[apply(directory_services)]
#[tokio::test]
async fn putter_refuses_size_lie(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let mut liar = Directory::new();
    liar.add(
        name("keep"),
        Node::Directory {
            digest: DIRECTORY_WITH_KEEP.digest(),
            size: DIRECTORY_WITH_KEEP.size() + 1,
        },
    )
    .expect("valid directory");

    let mut putter = service.put_multiple_start();
    putter.put(DIRECTORY_WITH_KEEP.clone()).await.expect("leaf");
    assert_eq!(
        ClosureError::SizeMismatch {
            parent: liar.digest(),
            name: name("keep"),
            child: DIRECTORY_WITH_KEEP.digest(),
            referenced: 2,
            actual: 1,
        },
        closure_error(putter.put(liar.clone()).await)
    );
    drop(putter);
    assert_eq!(None, stored(&**service, &DIRECTORY_WITH_KEEP).await);
}

/// Two unrelated trees are not one closure; nothing is stored.
#[apply(directory_services)]
#[tokio::test]
async fn putter_refuses_two_roots(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let mut roots = vec![DIRECTORY_EMPTY.digest(), DIRECTORY_WITH_KEEP.digest()];
    roots.sort();
    assert_eq!(
        ClosureError::MultipleRoots(roots),
        closure_error(put_closure(&**service, &[&DIRECTORY_EMPTY, &DIRECTORY_WITH_KEEP]).await)
    );
    assert_eq!(None, stored(&**service, &DIRECTORY_EMPTY).await);
}

#[apply(directory_services)]
#[tokio::test]
async fn putter_refuses_nothing(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    assert_eq!(
        ClosureError::Empty,
        closure_error(put_closure(&**service, &[]).await)
    );
}

/// A putter dropped without closing stores nothing, even when what it got
/// so far would be a complete closure.
#[apply(directory_services)]
#[tokio::test]
async fn putter_dropped_stores_nothing(#[case] addr: &str) {
    let Some(service) = open(addr).await else {
        return;
    };
    let mut putter = service.put_multiple_start();
    putter.put(DIRECTORY_WITH_KEEP.clone()).await.expect("leaf");
    drop(putter);
    // A later, unrelated closure goes through the same service normally.
    service.put(DIRECTORY_EMPTY.clone()).await.expect("put");
    assert_eq!(None, stored(&**service, &DIRECTORY_WITH_KEEP).await);
}

/// A closure committed by a persistent backend is still there after the
/// database is closed and opened again.
#[rstest]
#[case::redb("redb://{tmp}/directories.redb")]
#[case::sled("sled://{tmp}/directories.sled")]
#[tokio::test]
async fn persists_across_reopen(#[case] addr: &str) {
    let dir = TempDir::new().expect("temp dir");
    let addr = addr.replace("{tmp}", &dir.path().to_string_lossy());
    let service = from_addr(&addr).await.expect("open");
    put_closure(&*service, &deep_closure())
        .await
        .expect("valid closure");
    drop(service);

    let service = from_addr(&addr).await.expect("reopen");

    for directory in deep_closure() {
        assert_eq!(Some(directory.clone()), stored(&*service, directory).await);
    }
}

/// A directory of 100k entries, whose message is beyond tonic's default
/// 4 MiB limit, goes through every backend, the gRPC client and server
/// included ([crate::proto::MAX_MESSAGE_BYTES]): put alone, as the child of
/// a closure, and fetched singly and recursively.
#[apply(directory_services)]
#[tokio::test]
async fn put_get_100k_entries(#[case] addr: &str) {
    use prost::Message;

    let Some(service) = open(addr).await else {
        return;
    };
    let mut large = Directory::new();
    for i in 0..100_000 {
        large
            .add(
                name(&format!("entry-{i:010}")),
                crate::fixtures::file(crate::fixtures::DUMMY_DIGEST, i),
            )
            .expect("valid directory");
    }
    assert!(crate::proto::Directory::from(&large).encoded_len() > 4 * 1024 * 1024);
    let mut parent = Directory::new();
    parent
        .add(name("large"), crate::fixtures::directory_node(&large))
        .expect("valid directory");

    assert_eq!(
        large.digest(),
        service.put(large.clone()).await.expect("put")
    );
    assert_eq!(Some(large.clone()), stored(&**service, &large).await);
    put_closure(&**service, &[&large, &parent])
        .await
        .expect("valid closure");
    assert_eq!(
        vec![parent.clone(), large],
        get_recursive(&**service, &parent).await
    );
}
