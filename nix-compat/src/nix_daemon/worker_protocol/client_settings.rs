//! [`ClientSettings`]: the body of a `SetOptions` operation.
//!
//! A client sends its settings right after the handshake, before any real
//! work. The message is a fixed run of `u64`s (some of them long obsolete,
//! still sent and ignored) followed, since protocol 1.12, by the settings
//! the user overrode, as name/value strings.

#[cfg(feature = "async")]
pub use async_io::{read_client_settings, write_client_settings};

/// The longest setting name or value we accept. Nix sets no limit; values
/// are short lists (substituters, keys, paths), far below this.
pub const MAX_SETTING_SIZE: usize = 1 << 20;

/// How much Nix logs, from only errors to everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verbosity {
    Error = 0,
    Warn = 1,
    Notice = 2,
    Info = 3,
    Talkative = 4,
    Chatty = 5,
    Debug = 6,
    Vomit = 7,
}

impl Verbosity {
    /// Reads the wire number. Each `-v` raises Nix's verbosity by one without
    /// a ceiling, so clients may send more than [`Verbosity::Vomit`]; Nix
    /// only ever compares levels with `>=`, so any such value means
    /// `Vomit`.
    pub const fn from_wire(value: u64) -> Self {
        match value {
            0 => Verbosity::Error,
            1 => Verbosity::Warn,
            2 => Verbosity::Notice,
            3 => Verbosity::Info,
            4 => Verbosity::Talkative,
            5 => Verbosity::Chatty,
            6 => Verbosity::Debug,
            _ => Verbosity::Vomit,
        }
    }

    /// The wire number of this level.
    pub const fn to_wire(self) -> u64 {
        self as u64
    }
}

/// What a client asks the daemon to use for its operations.
///
/// The obsolete fields of the message (`useBuildHook`, `logType`,
/// `printBuildTrace`) are read and dropped, as Nix 2.8's daemon does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    pub keep_failed: bool,
    pub keep_going: bool,
    pub try_fallback: bool,
    pub verbosity: Verbosity,
    pub max_build_jobs: u64,
    pub max_silent_time: u64,
    /// Sent, oddly, as a verbosity: [`Verbosity::Error`] means verbose,
    /// anything else (Nix sends [`Verbosity::Vomit`]) means quiet.
    pub verbose_build: bool,
    pub build_cores: u64,
    pub use_substitutes: bool,
    /// Settings the user overrode, in the order sent. Nix 2.8's daemon keeps
    /// the first value of a name sent twice and decides per setting whether
    /// an untrusted client may change it; both are left to the caller.
    pub overrides: Vec<(String, String)>,
}

#[cfg(feature = "async")]
mod async_io {
    use std::io;

    use tokio::io::{AsyncRead, AsyncWrite};

    use super::{ClientSettings, MAX_SETTING_SIZE, Verbosity};
    use crate::nix_daemon::version::ProtocolVersion;
    use crate::wire::primitive::{
        read_bool, read_string, read_u64, write_bool, write_string, write_u64,
    };

    /// The first version whose `SetOptions` carries overrides.
    const OVERRIDES_SINCE: ProtocolVersion = ProtocolVersion::from_parts(1, 12);

    /// What Nix 2.8's client sends for the obsolete `useBuildHook`.
    const OBSOLETE_USE_BUILD_HOOK: bool = true;

    /// Reads the body of a `SetOptions` operation (everything after the
    /// operation number) from a client speaking `version`.
    pub async fn read_client_settings<R>(
        reader: &mut R,
        version: ProtocolVersion,
    ) -> io::Result<ClientSettings>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        let keep_failed = read_bool(reader).await?;
        let keep_going = read_bool(reader).await?;
        let try_fallback = read_bool(reader).await?;
        let verbosity = Verbosity::from_wire(read_u64(reader).await?);
        let max_build_jobs = read_u64(reader).await?;
        let max_silent_time = read_u64(reader).await?;
        let _use_build_hook = read_u64(reader).await?;
        let verbose_build = read_u64(reader).await? == Verbosity::Error.to_wire();
        let _log_type = read_u64(reader).await?;
        let _print_build_trace = read_u64(reader).await?;
        let build_cores = read_u64(reader).await?;
        let use_substitutes = read_bool(reader).await?;

