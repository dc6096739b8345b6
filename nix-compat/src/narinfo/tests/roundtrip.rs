//! Property tests: the parser never panics, and every narinfo in the form
//! Nix writes renders back byte for byte.

use proptest::prelude::*;

use crate::narinfo::NarInfo;
use crate::nixbase32;

/// A store path basename: a random digest and a valid name.
fn basename() -> impl Strategy<Value = String> {
    (any::<[u8; 20]>(), "[a-zA-Z0-9+._?=-]{1,40}")
        .prop_map(|(digest, name)| format!("{}-{name}", nixbase32::encode(&digest)))
}

fn sha256() -> impl Strategy<Value = String> {
    any::<[u8; 32]>().prop_map(|digest| format!("sha256:{}", nixbase32::encode(&digest)))
}

fn line(key: &'static str, value: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    value.prop_map(move |value| format!("{key}: {value}\n"))
}

fn optional_line(
    key: &'static str,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = String> {
    proptest::option::of(line(key, value)).prop_map(Option::unwrap_or_default)
}

/// The text of a narinfo as Nix lays it out, each optional field present or not.
fn narinfo_text() -> impl Strategy<Value = String> {
    let signature = ("[a-z0-9.-]{1,20}", any::<[u8; 64]>()).prop_map(|(name, bytes)| {
        format!("Sig: {name}:{}\n", data_encoding::BASE64.encode(&bytes))
    });
    let ca = prop_oneof![
        sha256().prop_map(|hash| format!("fixed:r:{hash}")),
        sha256().prop_map(|hash| format!("text:{hash}")),
        any::<[u8; 20]>().prop_map(|digest| format!("fixed:sha1:{}", nixbase32::encode(&digest))),
    ];
    (
        (
            line(
                "StorePath",
                basename().prop_map(|b| format!("/nix/store/{b}")),
            ),
            line("URL", "[a-z0-9/._-]{1,60}"),
            optional_line("Compression", "[a-z0-9]{0,8}"),
            optional_line("FileHash", sha256()),
            optional_line("FileSize", any::<u64>().prop_map(|n| n.to_string())),
            line("NarHash", sha256()),
            line("NarSize", (1..=u64::MAX).prop_map(|n| n.to_string())),
        ),
        (
            line(
                "References",
                proptest::collection::vec(basename(), 0..4).prop_map(|refs| refs.join(" ")),
            ),
            optional_line("Deriver", basename()),
            optional_line("System", "[a-z0-9_-]{1,20}"),
            proptest::collection::vec(signature, 0..3).prop_map(|sigs| sigs.concat()),
            optional_line("CA", ca),
        ),
    )
        .prop_map(|(first, second)| {
            let (a, b, c, d, e, f, g) = first;
            let (h, i, j, k, l) = second;
            [a, b, c, d, e, f, g, h, i, j, k, l].concat()
        })
}

/// Text made of narinfo-like lines, known keys or not, with arbitrary values.
fn narinfo_like_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        proptest::sample::select(vec![
            "StorePath",
            "URL",
            "Compression",
            "FileHash",
            "FileSize",
            "NarHash",
            "NarSize",
            "References",
            "Deriver",
            "System",
            "Sig",
            "CA",
        ])
        .prop_map(str::to_string),
        "\\PC{0,10}",
    ];
    proptest::collection::vec((key, "\\PC{0,80}", "(: |:| )?", "\n?"), 0..14).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(key, value, separator, end)| format!("{key}{separator}{value}{end}"))
            .collect()
    })
}

proptest! {
    #[test]
    fn renders_back_byte_identical(text in narinfo_text()) {
        let info = NarInfo::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(info.to_string(), text);
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC*") {
        let _ = NarInfo::parse(&text);
    }

    #[test]
    fn never_panics_on_narinfo_like_text(text in narinfo_like_text()) {
        let _ = NarInfo::parse(&text);
    }

    /// Whatever parses renders to text that parses to the same value, even
    /// with stray lines (placeholders, unknown keys, repeats) mixed in.
    #[test]
    fn parsed_values_survive_rendering(
        text in narinfo_text(),
        extra in narinfo_like_text(),
        at in any::<proptest::sample::Index>(),
    ) {
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        lines.insert(at.index(lines.len() + 1), &extra);
        let text = lines.concat();
        if let Ok(info) = NarInfo::parse(&text) {
            let rendered = info.to_string();
            prop_assert_eq!(NarInfo::parse(&rendered), Ok(info));
        }
    }
}
