//! The Nix daemon protocol's frame readers, on whatever a peer sends:
//! bytes packets (sync, async, streaming), strings, string lists, client
//! settings and the server side of the handshake.

use nix_compat::nix_daemon::{handshake, version::ProtocolVersion, worker_protocol};
use nix_compat::wire::{bytes, primitive, sync};
use tokio::io::AsyncReadExt;

use crate::runtime::block_on;

pub fn wire_read(data: &[u8]) {
    let _ = sync::read_bytes(&mut &data[..], 0..=1024);
    let _ = sync::read_strings(&mut &data[..], 0..=1024, 64 * 1024);

    block_on(async {
        let _ = bytes::read_bytes(&mut &data[..], 0..=1024).await;
        let _ = primitive::read_string(&mut &data[..], 0..=1024).await;
        let _ = primitive::read_strings(&mut &data[..], 0..=1024, 64 * 1024).await;
        if let Ok(mut reader) = bytes::BytesReader::new(data, 0..=1024).await {
            let mut out = Vec::new();
            let _ = reader.read_to_end(&mut out).await;
        }
        for minor in [10, 12, 34] {
            let _ = worker_protocol::read_client_settings(
                &mut &data[..],
                ProtocolVersion::from_parts(1, minor),
            )
            .await;
        }
        let mut conn = tokio::io::join(data, tokio::io::sink());
        let _ = handshake::server_handshake_client(
            &mut conn,
            "2.8.0",
            worker_protocol::Trust::NotTrusted,
        )
        .await;
    });
}
