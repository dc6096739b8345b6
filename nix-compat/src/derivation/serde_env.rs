//! The `env` object of `nix show-derivation`'s JSON.
//!
//! Environment values are bytes, JSON strings are Unicode: a value that is
//! not UTF-8 cannot be serialised (CppNix 2.8 writes its raw bytes, which is
//! not JSON) and is an error rather than silently altered.

use std::collections::BTreeMap;

use bstr::BString;
use serde::{Deserialize, Deserializer, Serializer, ser::Error as _};

pub(super) fn serialize<S: Serializer>(
    env: &BTreeMap<String, BString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(
        env.iter()
            .map(|(key, value)| {
                std::str::from_utf8(value)
                    .map(|value| (key, value))
                    .map_err(|_| {
                        S::Error::custom(format!(
                            "environment variable {key:?} is not UTF-8 and cannot be JSON"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
    )
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, BString>, D::Error> {
    let env = BTreeMap::<String, String>::deserialize(deserializer)?;
    Ok(env
        .into_iter()
        .map(|(key, value)| (key, BString::from(value)))
        .collect())
}
