//! tvix-store's inputs: `PathInfo` messages, NARs (ingested and rendered
//! back) and reference-graph JSON.

use std::collections::HashSet;

use nix_compat::narinfo::NarInfo;
use prost::Message;
use sha2::{Digest, Sha256};
use tvix_castore::blobservice::MemoryBlobService;
use tvix_castore::directoryservice::MemoryDirectoryService;
use tvix_store::import::ReferenceGraph;
use tvix_store::nar::{NarSummary, calculate_nar, ingest_nar as ingest, write_nar};
use tvix_store::{PathInfo, proto};

use crate::runtime::block_on;

/// A `PathInfo` message: what is accepted converts to a message that is
/// accepted as the same PathInfo, and its narinfo parses. (A NAR size of 0
/// is accepted: it asks the gRPC server to fill in size and hash; a
/// narinfo with `NarSize: 0` is refused, as by CppNix, so that one is left
/// out.)
pub fn path_info(data: &[u8]) {
    let Ok(message) = proto::PathInfo::decode(data) else {
        return;
    };
    let Ok(path_info) = PathInfo::try_from(message) else {
        return;
    };
    let back = proto::PathInfo::from(path_info.clone());
    assert_eq!(PathInfo::try_from(back).as_ref(), Ok(&path_info));
    if path_info.nar_size == 0 {
        return;
    }
    let narinfo = path_info.to_narinfo("nar/fuzz.nar").to_string();
    if let Err(e) = NarInfo::parse(&narinfo) {
        panic!("the narinfo of an accepted PathInfo does not parse: {e}\n{narinfo}");
    }
}

/// A NAR, ingested into memory services: an accepted NAR has the size and
/// sha256 reported, renders back to exactly its bytes, and the renderer's
/// NAR calculation agrees.
pub fn ingest_nar(data: &[u8]) {
    block_on(async {
        let blobs = MemoryBlobService::new();
        let directories = MemoryDirectoryService::new();
        let Ok(ingested) = ingest(&blobs, &directories, data).await else {
            return;
        };
        let summary = NarSummary {
            nar_size: data.len() as u64,
            nar_sha256: Sha256::digest(data).into(),
        };
        assert_eq!(ingested.nar, summary);
        let mut rendered = Vec::new();
        write_nar(&mut rendered, &ingested.node, &blobs, &directories)
            .await
            .expect("an ingested NAR renders");
        assert!(
            rendered == data,
            "the rendered NAR differs from the ingested one"
        );
        let calculated = calculate_nar(&ingested.node, &blobs, &directories)
            .await
            .expect("an ingested NAR renders");
        assert_eq!(calculated, summary);
    });
}

/// Reference-graph JSON: an accepted graph lists each path once, after
/// every listed path it refers to (except itself).
pub fn reference_graph_json(data: &[u8]) {
    let Ok(graph) = ReferenceGraph::from_json(data) else {
        return;
    };
    let listed: HashSet<_> = graph.entries().iter().map(|e| &e.store_path).collect();
    let mut seen = HashSet::new();
    for entry in graph.entries() {
        for reference in &entry.references {
            assert!(
                reference == &entry.store_path
                    || !listed.contains(reference)
                    || seen.contains(reference),
                "{} is listed before its reference {reference}",
                entry.store_path
            );
        }
        assert!(
            seen.insert(&entry.store_path),
            "{} listed twice",
            entry.store_path
        );
    }
}
