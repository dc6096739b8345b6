//! Reading derivations from CppNix's ATerm form (see the `aterm` writer).
//!
//! The parser is strict where CppNix's output is canonical, so that every
//! accepted file writes back byte for byte: no whitespace, only the escapes
//! CppNix writes, lowercase hex hashes, no duplicate keys. Store paths are
//! validated where they occur. Errors name the field and the byte offset.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bstr::BString;
use thiserror::Error;

use super::{Derivation, Output, OutputError};
use crate::store_path::{self, StorePath};

/// The part of a derivation an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    OutputName,
    OutputPath,
    OutputHashAlgo,
    OutputHash,
    InputDerivationPath,
    InputDerivationOutput,
    InputSource,
    System,
    Builder,
    Argument,
    EnvironmentKey,
    EnvironmentValue,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::OutputName => "output name",
            Field::OutputPath => "output path",
            Field::OutputHashAlgo => "output hash algorithm",
            Field::OutputHash => "output hash",
            Field::InputDerivationPath => "input derivation path",
            Field::InputDerivationOutput => "input derivation output name",
            Field::InputSource => "input source",
            Field::System => "system",
            Field::Builder => "builder",
            Field::Argument => "argument",
            Field::EnvironmentKey => "environment variable name",
            Field::EnvironmentValue => "environment variable value",
        })
    }
}

/// Why bytes are not a derivation in ATerm form. `pos` is a byte offset
/// into the input; for a string it is that of its opening quote.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum Error {
    #[error("expected {expected:?} at byte {pos}")]
    Expected { expected: &'static str, pos: usize },
    #[error("unterminated {field} string starting at byte {pos}")]
    UnterminatedString { field: Field, pos: usize },
    #[error("invalid escape sequence \\{} in {field} at byte {pos}", char::from(*byte))]
    InvalidEscape { field: Field, byte: u8, pos: usize },
    #[error("{field} at byte {pos} is not UTF-8")]
    NotUtf8 { field: Field, pos: usize },
    #[error("invalid store path in {field} at byte {pos}: {source}")]
    InvalidStorePath {
        field: Field,
        pos: usize,
        source: store_path::Error,
    },
    #[error("duplicate {field} {key:?} at byte {pos}")]
    Duplicate {
        field: Field,
        key: String,
        pos: usize,
    },
    #[error("invalid output {name:?} at byte {pos}: {source}")]
    InvalidOutput {
        name: String,
        pos: usize,
        source: OutputError,
    },
    #[error("unexpected data after the derivation at byte {pos}")]
    TrailingData { pos: usize },
}

impl Derivation {
    /// Parses a derivation from the bytes of a `.drv` file.
    pub fn from_aterm_bytes(input: &[u8]) -> Result<Derivation, Error> {
        let mut p = Parser { input, pos: 0 };
        let mut drv = Derivation::default();

        p.expect("Derive(")?;

        p.list(|p| {
            p.expect("(")?;
            let (pos, name) = p.utf8_string(Field::OutputName)?;
            p.expect(",")?;
            let path = p.optional_store_path(Field::OutputPath)?;
            p.expect(",")?;
            let (_, hash_algo) = p.utf8_string(Field::OutputHashAlgo)?;
            p.expect(",")?;
            let (_, hash) = p.utf8_string(Field::OutputHash)?;
            p.expect(")")?;
            let output = Output::from_fields(path, &hash_algo, &hash).map_err(|source| {
                Error::InvalidOutput {
                    name: name.clone(),
                    pos,
                    source,
                }
            })?;
            insert_unique(&mut drv.outputs, Field::OutputName, pos, name, output)
        })?;
        p.expect(",")?;

        p.list(|p| {
            p.expect("(")?;
            let (pos, path) = p.store_path(Field::InputDerivationPath)?;
            p.expect(",")?;
            let mut outputs = BTreeSet::new();
            p.list(|p| {
                let (pos, name) = p.utf8_string(Field::InputDerivationOutput)?;
                insert_unique_in_set(&mut outputs, Field::InputDerivationOutput, pos, name)
            })?;
            p.expect(")")?;
            insert_unique(
                &mut drv.input_derivations,
                Field::InputDerivationPath,
                pos,
                path,
                outputs,
            )
        })?;
        p.expect(",")?;

        p.list(|p| {
            let (pos, path) = p.store_path(Field::InputSource)?;
            insert_unique_in_set(&mut drv.input_sources, Field::InputSource, pos, path)
        })?;
        p.expect(",")?;

        drv.system = p.utf8_string(Field::System)?.1;
        p.expect(",")?;
        drv.builder = p.utf8_string(Field::Builder)?.1;
        p.expect(",")?;

        p.list(|p| {
            drv.arguments.push(p.utf8_string(Field::Argument)?.1);
            Ok(())
        })?;
        p.expect(",")?;

        p.list(|p| {
            p.expect("(")?;
            let (pos, key) = p.utf8_string(Field::EnvironmentKey)?;
            p.expect(",")?;
            let (_, value) = p.string(Field::EnvironmentValue)?;
            p.expect(")")?;
            insert_unique(
                &mut drv.environment,
                Field::EnvironmentKey,
                pos,
                key,
                BString::from(value),
            )
        })?;

        p.expect(")")?;
        if p.pos != input.len() {
            return Err(Error::TrailingData { pos: p.pos });
        }
        Ok(drv)
    }
}

