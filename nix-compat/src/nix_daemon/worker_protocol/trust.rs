//! [`Trust`]: whether the daemon trusts the connected client.

/// Whether the daemon trusts the client (it may then, for example, change
/// any setting or import unsigned paths).
///
/// From protocol 1.35 on the daemon tells the client at the end of the
/// handshake; Nix writes this as an optional flag, `u64` 1 for trusted and 2
/// for not trusted (0, "unknown", is only used by proxies that cannot tell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    Trusted,
    NotTrusted,
}

impl Trust {
    /// The `u64` Nix sends for this trust status.
    pub const fn to_wire(self) -> u64 {
        match self {
            Trust::Trusted => 1,
            Trust::NotTrusted => 2,
        }
    }
}
