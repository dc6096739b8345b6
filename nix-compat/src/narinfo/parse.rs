//! Reading a narinfo, with the rules of CppNix 2.8's `NarInfo` constructor.
//!
//! Every line is `Key: value\n`, the last one included. Unknown keys are
//! skipped, as Nix does, so newer fields do not break older readers; a known
//! key may appear once, except `Sig`. `StorePath`, `URL`, `NarHash` and
//! `NarSize` are required, the URL must not be empty and the NAR size not 0.
//!
//! Where Nix is lax in ways no narinfo it writes relies on, this parser is
//! stricter, so that what it accepts has one meaning: Nix skips the two
//! bytes after the first colon without looking (here they must be `": "`),
//! lets most repeated keys overwrite each other (here only `Sig` repeats),
//! and accepts any algorithm for `FileHash` although it only writes sha256
//! (here both hashes must be sha256).

use std::{fmt, num::ParseIntError};

use thiserror::Error;

use super::{NarInfo, Signature, named_bytes::NamedBytesError};
use crate::{
    nixhash::{self, CAHash, HashAlgo, NixHash, NixHashError},
    store_path::{self, StorePathRef},
};

/// The keys a narinfo may hold, in the order Nix writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    StorePath,
    Url,
    Compression,
    FileHash,
    FileSize,
    NarHash,
    NarSize,
    References,
    Deriver,
    System,
    Sig,
    Ca,
}

impl Field {
    const ALL: [Field; 12] = [
        Field::StorePath,
        Field::Url,
        Field::Compression,
        Field::FileHash,
        Field::FileSize,
        Field::NarHash,
        Field::NarSize,
        Field::References,
        Field::Deriver,
        Field::System,
        Field::Sig,
        Field::Ca,
    ];

    /// The key as it appears in the file.
    pub fn key(self) -> &'static str {
        match self {
            Field::StorePath => "StorePath",
            Field::Url => "URL",
            Field::Compression => "Compression",
            Field::FileHash => "FileHash",
            Field::FileSize => "FileSize",
            Field::NarHash => "NarHash",
            Field::NarSize => "NarSize",
            Field::References => "References",
            Field::Deriver => "Deriver",
            Field::System => "System",
            Field::Sig => "Sig",
            Field::Ca => "CA",
        }
    }

    fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.key() == key)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Why a text is not a narinfo. `line` counts from 1.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum Error {
    #[error("line {line}: does not end with a newline")]
    MissingNewline { line: usize },
    #[error("line {line}: expected \"Key: value\", found {content:?}")]
    MissingSeparator { line: usize, content: String },
    #[error("line {line}: {field} appears a second time")]
    DuplicateField { line: usize, field: Field },
    #[error("{0} is missing")]
    MissingField(Field),
    #[error("line {line}: {field} has an invalid store path: {source}")]
    InvalidStorePath {
        line: usize,
        field: Field,
        source: store_path::Error,
    },
    #[error("line {line}: {field} has an invalid hash: {source}")]
    InvalidHash {
        line: usize,
        field: Field,
        source: NixHashError,
    },
    #[error("line {line}: {field} must be a sha256 hash, not {algo}")]
    UnsupportedHashAlgo {
        line: usize,
        field: Field,
        algo: HashAlgo,
    },
    #[error("line {line}: {field} is not a size: {source}")]
    InvalidSize {
        line: usize,
        field: Field,
        source: ParseIntError,
    },
    #[error("line {line}: NarSize is 0")]
    ZeroNarSize { line: usize },
    #[error("line {line}: URL is empty")]
    EmptyUrl { line: usize },
    #[error("line {line}: Sig is invalid: {source}")]
    InvalidSignature {
        line: usize,
        source: NamedBytesError,
    },
    #[error("line {line}: CA {value:?} is not a content address")]
    InvalidCa { line: usize, value: String },
}

/// One `Key: value` line and where it is, for error messages.
struct Line<'a> {
    number: usize,
    field: Field,
    value: &'a str,
}

impl<'a> Line<'a> {
    /// Parses `value` (the whole value, or one reference of it) with `parse`.
    fn store_path(
        &self,
        parse: fn(&'a [u8]) -> Result<StorePathRef<'a>, store_path::Error>,
        value: &'a str,
    ) -> Result<StorePathRef<'a>, Error> {
        parse(value.as_bytes()).map_err(|source| Error::InvalidStorePath {
            line: self.number,
            field: self.field,
            source,
        })
    }

