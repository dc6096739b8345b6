//! [RootNodes]: what the top directory of a mounted castore holds.
//!
//! castore itself only knows trees below a root node; the names at the top
//! and the nodes they point to come from elsewhere (`tvix-store` answers with
//! its path infos, a test or a single exported tree with a fixed map).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use thiserror::Error;

use crate::{Node, PathComponent};

/// Why a [RootNodes] provider could not answer: the backend's own error.
#[derive(Debug, Error)]
#[error("root nodes: {0}")]
pub struct RootNodesError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// The entries of the top directory of a mounted castore.
#[async_trait::async_trait]
pub trait RootNodes: Send + Sync {
    /// The node called `name` at the top, or `None` if there is none.
    async fn get_by_basename(&self, name: &PathComponent) -> Result<Option<Node>, RootNodesError>;

    /// Every entry at the top, each once, in no particular order. Only used
    /// when the mount lists its top directory: for a large remote store
    /// this can be a long walk.
    fn list(&self) -> BoxStream<'static, Result<(PathComponent, Node), RootNodesError>>;
}

#[async_trait::async_trait]
impl<T: RootNodes + ?Sized> RootNodes for Arc<T> {
    async fn get_by_basename(&self, name: &PathComponent) -> Result<Option<Node>, RootNodesError> {
        self.as_ref().get_by_basename(name).await
    }

    fn list(&self) -> BoxStream<'static, Result<(PathComponent, Node), RootNodesError>> {
        self.as_ref().list()
    }
}

/// A fixed set of trees, e.g. to mount one imported directory by name.
#[async_trait::async_trait]
impl RootNodes for BTreeMap<PathComponent, Node> {
    async fn get_by_basename(&self, name: &PathComponent) -> Result<Option<Node>, RootNodesError> {
        Ok(self.get(name).cloned())
    }

    fn list(&self) -> BoxStream<'static, Result<(PathComponent, Node), RootNodesError>> {
        let entries: Vec<_> = self.clone().into_iter().map(Ok).collect();
        stream::iter(entries).boxed()
    }
}
