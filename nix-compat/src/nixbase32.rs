//! Nix's own base32 encoding.
//!
//! It differs from RFC 4648 base32 in two ways: the alphabet omits `e`, `o`,
//! `u` and `t` (so encoded digests never spell words), and the bytes are
//! consumed from the end, so the last character encodes the lowest bits of
//! the first byte. There is no padding: the encoded length is
//! `ceil(len * 8 / 5)`.

use thiserror::Error;

/// The 32 characters Nix uses, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Maps an input byte to its digit value, or `0xff` if it is not in the alphabet.
const DIGITS: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a string is not valid nixbase32.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum Nixbase32DecodeError {
    #[error("character {0:?} at position {1} is not in the nixbase32 alphabet")]
    CharacterNotInAlphabet(char, usize),
    #[error("nixbase32 input has a non-zero carry beyond the last byte")]
    NonzeroCarry,
    #[error("{0} characters is not a valid nixbase32 length")]
    InvalidLength(usize),
    #[error("expected {expected} decoded bytes, got {actual}")]
    WrongDecodedLength { expected: usize, actual: usize },
}

/// The number of characters `len` bytes encode to.
pub const fn encode_len(len: usize) -> usize {
    (len * 8).div_ceil(5)
}

/// The number of bytes `len` characters decode to.
pub const fn decode_len(len: usize) -> usize {
    (len * 5) / 8
}

/// Encodes bytes as nixbase32.
pub fn encode(input: &[u8]) -> String {
    let mut out = vec![0u8; encode_len(input.len())];
    encode_into(input, &mut out);
    // Every byte written comes from ALPHABET, which is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Encodes bytes as nixbase32 into `out`, which must be exactly
/// [encode_len] of the input long; lets hot paths (store path ordering)
/// encode onto the stack.
pub fn encode_into(input: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), encode_len(input.len()));
    let out_len = out.len();
    for (pos, slot) in out.iter_mut().enumerate() {
        let bit = (out_len - 1 - pos) * 5;
        let byte = bit / 8;
        let shift = bit % 8;
        let low = input.get(byte).map_or(0, |b| b >> shift);
        // The digit may straddle two bytes; the upper byte contributes its
        // low bits above the current one's.
        let high = input
            .get(byte + 1)
            .map_or(0, |b| ((*b as u16) << (8 - shift)) as u8);
        *slot = ALPHABET[((low | high) & 0x1f) as usize];
    }
}

/// Decodes nixbase32 of any valid length.
pub fn decode(input: impl AsRef<[u8]>) -> Result<Vec<u8>, Nixbase32DecodeError> {
    let input = input.as_ref();
    let out_len = decode_len(input.len());
    if encode_len(out_len) != input.len() {
        return Err(Nixbase32DecodeError::InvalidLength(input.len()));
    }
    let mut out = vec![0u8; out_len];
    decode_into(input, &mut out)?;
    Ok(out)
}

/// Decodes nixbase32 into exactly `N` bytes, as for fixed-size digests.
pub fn decode_fixed<const N: usize>(
    input: impl AsRef<[u8]>,
) -> Result<[u8; N], Nixbase32DecodeError> {
    let input = input.as_ref();
    if input.len() != encode_len(N) {
        return Err(Nixbase32DecodeError::WrongDecodedLength {
            expected: N,
            actual: decode_len(input.len()),
        });
    }
    let mut out = [0u8; N];
    decode_into(input, &mut out)?;
    Ok(out)
}

/// Decodes `input` into `out`, whose length the caller matched to `input`'s.
fn decode_into(input: &[u8], out: &mut [u8]) -> Result<(), Nixbase32DecodeError> {
    for (n, &c) in input.iter().rev().enumerate() {
        let digit = DIGITS[c as usize];
        if digit == 0xff {
            return Err(Nixbase32DecodeError::CharacterNotInAlphabet(
                c as char,
                input.len() - 1 - n,
            ));
        }
        let bit = n * 5;
        let byte = bit / 8;
        let shift = bit % 8;
        out[byte] |= digit << shift;
        let carry = ((digit as u16) >> (8 - shift)) as u8;
        match out.get_mut(byte + 1) {
            Some(next) => *next |= carry,
            None if carry != 0 => return Err(Nixbase32DecodeError::NonzeroCarry),
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    // Vectors from `nix-hash --type sha256 --to-base32` and store paths.
    #[rstest]
    #[case::empty(b"", "")]
    #[case::one_byte(&[0x1f], "0z")]
    #[case::store_path_digest(
        &[0x8a, 0x12, 0x32, 0x15, 0x22, 0xfd, 0x91, 0xef, 0xbd, 0x60, 0xeb, 0xb2, 0x48, 0x1a, 0xf8, 0x85, 0x80, 0xf6, 0x16, 0x00],
        "00bgd045z0d4icpbc2yyz4gx48ak44la"
    )]
    #[case::sha256_of_empty_string(
        &[0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55],
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    )]
    fn encode_decode(#[case] bytes: &[u8], #[case] encoded: &str) {
        assert_eq!(encode(bytes), encoded);
        assert_eq!(decode(encoded).unwrap(), bytes);
    }

    #[rstest]
    #[case::bad_char("0e", Nixbase32DecodeError::CharacterNotInAlphabet('e', 1))]
    #[case::upper_case("0Z", Nixbase32DecodeError::CharacterNotInAlphabet('Z', 1))]
    #[case::carry("zz", Nixbase32DecodeError::NonzeroCarry)]
    #[case::bad_length("000", Nixbase32DecodeError::InvalidLength(3))]
    fn decode_errors(#[case] input: &str, #[case] err: Nixbase32DecodeError) {
        assert_eq!(decode(input), Err(err));
    }

    #[test]
    fn decode_fixed_checks_length() {
        assert_eq!(
            decode_fixed::<20>("00bgd045z0d4icpbc2yyz4gx48ak44l"),
            Err(Nixbase32DecodeError::WrongDecodedLength {
                expected: 20,
                actual: 19
            })
        );
        assert_eq!(
            decode_fixed::<20>("00bgd045z0d4icpbc2yyz4gx48ak44la").unwrap()[0],
            0x8a
        );
    }

    proptest! {
        #[test]
        fn roundtrip(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(decode(encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(s in "\\PC*") {
            let _ = decode(s.as_bytes());
        }
    }
}
