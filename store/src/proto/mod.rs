//! The protobuf messages and the gRPC service of `store/protos/`, generated
//! at build time. Castore messages inside them are `tvix_castore::proto`
//! types.
//!
//! Wire messages are untrusted: [crate::PathInfo]'s `TryFrom` is where a
//! `PathInfo` message is validated.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod generated {
    tonic::include_proto!("tvix.store.v1");
}
pub use generated::*;

mod path_info;
pub use path_info::ValidatePathInfoError;

mod grpc_pathinfoservice_wrapper;
pub use grpc_pathinfoservice_wrapper::GrpcPathInfoServiceWrapper;

#[cfg(test)]
mod tests;
