use std::collections::BTreeMap;

use rstest::rstest;

use super::*;

fn combined(near: &str, far: &str) -> BlobServiceConfig {
    BlobServiceConfig::Combined {
        near: near.into(),
        far: far.into(),
    }
}

fn blobs(entries: &[(&str, BlobServiceConfig)]) -> BTreeMap<String, BlobServiceConfig> {
    entries
        .iter()
        .map(|(name, config)| (name.to_string(), config.clone()))
        .collect()
}

/// Checking refuses dangling references and cycles, naming where they are.
#[rstest]
#[case::leaves_only(&[("default", BlobServiceConfig::Memory)], None)]
#[case::combined(
    &[("a", BlobServiceConfig::Memory), ("b", BlobServiceConfig::Memory), ("default", combined("a", "b"))],
    None
)]
#[case::shared_leaf(
    &[("a", BlobServiceConfig::Memory), ("x", combined("a", "a")), ("default", combined("x", "a"))],
    None
)]
#[case::dangling(
    &[("a", BlobServiceConfig::Memory), ("default", combined("a", "s4"))],
    Some("blobservices.default.far: no service named \"s4\" in blobservices")
)]
#[case::self_cycle(
    &[("a", BlobServiceConfig::Memory), ("default", combined("default", "a"))],
    Some("blobservices.default.near: reference cycle blobservices.default -> blobservices.default")
)]
#[case::long_cycle(
    &[("a", combined("b", "b")), ("b", combined("c", "c")), ("c", combined("c2", "a")), ("c2", BlobServiceConfig::Memory)],
    Some("blobservices.a.near: reference cycle blobservices.a -> blobservices.b -> blobservices.c -> blobservices.a")
)]
fn check(#[case] entries: &[(&str, BlobServiceConfig)], #[case] expected: Option<&str>) {
    let result = CastoreComposition::new(blobs(entries), BTreeMap::new());
    assert_eq!(
        expected.map(str::to_owned),
        result.err().map(|e| e.to_string())
    );
}

/// An entry named by two others is built once: both see the same service.
#[tokio::test]
async fn shared_entries_are_built_once() {
    let composition = CastoreComposition::new(
        blobs(&[
            ("cache", BlobServiceConfig::Memory),
            ("far", BlobServiceConfig::Memory),
            ("default", combined("cache", "far")),
        ]),
        BTreeMap::new(),
    )
    .expect("valid");
    let default = composition.blob_service("default").await.expect("builds");
    let far = composition.blob_service("far").await.expect("builds");
    let digest = crate::blobservice::tests::put(&*default, b"shared").await;
    assert!(far.has(&digest).await.expect("has"), "writes reach far");
    assert!(Arc::ptr_eq(
        &far,
        &composition.blob_service("far").await.expect("cached")
    ));
}

#[tokio::test]
async fn undefined_and_failing_entries_are_named() {
    let composition = CastoreComposition::new(
        blobs(&[(
            "default",
            BlobServiceConfig::ObjectStore {
                url: "gopher://x".into(),
            },
        )]),
        BTreeMap::new(),
    )
    .expect("valid");
    let error = |result: Result<Arc<dyn BlobService>, CompositionError>| {
        result.err().expect("fails").to_string()
    };
    assert_eq!(
        "blobservices.other: not defined",
        error(composition.blob_service("other").await)
    );
    assert_eq!(
        "blobservices.default: \"gopher://x\": unknown object store scheme \"gopher\": expected memory, file or s3",
        error(composition.blob_service("default").await)
    );
}

/// A `cache` of directories answers from `far` and fills `near`, even an
/// `lru` one smaller than the closure.
#[rstest]
#[case::memory(DirectoryServiceConfig::Memory)]
#[case::small_lru(DirectoryServiceConfig::Lru { capacity: std::num::NonZeroUsize::MIN })]
#[tokio::test]
async fn directory_cache_reads_through(#[case] near: DirectoryServiceConfig) {
    use crate::fixtures::{DIRECTORY_COMPLICATED, DIRECTORY_WITH_KEEP};
    use futures::TryStreamExt;

    let composition = CastoreComposition::new(
        BTreeMap::new(),
        [
            ("near".to_owned(), near),
            ("far".to_owned(), DirectoryServiceConfig::Memory),
            (
                "default".to_owned(),
                DirectoryServiceConfig::Cache {
                    near: "near".into(),
                    far: "far".into(),
                },
            ),
        ]
        .into(),
    )
    .expect("valid");
    let default = composition
        .directory_service("default")
        .await
        .expect("builds");
    let near = composition.directory_service("near").await.expect("builds");
    let mut putter = default.put_multiple_start();
    putter.put(DIRECTORY_WITH_KEEP.clone()).await.expect("put");
    putter
        .put(DIRECTORY_COMPLICATED.clone())
        .await
        .expect("put");
    let root = putter.close().await.expect("close");
    assert_eq!(
        None,
        near.get(&root).await.expect("get"),
        "writes skip near"
    );

    let closure: Vec<_> = default
        .get_recursive(&root)
        .try_collect()
        .await
        .expect("get");

    assert_eq!(
        vec![DIRECTORY_COMPLICATED.clone(), DIRECTORY_WITH_KEEP.clone()],
        closure
    );
    assert_eq!(
        Some(DIRECTORY_WITH_KEEP.clone()),
        near.get(&DIRECTORY_WITH_KEEP.digest()).await.expect("get"),
        "reads filled near"
    );
}
