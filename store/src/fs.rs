//! The store as the top directory of a castore mount: every store path by
//! its basename (`<hash>-<name>`), looked up in a [PathInfoService].
//!
//! A name that is not a store path, or names a path whose hash is stored
//! under another name, is simply not there.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use nix_compat::store_path::StorePathRef;
use tvix_castore::fs::{CastoreFs, RootNodes, RootNodesError};
use tvix_castore::{Node, PathComponent};

use crate::pathinfoservice::PathInfoService;
use crate::utils::Services;

/// The file system `tvix-store mount` and `virtiofs` serve: a store's
/// paths at the top, their trees below, the service calls on the current
/// runtime.
pub fn store_fs(services: &Services, list_root: bool) -> CastoreFs {
    CastoreFs::new(
        services.blob_service.clone(),
        services.directory_service.clone(),
        Arc::new(StorePathRootNodes(services.path_info_service.clone())),
        list_root,
        tokio::runtime::Handle::current(),
    )
}

/// [RootNodes] answered by a [PathInfoService].
pub struct StorePathRootNodes(pub Arc<dyn PathInfoService>);

#[async_trait::async_trait]
impl RootNodes for StorePathRootNodes {
    async fn get_by_basename(&self, name: &PathComponent) -> Result<Option<Node>, RootNodesError> {
        let Ok(store_path) = StorePathRef::from_bytes(name.as_bytes()) else {
            return Ok(None);
        };
        let path_info = self
            .0
            .get(*store_path.digest())
            .await
            .map_err(|e| RootNodesError(Box::new(e)))?;
        Ok(path_info
            .filter(|path_info| path_info.store_path.name() == store_path.name())
            .map(|path_info| path_info.node))
    }

    fn list(&self) -> BoxStream<'static, Result<(PathComponent, Node), RootNodesError>> {
        self.0
            .list()
            .map(|path_info| {
                let path_info = path_info.map_err(|e| RootNodesError(Box::new(e)))?;
                // A store path basename is always a valid name.
                let name = PathComponent::try_from(path_info.store_path.to_string().as_str())
                    .map_err(|e| RootNodesError(Box::new(e)))?;
                Ok((name, path_info.node))
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use nix_compat::store_path::StorePath;

    use super::*;
    use crate::fixtures::PATH_INFO_FILE as PATH_INFO;
    use crate::pathinfoservice::MemoryPathInfoService;

    #[tokio::test]
    async fn looks_up_store_paths_by_basename_only() {
        let service = Arc::new(MemoryPathInfoService::new());
        service.put(PATH_INFO.clone()).await.expect("put");
        let roots = StorePathRootNodes(service);
        let basename = PATH_INFO.store_path.to_string();
        let found = roots
            .get_by_basename(&PathComponent::try_from(basename.as_str()).unwrap())
            .await
            .unwrap();
        assert_eq!(Some(PATH_INFO.node.clone()), found);

        let other_name = StorePath::from_name_and_digest("other", PATH_INFO.store_path.digest())
            .unwrap()
            .to_string();
        for missing in [other_name.as_str(), "not-a-store-path"] {
            let name = PathComponent::try_from(missing).unwrap();
            assert_eq!(
                None,
                roots.get_by_basename(&name).await.unwrap(),
                "{missing}"
            );
        }

        let listed: Vec<_> = roots.list().try_collect().await.unwrap();
        assert_eq!(
            vec![(
                PathComponent::try_from(basename.as_str()).unwrap(),
                PATH_INFO.node.clone()
            )],
            listed
        );
    }
}
