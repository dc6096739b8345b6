//! [GrpcDirectoryService]: a client of a remote `tvix.castore.v1.DirectoryService`.
//!
//! The client trusts the server no more than the server trusts it: every
//! directory received is validated, and a recursive get must arrive as a
//! complete closure, root first. It must never send the server part of a
//! closure: a put is sent whole, on `close()`, or not at all.

use async_trait::async_trait;
use futures::{StreamExt, stream::BoxStream};
use tonic::{Code, Streaming};

use crate::channel::GrpcChannel;

use super::{ClosureValidator, DirectoryPutter, DirectoryService, Error, RootFirstValidator};
use crate::proto::{self, directory_service_client::DirectoryServiceClient, get_directory_request};
use crate::{B3Digest, Directory};

/// Talks to a remote directory service over a [GrpcChannel]
/// (`grpc+unix:///socket`, `grpc+http://host:port`).
#[derive(Clone)]
pub struct GrpcDirectoryService {
    client: DirectoryServiceClient<GrpcChannel>,
}

impl GrpcDirectoryService {
    pub fn from_client(client: DirectoryServiceClient<GrpcChannel>) -> Self {
        Self { client }
    }

    /// Starts a get; a missing root is `Ok(None)`, whether the server says
    /// so in the response headers or as the first stream item.
    async fn start_get(
        &self,
        digest: &B3Digest,
        recursive: bool,
    ) -> Result<Option<Streaming<proto::Directory>>, Error> {
        let request = proto::GetDirectoryRequest {
            by_what: Some(get_directory_request::ByWhat::Digest(digest.into())),
            recursive,
        };
        match self.client.clone().get(request).await {
            Ok(response) => Ok(Some(response.into_inner())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status.into()),
        }
    }
}

/// The next directory of a get response, validated.
async fn next_directory(
    stream: &mut Streaming<proto::Directory>,
) -> Result<Option<Directory>, Error> {
    match stream.message().await {
        Ok(Some(proto)) => Ok(Some(Directory::try_from(proto)?)),
        Ok(None) => Ok(None),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

#[async_trait]
impl DirectoryService for GrpcDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        let Some(mut stream) = self.start_get(digest, false).await? else {
            return Ok(None);
        };
        let Some(directory) = next_directory(&mut stream).await? else {
            return Ok(None);
        };
        let actual = directory.digest();
        if actual != *digest {
            return Err(Error::DigestMismatch {
                requested: *digest,
                actual,
            });
        }
        if next_directory(&mut stream).await?.is_some() {
            return Err(Error::ExtraDirectory(*digest));
        }
        Ok(Some(directory))
    }

    fn get_recursive(&self, root: &B3Digest) -> BoxStream<'_, Result<Directory, Error>> {
        let root = *root;
        let start = async move {
            let stream = self.start_get(&root, true).await?;
            Ok::<_, Error>(stream.map(|stream| (stream, RootFirstValidator::new(root))))
        };
        futures::stream::once(start)
            .map(|started| match started {
                Ok(Some(state)) => received_closure(state),
                Ok(None) => futures::stream::empty().boxed(),
                Err(e) => futures::stream::once(async { Err(e) }).boxed(),
            })
            .flatten()
            .boxed()
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(GrpcPutter {
            client: self.client.clone(),
            validator: ClosureValidator::new(),
            buffer: Vec::new(),
        })
    }
}

/// The directories of a recursive get response, checked to form the closure
/// of the requested root.
fn received_closure(
    state: (Streaming<proto::Directory>, RootFirstValidator),
) -> BoxStream<'static, Result<Directory, Error>> {
    futures::stream::try_unfold(state, |(mut stream, mut validator)| async move {
        match next_directory(&mut stream).await? {
            Some(directory) => {
                validator.add(&directory)?;
                Ok(Some((directory, (stream, validator))))
            }
            None => {
                validator.finalize()?;
                Ok(None)
            }
        }
    })
    .boxed()
}

/// Collects a closure, checking it locally as it is put, and sends it in one
/// Put call on close.
///
/// Sending only on close is what makes an abandoned putter store nothing:
/// the protocol has no way to abort a Put stream, and a client-streaming
/// body that ends cleanly (as it does when its sender is dropped) looks
/// complete to the server. A connection that dies mid-call is a stream error
/// on the server, which then commits nothing.
struct GrpcPutter {
    client: DirectoryServiceClient<GrpcChannel>,
    validator: ClosureValidator,
    buffer: Vec<proto::Directory>,
}

#[async_trait]
impl DirectoryPutter for GrpcPutter {
    async fn put(&mut self, directory: Directory) -> Result<(), Error> {
        if self.validator.add(&directory)?.is_new {
            self.buffer.push(directory.into());
        }
        Ok(())
    }

    async fn close(mut self: Box<Self>) -> Result<B3Digest, Error> {
        let local = self.validator.finalize()?;
        let response = self
            .client
            .put(futures::stream::iter(self.buffer))
            .await?
            .into_inner();
        let remote = B3Digest::try_from(response.root_digest).map_err(Error::InvalidRootDigest)?;
        if remote != local {
            return Err(Error::RootMismatch { local, remote });
        }
        Ok(remote)
    }
}