        let mut overrides = Vec::new();
        if version >= OVERRIDES_SINCE {
            // Not trusted for allocation: each pair costs the peer 16 bytes.
            let count = read_u64(reader).await?;
            for _ in 0..count {
                let name = read_string(reader, 0..=MAX_SETTING_SIZE).await?;
                let value = read_string(reader, 0..=MAX_SETTING_SIZE).await?;
                overrides.push((name, value));
            }
        }

        Ok(ClientSettings {
            keep_failed,
            keep_going,
            try_fallback,
            verbosity,
            max_build_jobs,
            max_silent_time,
            verbose_build,
            build_cores,
            use_substitutes,
            overrides,
        })
    }

    /// Writes the body of a `SetOptions` operation as Nix 2.8's client does,
    /// for a daemon speaking `version`.
    ///
    /// Before protocol 1.12 there is no room for overrides; like Nix, they are
    /// then not sent.
    pub async fn write_client_settings<W>(
        writer: &mut W,
        settings: &ClientSettings,
        version: ProtocolVersion,
    ) -> io::Result<()>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        write_bool(writer, settings.keep_failed).await?;
        write_bool(writer, settings.keep_going).await?;
        write_bool(writer, settings.try_fallback).await?;
        write_u64(writer, settings.verbosity.to_wire()).await?;
        write_u64(writer, settings.max_build_jobs).await?;
        write_u64(writer, settings.max_silent_time).await?;
        write_bool(writer, OBSOLETE_USE_BUILD_HOOK).await?;
        let verbose_build = if settings.verbose_build {
            Verbosity::Error
        } else {
            Verbosity::Vomit
        };
        write_u64(writer, verbose_build.to_wire()).await?;
        write_u64(writer, 0).await?; // obsolete logType
        write_u64(writer, 0).await?; // obsolete printBuildTrace
        write_u64(writer, settings.build_cores).await?;
        write_bool(writer, settings.use_substitutes).await?;

        if version >= OVERRIDES_SINCE {
            write_u64(writer, settings.overrides.len() as u64).await?;
            for (name, value) in &settings.overrides {
                write_string(writer, name).await?;
                write_string(writer, value).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::Verbosity;

    #[rstest]
    #[case::error(0, Verbosity::Error)]
    #[case::notice(2, Verbosity::Notice)]
    #[case::vomit(7, Verbosity::Vomit)]
    #[case::beyond_vomit(8, Verbosity::Vomit)]
    #[case::far_beyond(u64::MAX, Verbosity::Vomit)]
    fn verbosity_from_wire(#[case] wire: u64, #[case] expected: Verbosity) {
        assert_eq!(Verbosity::from_wire(wire), expected);
    }

    #[test]
    fn verbosity_round_trips() {
        for wire in 0..=7 {
            assert_eq!(Verbosity::from_wire(wire).to_wire(), wire);
        }
    }
}

#[cfg(all(test, feature = "async"))]
mod async_tests {
    use std::io;

    use proptest::prelude::*;
    use rstest::rstest;

    use super::{ClientSettings, Verbosity, read_client_settings, write_client_settings};
    use crate::nix_daemon::version::ProtocolVersion;
    use crate::wire::sync::{write_string, write_u64};

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("test runtime")
            .block_on(future)
    }

    fn v(minor: u8) -> ProtocolVersion {
        ProtocolVersion::from_parts(1, minor)
    }

    /// The message of the probe that Nix 2.8.0's `nix-daemon --stdio`
    /// accepted (it answered `STDERR_LAST` and went on serving):
    /// the twelve numbers, then two overrides.
    fn probe_wire(numbers: &[u64], overrides: Option<&[(&str, &str)]>) -> Vec<u8> {
        let mut wire = Vec::new();
        for &n in numbers {
            write_u64(&mut wire, n).expect("vec");
        }
        if let Some(overrides) = overrides {
            write_u64(&mut wire, overrides.len() as u64).expect("vec");
            for (name, value) in overrides {
                write_string(&mut wire, name).expect("vec");
                write_string(&mut wire, value).expect("vec");
            }
        }
        wire
    }

    fn probe_settings(overrides: &[(&str, &str)]) -> ClientSettings {
        ClientSettings {
            keep_failed: true,
            keep_going: false,
            try_fallback: true,
            verbosity: Verbosity::Info,
            max_build_jobs: 4,
            max_silent_time: 0,
            verbose_build: false,
            build_cores: 2,
            use_substitutes: true,
            overrides: overrides
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    const PROBE_NUMBERS: [u64; 12] = [1, 0, 1, 3, 4, 0, 1, 7, 0, 0, 2, 1];
    const PROBE_OVERRIDES: &[(&str, &str)] = &[("no-such-setting", "x"), ("cores", "3")];
    const NO_OVERRIDES: &[(&str, &str)] = &[];

    #[rstest]
    #[case::nix_2_8(v(34), Some(PROBE_OVERRIDES), PROBE_OVERRIDES)]
    #[case::first_with_overrides(v(12), Some(PROBE_OVERRIDES), PROBE_OVERRIDES)]
    #[case::no_overrides_yet(v(11), None, NO_OVERRIDES)]
    #[case::none_overridden(v(34), Some(NO_OVERRIDES), NO_OVERRIDES)]
    fn exact_bytes(
        #[case] version: ProtocolVersion,
        #[case] wire_overrides: Option<&[(&str, &str)]>,
        #[case] overrides: &[(&str, &str)],
    ) {
        let wire = probe_wire(&PROBE_NUMBERS, wire_overrides);
        let settings = probe_settings(overrides);

        let mut rest = &wire[..];
        let read = block_on(read_client_settings(&mut rest, version)).expect("read");
        assert_eq!((&read, rest.len()), (&settings, 0));

        let mut written = Vec::new();
        block_on(write_client_settings(&mut written, &settings, version)).expect("write");
        assert_eq!(written, wire);
    }

    /// Nix's client sends its overrides only from 1.12 on; so do we.
    #[test]
    fn overrides_dropped_before_1_12() {
        let mut written = Vec::new();
        let settings = probe_settings(PROBE_OVERRIDES);
        block_on(write_client_settings(&mut written, &settings, v(11))).expect("write");
        assert_eq!(written, probe_wire(&PROBE_NUMBERS, None));
    }

    #[rstest]
    #[case::error_means_verbose(0, true)]
    #[case::vomit_means_quiet(7, false)]
    #[case::anything_else_means_quiet(3, false)]
    fn verbose_build_is_a_verbosity(#[case] wire: u64, #[case] expected: bool) {
        let mut numbers = PROBE_NUMBERS;
        numbers[7] = wire;
        let bytes = probe_wire(&numbers, None);
        let read = block_on(read_client_settings(&mut &bytes[..], v(11))).expect("read");
        assert_eq!(read.verbose_build, expected);
    }

    #[test]
    fn truncated_anywhere_is_an_error() {
        let wire = probe_wire(&PROBE_NUMBERS, Some(PROBE_OVERRIDES));
        for end in 0..wire.len() {
            let mut rest = &wire[..end];
            let err = block_on(read_client_settings(&mut rest, v(34)))
                .expect_err("a strict prefix must not parse");
            assert_eq!(
                err.kind(),
                io::ErrorKind::UnexpectedEof,
                "prefix of {end} bytes"
            );
        }
    }

    fn any_settings() -> impl Strategy<Value = ClientSettings> {
        (
            (any::<bool>(), any::<bool>(), any::<bool>(), 0..=7u64),
            (
                any::<u64>(),
                any::<u64>(),
                any::<bool>(),
                any::<u64>(),
                any::<bool>(),
            ),
            proptest::collection::vec(("[a-z-]{1,12}", ".{0,16}"), 0..4),
        )
            .prop_map(
                |(
                    (keep_failed, keep_going, try_fallback, verbosity),
                    (max_build_jobs, max_silent_time, verbose_build, build_cores, use_substitutes),
                    overrides,
                )| ClientSettings {
                    keep_failed,
                    keep_going,
                    try_fallback,
                    verbosity: Verbosity::from_wire(verbosity),
                    max_build_jobs,
                    max_silent_time,
                    verbose_build,
                    build_cores,
                    use_substitutes,
                    overrides,
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip(settings in any_settings()) {
            let mut wire = Vec::new();
            block_on(write_client_settings(&mut wire, &settings, v(34))).expect("write");
            let read = block_on(read_client_settings(&mut &wire[..], v(34))).expect("read");
            prop_assert_eq!(read, settings);
        }
    }
}
