//! The server side of the worker protocol handshake.
//!
//! Byte for byte what Nix 2.8's daemon does when a client connects, from the
//! magic numbers to the `STDERR_LAST` that tells the client the daemon is
//! ready for its first operation. Each step is gated on the negotiated
//! protocol version; the comments say which Nix release added it and why it
//! is (still) on the wire.

use std::cmp::min;
use std::io;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::version::{ProtocolVersion, ProtocolVersionOutOfRange};
use super::worker_protocol::{
    PROTOCOL_VERSION, STDERR_LAST, Trust, WORKER_MAGIC_1, WORKER_MAGIC_2,
};
use crate::wire::primitive::{read_bool, read_u64, write_string, write_u64};

/// The oldest client version Nix 2.8's daemon (and we) accept.
pub const OLDEST_CLIENT_VERSION: ProtocolVersion = ProtocolVersion::from_parts(1, 10);

/// From here on the client says whether it sends an (obsolete) CPU affinity.
const CPU_AFFINITY_SINCE: ProtocolVersion = ProtocolVersion::from_parts(1, 14);
/// From here on the client sends the (obsolete) `reserveSpace` flag.
const RESERVE_SPACE_SINCE: ProtocolVersion = ProtocolVersion::from_parts(1, 11);
/// From here on the daemon tells the client its Nix version.
const NIX_VERSION_SINCE: ProtocolVersion = ProtocolVersion::from_parts(1, 33);
/// From here on the daemon tells the client whether it is trusted.
const TRUST_SINCE: ProtocolVersion = ProtocolVersion::from_parts(1, 35);

/// Why a handshake was refused.
///
/// Returned inside an [`io::Error`]; reach it with
/// `err.get_ref().and_then(|e| e.downcast_ref::<HandshakeError>())`.
#[derive(Debug, Error, PartialEq, Eq, Clone, Copy)]
pub enum HandshakeError {
    /// The peer did not open with [`WORKER_MAGIC_1`]: it is not a Nix client.
    #[error("client opened with {0:#x}, not the worker protocol magic")]
    WrongClientMagic(u64),
    #[error("client sent an invalid protocol version: {0}")]
    InvalidClientVersion(#[from] ProtocolVersionOutOfRange),
    /// Every protocol version so far has major number 1; Nix masks the
    /// major away, but a client announcing another one speaks something we
    /// cannot know.
    #[error("client speaks protocol {0}, but only major version 1 exists")]
    UnsupportedMajor(ProtocolVersion),
    #[error(
        "client speaks protocol {0}, older than the oldest we accept ({OLDEST_CLIENT_VERSION})"
    )]
    ClientTooOld(ProtocolVersion),
}

impl From<HandshakeError> for io::Error {
    fn from(err: HandshakeError) -> Self {
        let kind = match err {
            HandshakeError::WrongClientMagic(_) | HandshakeError::InvalidClientVersion(_) => {
                io::ErrorKind::InvalidData
            }
            HandshakeError::UnsupportedMajor(_) | HandshakeError::ClientTooOld(_) => {
                io::ErrorKind::Unsupported
            }
        };
        io::Error::new(kind, err)
    }
}

/// Performs the server side of the handshake on a fresh connection and
/// returns the protocol version both sides now speak: the lower of the
/// client's and ours ([`PROTOCOL_VERSION`], 1.34).
///
/// `nix_version` is what we claim to be (clients show it, e.g. in
/// `nix store ping`). `trusted` is sent only from protocol 1.35 on, which we
/// never negotiate while we speak 1.34; it is taken anyway so that the
/// handshake stays correct when our version is raised.
pub async fn server_handshake_client<RW>(
    conn: &mut RW,
    nix_version: &str,
    trusted: Trust,
) -> io::Result<ProtocolVersion>
where
    RW: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    handshake_up_to(conn, nix_version, trusted, PROTOCOL_VERSION).await
}

