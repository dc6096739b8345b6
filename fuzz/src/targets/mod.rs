//! The targets, grouped by the crate whose input they take.

pub mod castore;
pub mod eval;
pub mod formats;
pub mod nar;
pub mod nar_bridge;
pub mod store;
pub mod wire;

/// Splits `data` into its first line (without the newline) and the rest;
/// targets that take two inputs use it.
pub(crate) fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
