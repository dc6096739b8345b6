//! A whole store composed from one document: castore's `blobservices` and
//! `directoryservices` tables ([tvix_castore::composition]) and
//! `pathinfoservices`, e.g.
//!
//! ```toml
//! [directoryservices.local]
//! type = "redb"
//! path = "/var/cache/tvix/directories.redb"
//!
//! [directoryservices.default]
//! type = "cache"
//! near = "local"
//! far = "shared"
//!
//! [pathinfoservices.default]
//! type = "grpc"
//! url = "grpc+http://store.internal:8000"
//! ```
//!
//! A store's services are the entries named `default` ([crate::utils]).
//! Keys the document does not define are errors naming where they are
//! (`blobservices.default.fra: unknown field …`), as are references to
//! entries that do not exist and cycles.

mod path_info;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use tvix_castore::composition::{
    BlobServiceConfig, CastoreComposition, CompositionError, DirectoryServiceConfig, Table,
    check_table,
};

pub use path_info::PathInfoServiceConfig;

use crate::pathinfoservice::PathInfoService;

/// The document: three tables of named entries, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositionDocument {
    #[serde(default)]
    pub blobservices: BTreeMap<String, BlobServiceConfig>,
    #[serde(default)]
    pub directoryservices: BTreeMap<String, DirectoryServiceConfig>,
    #[serde(default)]
    pub pathinfoservices: BTreeMap<String, PathInfoServiceConfig>,
}

impl CompositionDocument {
    /// Parses a TOML document. An error names the key it is at, or the
    /// line and column of a syntax error.
    pub fn from_toml(text: &str) -> Result<Self, CompositionError> {
        let deserializer =
            toml::Deserializer::parse(text).map_err(|e| CompositionError::Invalid {
                path: syntax_error_place(text, &e),
                message: e.message().to_owned(),
            })?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            CompositionError::Invalid {
                path: if path == "." {
                    "(document)".to_owned()
                } else {
                    path
                },
                message: e.inner().message().to_owned(),
            }
        })
    }
}

/// `line L, column C` of a parse error.
fn syntax_error_place(text: &str, error: &toml::de::Error) -> String {
    let Some(span) = error.span() else {
        return "(document)".to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
    format!("line {line}, column {column}")
}

/// The services of a checked document, each built when first asked for.
pub struct StoreComposition {
    castore: CastoreComposition,
    path_infos: Table<PathInfoServiceConfig, dyn PathInfoService>,
}

impl StoreComposition {
    /// Checks the references of `document` (see the module doc).
    pub fn new(document: CompositionDocument) -> Result<Self, CompositionError> {
        let castore = CastoreComposition::new(document.blobservices, document.directoryservices)?;
        check_table(
            path_info::TABLE,
            &document.pathinfoservices,
            &|table, name| castore.exists(table, name),
        )?;
        Ok(Self {
            castore,
            path_infos: Table::new(path_info::TABLE, document.pathinfoservices),
        })
    }

    /// Parses and checks a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, CompositionError> {
        Self::new(CompositionDocument::from_toml(text)?)
    }

    pub fn castore(&self) -> &CastoreComposition {
        &self.castore
    }

    /// The path info service named `name`, built on first use.
    pub async fn path_info_service(
        &self,
        name: &str,
    ) -> Result<Arc<dyn PathInfoService>, CompositionError> {
        Box::pin(self.path_infos.get(
            name,
            |entry, path| async move { entry.build(&path, self).await },
        ))
        .await
    }
}

#[cfg(test)]
mod tests;
