//! A small mutator for the stable smoke run: byte flips, inserts, deletes,
//! duplicated and spliced ranges, and "interesting" integers (the lengths
//! and counts that parsers trust), applied to the seed corpus.
//!
//! It has no coverage feedback; it is there to shake every target for a few
//! seconds on any toolchain, not to replace libFuzzer.

/// A xorshift generator: deterministic from its seed, so a failing smoke
/// run can be reproduced.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `bound` (which must not be 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// Integers that make length and count fields interesting, little-endian
/// as Nix's wire format and protobuf fixed fields have them.
const INTERESTING: &[u64] = &[
    0,
    1,
    7,
    8,
    9,
    0x7f,
    0x80,
    0xff,
    0x100,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    u64::MAX / 2,
    u64::MAX,
];

/// Inputs are kept below this size, so a run cannot grow them without bound.
pub const MAX_INPUT: usize = 64 * 1024;

/// Applies one to eight random mutations to `input`, splicing from `other`.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(8) {
        mutate_once(rng, input, other);
    }
    input.truncate(MAX_INPUT);
}

fn mutate_once(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    let len = input.len();
    match rng.below(9) {
        0 if len > 0 => {
            let at = rng.below(len);
            input[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            input[at] = rng.next_u64() as u8;
        }
        2 => {
            let at = rng.below(len + 1);
            input.insert(at, rng.next_u64() as u8);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(16)).min(len);
            input.drain(at..end);
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(64)).min(len);
            let copy = input[at..end].to_vec();
            let to = rng.below(len + 1);
            input.splice(to..to, copy);
        }
        5 if !other.is_empty() => {
            let at = rng.below(other.len());
            let end = (at + 1 + rng.below(256)).min(other.len());
            let to = rng.below(len + 1);
            input.splice(to..to, other[at..end].iter().copied());
        }
        6 if len >= 8 => {
            let at = rng.below(len - 7);
            let value = INTERESTING[rng.below(INTERESTING.len())];
            input[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        7 if len > 0 => {
            let at = rng.below(len);
            let value = INTERESTING[rng.below(INTERESTING.len())] as u8;
            input[at] = value;
        }
        8 if len > 1 => {
            let at = rng.below(len);
            input.truncate(at);
        }
        _ => input.push(rng.next_u64() as u8),
    }
}