/// The handshake of a server speaking at most `server_version`.
async fn handshake_up_to<RW>(
    conn: &mut RW,
    nix_version: &str,
    trusted: Trust,
    server_version: ProtocolVersion,
) -> io::Result<ProtocolVersion>
where
    RW: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    // 1. The client opens with its magic number; anything else is not a
    // Nix client, and Nix hangs up ("protocol mismatch") without a reply.
    let magic = read_u64(conn).await?;
    if magic != WORKER_MAGIC_1 {
        return Err(HandshakeError::WrongClientMagic(magic).into());
    }

    // 2. We answer with ours and the newest version we speak. The client
    // waits for both before it sends anything else, so flush.
    write_u64(conn, WORKER_MAGIC_2).await?;
    write_u64(conn, server_version.into()).await?;
    conn.flush().await?;

    // 3. The client's version. Nix 2.8 refuses clients older than 1.10
    // here, after having sent its own version, and so do we.
    let client_version =
        ProtocolVersion::try_from(read_u64(conn).await?).map_err(HandshakeError::from)?;
    if client_version.major() != OLDEST_CLIENT_VERSION.major() {
        return Err(HandshakeError::UnsupportedMajor(client_version).into());
    }
    if client_version < OLDEST_CLIENT_VERSION {
        return Err(HandshakeError::ClientTooOld(client_version).into());
    }

    // Both sides gate every later step on the lower of the two versions.
    // (Nix 2.8's daemon gates on the client's version alone; for the steps
    // below 1.35 that is the same, since a client newer than the daemon
    // clears all of them either way.)
    let version = min(client_version, server_version);

    // 4. Clients from 1.14 on say whether they want the daemon pinned to a
    // CPU (a long-dropped feature): a flag, and the CPU if it is set.
    // Nix 2.8 reads and ignores both; so do we.
    if version >= CPU_AFFINITY_SINCE && read_bool(conn).await? {
        let _cpu = read_u64(conn).await?;
    }

    // 5. Clients from 1.11 on send the obsolete `reserveSpace` flag; Nix
    // 2.8's client always sends false and its daemon ignores it.
    if version >= RESERVE_SPACE_SINCE {
        let _reserve_space = read_bool(conn).await?;
    }

    // 6. From 1.33 on, the daemon tells the client its Nix version.
    if version >= NIX_VERSION_SINCE {
        write_string(conn, nix_version).await?;
    }

    // 7. From 1.35 on (newer Nix than 2.8), whether the client is trusted.
    // Not reached while PROTOCOL_VERSION is 1.34; tested with a server
    // claiming 1.35.
    if version >= TRUST_SINCE {
        write_u64(conn, trusted.to_wire()).await?;
    }

    // 8. Nix runs the start of the session as "work" whose log messages go
    // to the client (e.g. an error if the store cannot be opened); the
    // closing STDERR_LAST tells the client the daemon is ready.
    write_u64(conn, STDERR_LAST).await?;
    conn.flush().await?;

    Ok(version)
}

#[cfg(test)]
mod tests {
    //! Scripted clients against our server, with the exact bytes expected
    //! each way. The server's replies are those of Nix 2.8.0's daemon; for
    //! example, for a 1.34 client:
    //!
    //! ```text
    //! (printf 'cxin\0\0\0\0\x22\x01\0\0\0\0\0\0'; printf '\0%.0s' $(seq 16); sleep 1) \
    //!     | nix-daemon --stdio | xxd
    //! 6f69 7864 0000 0000 2201 0000 0000 0000  oixd....".......
    //! 0500 0000 0000 0000 322e 382e 3000 0000  ........2.8.0...
    //! 7374 6c61 0000 0000                      stla....
    //! ```
    //!
    //! (The `sleep` keeps stdin open: the daemon treats a hangup as an
    //! interrupt.) Clients of 1.10, 1.21 and 1.35 got the same replies, minus
    //! the version string below 1.33 and with nothing extra at 1.35.

    use std::io;

    use rstest::rstest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    fn le(n: u64) -> Vec<u8> {
        n.to_le_bytes().to_vec()
    }

