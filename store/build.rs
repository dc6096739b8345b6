//! Compiles the store protobuf definitions with `protox`, so building needs
//! no system `protoc`.
//!
//! Files are named relative to the workspace root, the include root castore
//! uses too, so `import "castore/protos/castore.proto"` resolves. The castore
//! messages are not generated again: `extern_path` points them at
//! `tvix_castore::proto`, so both crates share one set of types.

use std::io::Result;

fn main() -> Result<()> {
    const PROTOS: [&str; 2] = [
        "store/protos/pathinfo.proto",
        "store/protos/rpc_pathinfo.proto",
    ];
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=../{proto}");
    }
    println!("cargo:rerun-if-changed=../castore/protos/castore.proto");

    let descriptors = protox::compile(PROTOS, [".."]).map_err(std::io::Error::other)?;

    tonic_prost_build::configure()
        .bytes(".")
        .extern_path(".tvix.castore.v1", "::tvix_castore::proto")
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)
}