    /// A sha256 hash with its algorithm named (`sha256:` or SRI), the digest
    /// in any encoding Nix reads.
    fn sha256(&self) -> Result<[u8; 32], Error> {
        let hash = nixhash::from_str(self.value, None).map_err(|source| Error::InvalidHash {
            line: self.number,
            field: self.field,
            source,
        })?;
        match hash {
            NixHash::Sha256(digest) => Ok(digest),
            other => Err(Error::UnsupportedHashAlgo {
                line: self.number,
                field: self.field,
                algo: other.algo(),
            }),
        }
    }

    fn size(&self) -> Result<u64, Error> {
        self.value.parse().map_err(|source| Error::InvalidSize {
            line: self.number,
            field: self.field,
            source,
        })
    }
}

/// Splits the text into numbered lines, each of which must end with `\n`.
fn lines(s: &str) -> impl Iterator<Item = Result<(usize, &str), Error>> {
    let mut rest = s;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        Some(match rest.split_once('\n') {
            Some((line, after)) => {
                rest = after;
                Ok((number, line))
            }
            None => {
                rest = "";
                Err(Error::MissingNewline { line: number })
            }
        })
    })
}

impl<'a> NarInfo<'a> {
    /// Parses a narinfo, borrowing every string from `s`.
    pub fn parse(s: &'a str) -> Result<Self, Error> {
        // One bit per Field, set when its line has been seen.
        let mut seen = 0u16;
        let (mut store_path, mut url, mut compression) = (None, None, None);
        let (mut file_hash, mut file_size, mut nar_hash, mut nar_size) = (None, None, None, None);
        let (mut references, mut deriver, mut system) = (Vec::new(), None, None);
        let (mut signatures, mut ca) = (Vec::new(), None);

        for line in lines(s) {
            let (number, content) = line?;
            let (key, value) = content
                .split_once(": ")
                .ok_or_else(|| Error::MissingSeparator {
                    line: number,
                    content: content.to_string(),
                })?;
            let Some(field) = Field::from_key(key) else {
                continue;
            };
            let bit = 1 << field as u16;
            if field != Field::Sig && seen & bit != 0 {
                return Err(Error::DuplicateField {
                    line: number,
                    field,
                });
            }
            seen |= bit;
            let line = Line {
                number,
                field,
                value,
            };
            match field {
                Field::StorePath => {
                    store_path = Some(line.store_path(StorePathRef::from_absolute_path, value)?)
                }
                Field::Url if value.is_empty() => return Err(Error::EmptyUrl { line: number }),
                Field::Url => url = Some(value),
                Field::Compression => compression = Some(value),
                Field::FileHash => file_hash = Some(line.sha256()?),
                Field::FileSize => file_size = Some(line.size()?),
                Field::NarHash => nar_hash = Some(line.sha256()?),
                Field::NarSize => match line.size()? {
                    0 => return Err(Error::ZeroNarSize { line: number }),
                    size => nar_size = Some(size),
                },
                // Nix splits at single spaces and drops empty pieces.
                Field::References => {
                    references = value
                        .split(' ')
                        .filter(|basename| !basename.is_empty())
                        .map(|basename| line.store_path(StorePathRef::from_bytes, basename))
                        .collect::<Result<_, _>>()?
                }
                Field::Deriver if value == "unknown-deriver" => {}
                Field::Deriver => deriver = Some(line.store_path(StorePathRef::from_bytes, value)?),
                Field::System => system = Some(value),
                Field::Sig => signatures.push(Signature::parse(value).map_err(|source| {
                    Error::InvalidSignature {
                        line: number,
                        source,
                    }
                })?),
                Field::Ca if value.is_empty() => {}
                Field::Ca => {
                    ca = Some(CAHash::from_nix_str(value).ok_or_else(|| Error::InvalidCa {
                        line: number,
                        value: value.to_string(),
                    })?)
                }
            }
        }

        Ok(NarInfo {
            store_path: store_path.ok_or(Error::MissingField(Field::StorePath))?,
            url: url.ok_or(Error::MissingField(Field::Url))?,
            compression,
            file_hash,
            file_size,
            nar_hash: nar_hash.ok_or(Error::MissingField(Field::NarHash))?,
            nar_size: nar_size.ok_or(Error::MissingField(Field::NarSize))?,
            references,
            deriver,
            system,
            signatures,
            ca,
        })
    }
}
