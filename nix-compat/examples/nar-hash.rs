//! Prints a path's NAR hash and size, and the store path `nix-store --add`
//! would give it.
//!
//!     cargo run --release -p nix-compat --example nar-hash -- PATH...

use std::path::Path;
use std::process::ExitCode;

use nix_compat::nixhash::{CAHash, NixHash};
use nix_compat::store_path::build_ca_path;

mod common {
    pub mod dump_path;
}
use common::dump_path::{HashingSink, dump_path};

/// File contents travel in buffers freed on another thread than the one
/// that filled them; mimalloc reuses that memory instead of returning it to
/// the kernel and faulting fresh pages in for every file, as glibc does for
/// buffers above its mmap threshold.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() || paths.iter().any(|p| p == "--help" || p == "-h") {
        eprintln!(
            "usage: nar-hash PATH...\n\nPrints each path's NAR sha256 and size, and the store path `nix-store --add PATH` gives it."
        );
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for path in paths {
        if let Err(e) = print_path(Path::new(&path)) {
            eprintln!("nar-hash: {path}: {e}");
            status = ExitCode::FAILURE;
        }
    }
    status
}

fn print_path(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut sink = HashingSink::default();
    dump_path(path, &mut sink)?;
    let (nar_sha256, nar_size) = sink.finish();
    let nar_hash = NixHash::Sha256(nar_sha256);
    // `nix-store --add` names the store path after the last component.
    let name = std::fs::canonicalize(path)?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or("the root directory has no name to give a store path")?;
    let store_path = build_ca_path(
        &name,
        &CAHash::Nar(nar_hash.clone()),
        [] as [&str; 0],
        false,
    )?;
    println!("nar hash:   {}", nar_hash.to_nix_nixbase32_string());
    println!("nar size:   {nar_size}");
    println!("store path: {}", store_path.to_absolute_path());
    Ok(())
}
