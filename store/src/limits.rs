//! [ServeLimits]: what one client may make `tvix-store daemon` spend, as
//! its flags, each with a default far beyond real store paths and far
//! below what would exhaust a machine.

use tvix_castore::proto::{
    DEFAULT_MAX_DIRECTORY_ENTRIES, DEFAULT_MAX_DIRECTORY_PUT_BYTES, MAX_MESSAGE_BYTES,
};

use crate::nar::RenderLimits;

/// Requests handled at once by default: enough for many busy clients on a
/// few cores, few enough that their buffers (a render holds its directory
/// closure, a Put its directories) stay within memory.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;

/// The daemon's limits, flattened into its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct ServeLimits {
    /// Largest gRPC message a client may send, in bytes (one directory,
    /// PathInfo or blob chunk); a larger one is refused.
    #[arg(long, default_value_t = MAX_MESSAGE_BYTES)]
    pub max_request_bytes: usize,
    /// Most requests handled at once, over all connections; more wait
    /// until one is done.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_concurrent_requests: usize,
    /// Most entries one directory of a directory Put may have; a larger
    /// one is refused with INVALID_ARGUMENT.
    #[arg(long, default_value_t = DEFAULT_MAX_DIRECTORY_ENTRIES)]
    pub max_directory_entries: usize,
    /// Most bytes the directories of one directory Put may take while
    /// the server holds them to check their closure; a larger Put is
    /// refused with RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = DEFAULT_MAX_DIRECTORY_PUT_BYTES)]
    pub max_directory_put_bytes: u64,
    /// Bounds on the NARs rendered to check a PathInfo Put and for
    /// CalculateNar.
    #[command(flatten)]
    pub render: RenderLimits,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: MAX_MESSAGE_BYTES,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_directory_entries: DEFAULT_MAX_DIRECTORY_ENTRIES,
            max_directory_put_bytes: DEFAULT_MAX_DIRECTORY_PUT_BYTES,
            render: RenderLimits::default(),
        }
    }
}