    const SERVER_HELLO: &[u8] = b"oixd\0\0\0\0\x22\x01\0\0\0\0\0\0";
    const NIX_VERSION_2_8_0: &[u8] = b"\x05\0\0\0\0\0\0\x002.8.0\0\0\0";
    const STDERR_LAST_BYTES: &[u8] = b"stla\0\0\0\0";

    /// What a client sent after the greeting, and what the server wrote in
    /// reply to all of it.
    struct Transcript {
        /// The server's first 16 bytes, read before the client says more.
        hello: Vec<u8>,
        /// Everything the server wrote after that, until it hung up.
        rest: Vec<u8>,
        outcome: io::Result<ProtocolVersion>,
    }

    /// Runs a scripted client against `handshake_up_to`: it sends the
    /// client magic, reads the server's greeting, sends `after_hello`, and
    /// reads whatever the server writes until it is done.
    async fn script(
        magic: u64,
        after_hello: Vec<u8>,
        server_version: ProtocolVersion,
        trusted: Trust,
    ) -> Transcript {
        let (mut client, mut server) = tokio::io::duplex(1024);
        let server_task = async move {
            let outcome = handshake_up_to(&mut server, "2.8.0", trusted, server_version).await;
            drop(server);
            outcome
        };
        let client_task = async move {
            let mut hello = Vec::new();
            client.write_all(&le(magic)).await.expect("send magic");
            (&mut client)
                .take(16)
                .read_to_end(&mut hello)
                .await
                .expect("read hello");
            // The server may have hung up already; what it got is enough.
            let _ = client.write_all(&after_hello).await;
            let mut rest = Vec::new();
            drain(&mut client, &mut rest).await;
            (hello, rest)
        };
        let (outcome, (hello, rest)) = tokio::join!(server_task, client_task);
        Transcript {
            hello,
            rest,
            outcome,
        }
    }

