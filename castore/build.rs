//! Compiles the castore protobuf definitions with `protox` (a protobuf
//! compiler written in Rust), so building needs no system `protoc`.
//!
//! Files are named relative to the workspace root, so other crates (tvix-store)
//! can import them as `castore/protos/castore.proto` with the same include
//! path.

use std::io::Result;

fn main() -> Result<()> {
    const PROTOS: [&str; 3] = [
        "castore/protos/castore.proto",
        "castore/protos/rpc_blobstore.proto",
        "castore/protos/rpc_directory.proto",
    ];
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=../{proto}");
    }

    let descriptors = protox::compile(PROTOS, [".."]).map_err(std::io::Error::other)?;

    tonic_prost_build::configure()
        .bytes(".")
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)
}
