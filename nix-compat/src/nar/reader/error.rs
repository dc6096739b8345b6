//! Why a NAR was rejected.

use std::fmt;
use std::io;

use thiserror::Error;

use crate::nar::rules::{NameError, TargetError};

/// Why the bytes read are not a canonical NAR.
///
/// The reader hands it out wrapped in an [io::Error] of kind
/// [io::ErrorKind::InvalidData] (its file readers must speak [io::Read]);
/// `err.get_ref().and_then(|e| e.downcast_ref::<Error>())` gets it back.
/// A NAR that ends early is an [io::ErrorKind::UnexpectedEof] instead.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum Error {
    #[error("malformed NAR: expected {0}")]
    UnexpectedToken(Expected),
    #[error("malformed NAR: non-zero padding after the {0}")]
    NonZeroPadding(Field),
    #[error("malformed NAR: {0}")]
    Name(#[from] NameError),
    #[error("malformed NAR: {0}")]
    Target(#[from] TargetError),
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, err)
    }
}

/// The tokens the reader was looking for when it found something else.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Expected {
    /// `"nix-archive-1" "(" "type"` at the start.
    Header,
    /// `"regular"`, `"symlink"` or `"directory"` (with what follows them).
    NodeType,
    /// `"entry" "(" "name"` or the `")"` that ends a directory.
    EntryOrEnd,
    /// `"node" "(" "type"` after an entry's name.
    NodeStart,
    /// The `")"` that ends a file or symlink node.
    NodeEnd,
    /// The `")"` that ends a directory entry.
    EntryEnd,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::Header => r#"the header "nix-archive-1" "(" "type""#,
            Expected::NodeType => r#"a node type: "regular" (optionally "executable" ""), "contents"; "symlink" "target"; or "directory""#,
            Expected::EntryOrEnd => r#""entry" "(" "name" or the ")" ending the directory"#,
            Expected::NodeStart => r#""node" "(" "type" after the entry name"#,
            Expected::NodeEnd => r#"the ")" ending the node"#,
            Expected::EntryEnd => r#"the ")" ending the directory entry"#,
        })
    }
}

/// The variable-length fields of a NAR, which carry padding.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Field {
    Name,
    Target,
    Contents,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Name => "entry name",
            Field::Target => "symlink target",
            Field::Contents => "file contents",
        })
    }
}
