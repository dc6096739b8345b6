//! tvix-glue: joins `tvix-eval` to the tvix store.
//!
//! The evaluator knows nothing of stores; this crate gives it one:
//!
//! - [TvixStoreIO] is the evaluator's file access (`EvalIO`) over the
//!   castore and store services: paths under the store directory are read
//!   from castore trees, others from the host, and interpolated host paths
//!   (`"${./src}"`) are imported into the store.
//! - [builtins] holds the builtins that need a store (`derivationStrict`,
//!   `toFile`, `path`, `filterSource`, `storePath`, the fetchers). They
//!   replace the pure evaluator's versions, which fail with "needs a
//!   store".
//! - [fetchers] downloads files and tarballs and reads local git
//!   repositories into the store, once per evaluation.
//! - [known_paths] memoises the derivations an evaluation instantiated.
//!
//! [configure] puts these together on an evaluator builder, and
//! [service_addrs] gives the store addresses a front end uses (in memory
//! unless told otherwise, so that evaluating writes nothing anywhere).
//!
//! The store is asynchronous (tokio) and the evaluator is not: store
//! operations block the evaluator's thread on a runtime handle, so
//! evaluation must run on a thread of its own, outside the runtime.

pub mod builtins;
pub mod fetchers;
pub mod known_paths;
mod nix_hash;
pub mod tvix_store_io;

use std::rc::Rc;

use tvix_eval::EvaluatorBuilder;
use tvix_store::utils::ServiceAddrs;

pub use nix_compat::store_path::STORE_DIR;
pub use tvix_store_io::TvixStoreIO;

/// The address of every service that is not given: an in-memory store,
/// which lives as long as the evaluation.
pub const DEFAULT_SERVICE_ADDR: &str = "memory://";

/// The addresses of the blob, directory and path info services, each
/// [DEFAULT_SERVICE_ADDR] unless given.
pub fn service_addrs(
    blob_service_addr: Option<String>,
    directory_service_addr: Option<String>,
    path_info_service_addr: Option<String>,
) -> ServiceAddrs {
    let or_default = |addr: Option<String>| addr.unwrap_or_else(|| DEFAULT_SERVICE_ADDR.into());
    ServiceAddrs {
        blob_service_addr: or_default(blob_service_addr),
        directory_service_addr: or_default(directory_service_addr),
        path_info_service_addr: or_default(path_info_service_addr),
    }
}

/// Gives `builder` the store behind `io`: its file access, and the
/// builtins that need a store in place of the pure ones.
pub fn configure(builder: EvaluatorBuilder, io: Rc<TvixStoreIO>) -> EvaluatorBuilder {
    builder
        .io(io.clone())
        .add_builtins(builtins::store_builtins(io))
}
