//! Property tests: any tree survives writing and reading, and no input
//! makes the reader panic.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::fixtures::golden;
use super::harness::{ALL, Impl, Tree};
use super::malformed::failure;
use crate::nar::wire::SEQ_HEADER;

fn name() -> impl Strategy<Value = Vec<u8>> {
    vec(
        any::<u8>().prop_filter("no '/' or NUL", |b| *b != b'/' && *b != 0),
        1..12,
    )
    .prop_filter("not . or ..", |n| n != b"." && n != b"..")
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        (any::<bool>(), vec(any::<u8>(), 0..40)).prop_map(|(executable, contents)| Tree::File {
            executable,
            contents
        }),
        vec(1..=u8::MAX, 1..20).prop_map(Tree::Symlink),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        btree_map(name(), inner, 0..6).prop_map(|entries: BTreeMap<_, _>| Tree::Directory(entries))
    })
}

/// Reads `nar` with every implementation; they must agree, and not panic.
fn read_all_agree(nar: &[u8]) {
    let results: Vec<_> = ALL
        .iter()
        .map(|imp| imp.read(nar).map_err(failure))
        .collect();
    for result in &results[1..] {
        assert_eq!(result, &results[0]);
    }
}

proptest! {
    #[test]
    fn tree_roundtrips(tree in tree()) {
        let nar = Impl::Sync.write(&tree).unwrap();
        prop_assert_eq!(&Impl::Async.write(&tree).unwrap(), &nar);
        for imp in ALL {
            prop_assert_eq!(imp.read(&nar).unwrap(), (tree.clone(), vec![]));
        }
    }

    #[test]
    fn arbitrary_bytes_do_not_panic(bytes in vec(any::<u8>(), 0..256)) {
        read_all_agree(&bytes);
        read_all_agree(&[&SEQ_HEADER[..], &bytes].concat());
    }

    #[test]
    fn mutated_nars_do_not_panic(
        tree in tree(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut nar = Impl::Sync.write(&tree).unwrap();
        let at = at.index(nar.len());
        nar[at] = byte;
        read_all_agree(&nar);
    }

    #[test]
    fn mutated_golden_does_not_panic(
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut nar = golden("nested");
        let at = at.index(nar.len());
        nar[at] = byte;
        read_all_agree(&nar);
    }
}
