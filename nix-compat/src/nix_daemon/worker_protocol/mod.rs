//! The vocabulary of the worker protocol: magic numbers, our protocol
//! version, the log message codes a daemon interleaves with its replies,
//! the operations a client can ask for, and the client settings message.
//!
//! The values are those of Nix 2.8's `worker-protocol.hh`. The magic
//! numbers, version and `STDERR_*` codes were checked against Nix 2.8.0
//! itself: the handshake and error replies of `nix-daemon --stdio`, and the
//! little-endian byte patterns of every code in its `libnixstore.so`.

mod client_settings;
mod operation;
mod trust;

pub use client_settings::{ClientSettings, MAX_SETTING_SIZE, Verbosity};
#[cfg(feature = "async")]
pub use client_settings::{read_client_settings, write_client_settings};
pub use operation::{Operation, UnknownOperation};
pub use trust::Trust;

use super::version::ProtocolVersion;

/// The first thing a client sends ("cxin" in little-endian bytes).
pub const WORKER_MAGIC_1: u64 = 0x6e69_7863;
/// The daemon's answer to [`WORKER_MAGIC_1`] ("oixd").
pub const WORKER_MAGIC_2: u64 = 0x6478_696f;

/// The newest protocol version we speak: that of Nix 2.8.
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion::from_parts(1, 34);

/// A log line for the client to print.
pub const STDERR_NEXT: u64 = 0x6f6c_6d67;
/// The daemon asks the client for (more) data of a source it is sending.
pub const STDERR_READ: u64 = 0x6461_7461;
/// Data for a sink on the client side.
pub const STDERR_WRITE: u64 = 0x6461_7416;
/// The operation's work is done; its reply follows.
pub const STDERR_LAST: u64 = 0x616c_7473;
/// The operation failed; an error description follows.
pub const STDERR_ERROR: u64 = 0x6378_7470;
/// An activity (a build, a download, …) starts.
pub const STDERR_START_ACTIVITY: u64 = 0x5354_5254;
/// An activity ends.
pub const STDERR_STOP_ACTIVITY: u64 = 0x5354_4f50;
/// A result (progress, a build log line, …) of a running activity.
pub const STDERR_RESULT: u64 = 0x5253_4c54;

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    /// The codes are ASCII tags; their little-endian bytes, as they appear
    /// on the wire and in a hex dump of a daemon session.
    #[rstest]
    #[case::worker_magic_1(WORKER_MAGIC_1, b"cxin")]
    #[case::worker_magic_2(WORKER_MAGIC_2, b"oixd")]
    #[case::next(STDERR_NEXT, b"gmlo")]
    #[case::read(STDERR_READ, b"atad")]
    #[case::write(STDERR_WRITE, b"\x16tad")]
    #[case::last(STDERR_LAST, b"stla")]
    #[case::error(STDERR_ERROR, b"ptxc")]
    #[case::start_activity(STDERR_START_ACTIVITY, b"TRTS")]
    #[case::stop_activity(STDERR_STOP_ACTIVITY, b"POTS")]
    #[case::result(STDERR_RESULT, b"TLSR")]
    fn code_spelling(#[case] code: u64, #[case] tag: &[u8; 4]) {
        let mut wire = [0; 8];
        wire[..4].copy_from_slice(tag);
        assert_eq!(code.to_le_bytes(), wire);
    }

    #[test]
    fn protocol_version_is_nix_2_8s() {
        assert_eq!(u64::from(PROTOCOL_VERSION), 0x122);
    }
}