/// Inserts into a map, failing on a key seen before.
fn insert_unique<K: Ord + fmt::Display, V>(
    map: &mut BTreeMap<K, V>,
    field: Field,
    pos: usize,
    key: K,
    value: V,
) -> Result<(), Error> {
    match map.entry(key) {
        std::collections::btree_map::Entry::Occupied(entry) => Err(Error::Duplicate {
            field,
            key: entry.key().to_string(),
            pos,
        }),
        std::collections::btree_map::Entry::Vacant(entry) => {
            entry.insert(value);
            Ok(())
        }
    }
}

/// Inserts into a set, failing on an element seen before.
fn insert_unique_in_set<T: Ord + fmt::Display>(
    set: &mut BTreeSet<T>,
    field: Field,
    pos: usize,
    item: T,
) -> Result<(), Error> {
    let key = item.to_string();
    if set.insert(item) {
        Ok(())
    } else {
        Err(Error::Duplicate { field, key, pos })
    }
}

/// A cursor over the input.
struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }

    /// Consumes `token`, or fails naming it.
    fn expect(&mut self, token: &'static str) -> Result<(), Error> {
        if self.rest().starts_with(token.as_bytes()) {
            self.pos += token.len();
            Ok(())
        } else {
            Err(Error::Expected {
                expected: token,
                pos: self.pos,
            })
        }
    }

    /// Consumes `token` if it is next.
    fn accept(&mut self, token: &'static str) -> bool {
        self.expect(token).is_ok()
    }

    /// Parses `[item,item,…]`, calling `item` for each element.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), Error>) -> Result<(), Error> {
        self.expect("[")?;
        if self.accept("]") {
            return Ok(());
        }
        loop {
            item(self)?;
            if self.accept("]") {
                return Ok(());
            }
            self.expect(",")?;
        }
    }

    /// Parses a quoted string, returning the position of its opening
    /// quote and its unescaped bytes.
    fn string(&mut self, field: Field) -> Result<(usize, Vec<u8>), Error> {
        let start = self.pos;
        self.expect("\"")?;
        let mut out = Vec::new();
        let mut bytes = self.rest().iter().enumerate();
        while let Some((i, &b)) = bytes.next() {
            match b {
                b'"' => {
                    self.pos += i + 1;
                    return Ok((start, out));
                }
                b'\\' => {
                    let Some((_, &escaped)) = bytes.next() else {
                        break;
                    };
                    out.push(match escaped {
                        b'"' | b'\\' => escaped,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        byte => {
                            return Err(Error::InvalidEscape {
                                field,
                                byte,
                                pos: self.pos + i,
                            });
                        }
                    });
                }
                _ => out.push(b),
            }
        }
        Err(Error::UnterminatedString { field, pos: start })
    }

    /// Parses a quoted string that must be UTF-8.
    fn utf8_string(&mut self, field: Field) -> Result<(usize, String), Error> {
        let (pos, bytes) = self.string(field)?;
        let s = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 { field, pos })?;
        Ok((pos, s))
    }

    /// Parses a quoted absolute store path.
    fn store_path(&mut self, field: Field) -> Result<(usize, StorePath), Error> {
        let (pos, bytes) = self.string(field)?;
        let path = StorePath::from_absolute_path(&bytes)
            .map_err(|source| Error::InvalidStorePath { field, pos, source })?;
        Ok((pos, path))
    }

    /// Parses a quoted absolute store path, or `""` for none.
    fn optional_store_path(&mut self, field: Field) -> Result<Option<StorePath>, Error> {
        if self.accept("\"\"") {
            return Ok(None);
        }
        self.store_path(field).map(|(_, path)| Some(path))
    }
}
