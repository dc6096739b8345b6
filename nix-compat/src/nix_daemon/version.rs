//! [`ProtocolVersion`]: which revision of the worker protocol a peer speaks.

use std::fmt;

use thiserror::Error;

/// A worker protocol version: a major and a minor number.
///
/// On the wire it is the `u64` `major << 8 | minor`. Every feature of the
/// protocol is gated on the minor number, so ordering matters: versions
/// compare by major, then minor, which is also the order of the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    // Field order matters for the derived `Ord`.
    major: u8,
    minor: u8,
}

/// A wire value that cannot be a protocol version.
#[derive(Debug, Error, PartialEq, Eq, Clone, Copy)]
#[error("{0:#x} is not a protocol version: only the low 16 bits may be set")]
pub struct ProtocolVersionOutOfRange(pub u64);

impl ProtocolVersion {
    pub const fn from_parts(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }

    pub const fn major(self) -> u8 {
        self.major
    }

    pub const fn minor(self) -> u8 {
        self.minor
    }
}

/// Nix masks the version with `0xff00`/`0x00ff` and ignores higher bits; no
/// Nix ever sets them, so a value that does is garbage and rejected here.
impl TryFrom<u64> for ProtocolVersion {
    type Error = ProtocolVersionOutOfRange;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        let [minor, major] = u16::try_from(value)
            .map_err(|_| ProtocolVersionOutOfRange(value))?
            .to_le_bytes();
        Ok(Self { major, minor })
    }
}

impl From<ProtocolVersion> for u64 {
    fn from(version: ProtocolVersion) -> Self {
        u64::from(version.major) << 8 | u64::from(version.minor)
    }
}

/// `major.minor`, as Nix prints it (`1.34`).
impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::{ProtocolVersion, ProtocolVersionOutOfRange};

    #[rstest]
    #[case::oldest_accepted(0x10a, 1, 10, "1.10")]
    #[case::nix_2_8(0x122, 1, 34, "1.34")]
    #[case::with_trust_status(0x123, 1, 35, "1.35")]
    #[case::zero(0, 0, 0, "0.0")]
    #[case::largest(0xffff, 255, 255, "255.255")]
    fn wire_form(#[case] wire: u64, #[case] major: u8, #[case] minor: u8, #[case] shown: &str) {
        let version = ProtocolVersion::try_from(wire).expect("in range");
        assert_eq!(version, ProtocolVersion::from_parts(major, minor));
        assert_eq!((version.major(), version.minor()), (major, minor));
        assert_eq!(u64::from(version), wire);
        assert_eq!(version.to_string(), shown);
    }

    #[rstest]
    #[case::bit_16(0x1_0000)]
    #[case::high_bits_with_valid_low(0xdead_0000_0122)]
    #[case::max(u64::MAX)]
    fn out_of_range(#[case] wire: u64) {
        assert_eq!(
            ProtocolVersion::try_from(wire),
            Err(ProtocolVersionOutOfRange(wire))
        );
    }

    #[rstest]
    #[case::minor(ProtocolVersion::from_parts(1, 10), ProtocolVersion::from_parts(1, 34))]
    #[case::minor_two_digits(ProtocolVersion::from_parts(1, 9), ProtocolVersion::from_parts(1, 10))]
    #[case::major_beats_minor(
        ProtocolVersion::from_parts(1, 255),
        ProtocolVersion::from_parts(2, 0)
    )]
    fn ordering(#[case] lower: ProtocolVersion, #[case] higher: ProtocolVersion) {
        assert!(lower < higher);
        assert!(u64::from(lower) < u64::from(higher));
    }
}
