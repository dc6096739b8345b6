//! Property tests: the parser never panics, and writing then parsing gives
//! back the same derivation.

use bstr::BString;
use proptest::prelude::*;

use super::*;
use crate::derivation::Output;
use crate::nixhash::{CAHash, HashAlgo, NixHash};

/// Golden files the mutation test starts from: one with every list filled,
/// one with escapes, one fixed-output, one with structured attrs.
const MUTATED: [&str; 4] = [
    "with-input-drvs",
    "escapes",
    "fod-recursive-sha1",
    "structured-attrs",
];

fn store_path(suffix: &'static str) -> impl Strategy<Value = StorePath> {
    (any::<[u8; 20]>(), "[a-zA-Z0-9+._?=-]{1,16}").prop_map(move |(digest, name)| {
        StorePath::from_name_and_digest(&format!("{name}{suffix}"), &digest).unwrap()
    })
}

fn nix_hash() -> impl Strategy<Value = NixHash> {
    (
        prop::sample::select(HashAlgo::ALL.to_vec()),
        any::<[u8; 64]>(),
    )
        .prop_map(|(algo, bytes)| {
            NixHash::from_algo_and_digest(algo, &bytes[..algo.digest_length()]).unwrap()
        })
}

fn ca_hash() -> impl Strategy<Value = CAHash> {
    prop_oneof![
        nix_hash().prop_map(CAHash::Flat),
        nix_hash().prop_map(CAHash::Nar),
        any::<[u8; 32]>().prop_map(CAHash::Text),
    ]
}

fn output() -> impl Strategy<Value = Output> {
    (
        prop::option::of(store_path("")),
        prop::option::of(ca_hash()),
    )
        .prop_map(|(path, ca_hash)| Output { path, ca_hash })
}

/// Any derivation the ATerm form can hold, valid or not.
fn derivation() -> impl Strategy<Value = Derivation> {
    (
        prop::collection::btree_map("[a-z]{1,8}", output(), 0..4),
        prop::collection::btree_map(
            store_path(".drv"),
            prop::collection::btree_set(any::<String>(), 0..3),
            0..3,
        ),
        prop::collection::btree_set(store_path(""), 0..3),
        any::<String>(),
        any::<String>(),
        prop::collection::vec(any::<String>(), 0..4),
        prop::collection::btree_map(
            any::<String>(),
            prop::collection::vec(any::<u8>(), 0..16).prop_map(BString::from),
            0..6,
        ),
    )
        .prop_map(
            |(
                outputs,
                input_derivations,
                input_sources,
                system,
                builder,
                arguments,
                environment,
            )| {
                Derivation {
                    outputs,
                    input_sources,
                    input_derivations,
                    system,
                    builder,
                    arguments,
                    environment,
                }
            },
        )
}

/// What can happen to one byte of a golden file.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let at = |i: &usize| i % (bytes.len() + 1);
        match self {
            Mutation::Replace(i, b) => {
                let len = bytes.len().max(1);
                if let Some(slot) = bytes.get_mut(i % len) {
                    *slot = *b;
                }
            }
            Mutation::Insert(i, b) => bytes.insert(at(i), *b),
            Mutation::Delete(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % bytes.len());
                }
            }
            Mutation::Truncate(i) => bytes.truncate(at(i)),
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #[test]
    fn parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Derivation::from_aterm_bytes(&bytes);
    }

    #[test]
    fn parser_never_panics_on_prefixed_garbage(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Derivation::from_aterm_bytes(&[b"Derive([(\"".as_slice(), &bytes].concat());
    }

    /// Whatever a mutated golden file parses to writes back to bytes that
    /// parse to the same derivation.
    #[test]
    fn mutated_golden_files(
        name in prop::sample::select(MUTATED.to_vec()),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = golden_file(&format!("{name}.drv"));
        for m in &mutations {
            m.apply(&mut bytes);
        }
        if let Ok(drv) = Derivation::from_aterm_bytes(&bytes) {
            prop_assert_eq!(Derivation::from_aterm_bytes(&drv.to_aterm_bytes()), Ok(drv));
        }
    }

    #[test]
    fn aterm_roundtrip(drv in derivation()) {
        let bytes = drv.to_aterm_bytes();
        prop_assert_eq!(Derivation::from_aterm_bytes(&bytes), Ok(drv.clone()));
        // A derivation that parsed writes back byte for byte.
        prop_assert_eq!(Derivation::from_aterm_bytes(&bytes).unwrap().to_aterm_bytes(), bytes);
    }

    #[test]
    fn json_roundtrip(drv in derivation()) {
        let json = serde_json::to_string(&drv);
        if drv.environment.values().all(|v| std::str::from_utf8(v).is_ok()) {
            let parsed: Derivation = serde_json::from_str(&json.unwrap()).unwrap();
            prop_assert_eq!(parsed, drv);
        } else {
            prop_assert!(json.is_err());
        }
    }
}

#[test]
fn mutation_keeps_in_bounds() {
    let mut empty = Vec::new();
    for m in [
        Mutation::Replace(5, 1),
        Mutation::Delete(3),
        Mutation::Truncate(9),
        Mutation::Insert(7, b'x'),
    ] {
        m.apply(&mut empty);
    }
    assert_eq!(empty, b"x");
}
