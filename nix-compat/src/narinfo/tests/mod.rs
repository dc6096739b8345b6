//! Tests of the narinfo module. The golden files in testdata/narinfo were
//! written by Nix 2.8 (see generate.sh there).

mod differential;
mod golden;
mod keys;
mod malformed;
mod roundtrip;

use super::{SigningKey, VerifyingKey};

const TEST_KEY_1_PUB: &str = include_str!("../../../testdata/narinfo/test-key-1.pub");
const TEST_KEY_1_SEC: &str = include_str!("../../../testdata/narinfo/test-key-1.sec");
const TEST_KEY_2_PUB: &str = include_str!("../../../testdata/narinfo/test-key-2.pub");
const TEST_KEY_2_SEC: &str = include_str!("../../../testdata/narinfo/test-key-2.sec");

/// The golden public key with this name.
fn verifying_key(name: &str) -> VerifyingKey {
    match name {
        "test-key-1" => TEST_KEY_1_PUB,
        "test-key-2" => TEST_KEY_2_PUB,
        other => panic!("no golden key {other}"),
    }
    .parse()
    .expect("golden public key parses")
}

fn signing_key(name: &str) -> SigningKey {
    match name {
        "test-key-1" => TEST_KEY_1_SEC,
        "test-key-2" => TEST_KEY_2_SEC,
        other => panic!("no golden key {other}"),
    }
    .parse()
    .expect("golden secret key parses")
}