    async fn drain(client: &mut DuplexStream, out: &mut Vec<u8>) {
        client.read_to_end(out).await.expect("read rest");
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn v(minor: u8) -> ProtocolVersion {
        ProtocolVersion::from_parts(1, minor)
    }

    fn handshake_error(err: &io::Error) -> Option<HandshakeError> {
        err.get_ref()?.downcast_ref::<HandshakeError>().copied()
    }

    #[rstest]
    // 1.10: no CPU affinity, no reserveSpace, no version string.
    #[case::v1_10(le(0x10a), v(10), STDERR_LAST_BYTES.to_vec())]
    // 1.11 adds reserveSpace.
    #[case::v1_11(cat(&[&le(0x10b), &le(0)]), v(11), STDERR_LAST_BYTES.to_vec())]
    // 1.21: an affinity flag (unset) and reserveSpace.
    #[case::v1_21(cat(&[&le(0x115), &le(0), &le(0)]), v(21), STDERR_LAST_BYTES.to_vec())]
    // An old client pinning to CPU 3: the extra number is consumed.
    #[case::v1_21_with_cpu_affinity(cat(&[&le(0x115), &le(1), &le(3), &le(0)]), v(21),
        STDERR_LAST_BYTES.to_vec())]
    // 1.34, Nix 2.8 itself: the version string comes before STDERR_LAST.
    #[case::v1_34(cat(&[&le(0x122), &le(0), &le(0)]), v(34),
        cat(&[NIX_VERSION_2_8_0, STDERR_LAST_BYTES]))]
    // A newer client is talked down to 1.34 and gets no trust status.
    #[case::v1_35_negotiated_down(cat(&[&le(0x123), &le(0), &le(0)]), v(34),
        cat(&[NIX_VERSION_2_8_0, STDERR_LAST_BYTES]))]
    #[tokio::test]
    async fn handshake(
        #[case] client_sends: Vec<u8>,
        #[case] negotiated: ProtocolVersion,
        #[case] server_rest: Vec<u8>,
    ) {
        let t = script(
            WORKER_MAGIC_1,
            client_sends,
            PROTOCOL_VERSION,
            Trust::Trusted,
        )
        .await;
        assert_eq!(t.outcome.expect("handshake"), negotiated);
        assert_eq!(t.hello, SERVER_HELLO);
        assert_eq!(t.rest, server_rest);
    }

    /// The 1.35 step, exercised by a server that claims 1.35: the trust
    /// status follows the version string.
    #[rstest]
    #[case::trusted(Trust::Trusted, 1)]
    #[case::not_trusted(Trust::NotTrusted, 2)]
    #[tokio::test]
    async fn trust_sent_from_1_35(#[case] trusted: Trust, #[case] wire: u64) {
        let client_sends = cat(&[&le(0x123), &le(0), &le(0)]);
        let t = script(WORKER_MAGIC_1, client_sends, v(35), trusted).await;
        assert_eq!(t.outcome.expect("handshake"), v(35));
        assert_eq!(t.hello, b"oixd\0\0\0\0\x23\x01\0\0\0\0\0\0");
        assert_eq!(
            t.rest,
            cat(&[NIX_VERSION_2_8_0, &le(wire), STDERR_LAST_BYTES])
        );
    }

    #[rstest]
    #[case::too_old(
        le(0x109),
        HandshakeError::ClientTooOld(v(9)),
        io::ErrorKind::Unsupported
    )]
    #[case::major_zero(
        le(0x022),
        HandshakeError::UnsupportedMajor(ProtocolVersion::from_parts(0, 34)),
        io::ErrorKind::Unsupported
    )]
    #[case::major_two(
        le(0x200),
        HandshakeError::UnsupportedMajor(ProtocolVersion::from_parts(2, 0)),
        io::ErrorKind::Unsupported
    )]
    #[case::out_of_range(
        le(0x1_0122),
        HandshakeError::InvalidClientVersion(ProtocolVersionOutOfRange(0x1_0122)),
        io::ErrorKind::InvalidData
    )]
    #[tokio::test]
    async fn client_version_refused(
        #[case] client_sends: Vec<u8>,
        #[case] expected: HandshakeError,
        #[case] kind: io::ErrorKind,
    ) {
        let t = script(
            WORKER_MAGIC_1,
            client_sends,
            PROTOCOL_VERSION,
            Trust::Trusted,
        )
        .await;
        let err = t.outcome.expect_err("refused");
        assert_eq!((handshake_error(&err), err.kind()), (Some(expected), kind));
        // Like Nix: our greeting went out, then nothing more.
        assert_eq!(t.hello, SERVER_HELLO);
        assert_eq!(t.rest, b"");
    }

    #[tokio::test]
    async fn wrong_magic_gets_no_reply() {
        let t = script(0x1234, Vec::new(), PROTOCOL_VERSION, Trust::Trusted).await;
        let err = t.outcome.expect_err("refused");
        assert_eq!(
            (handshake_error(&err), err.kind()),
            (
                Some(HandshakeError::WrongClientMagic(0x1234)),
                io::ErrorKind::InvalidData
            )
        );
        assert_eq!((t.hello, t.rest), (Vec::new(), Vec::new()));
    }

    /// A client that hangs up anywhere in the handshake is an error, not a
    /// hang or a panic.
    #[tokio::test]
    async fn client_hanging_up_anywhere() {
        let full = cat(&[&le(WORKER_MAGIC_1), &le(0x115), &le(1), &le(3), &le(0)]);
        for end in 0..full.len() {
            let (mut client, mut server) = tokio::io::duplex(1024);
            client.write_all(&full[..end]).await.expect("send");
            client.shutdown().await.expect("hang up");
            let err = handshake_up_to(&mut server, "2.8.0", Trust::Trusted, PROTOCOL_VERSION)
                .await
                .expect_err("incomplete handshake");
            assert_eq!(
                err.kind(),
                io::ErrorKind::UnexpectedEof,
                "after {end} bytes"
            );
        }
    }
}
