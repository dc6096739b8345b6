//! [BufferedPutter]: the [DirectoryPutter] of local backends, which collects
//! a validated closure in memory and hands it to the backend in one batch, so
//! the backend can commit it in a single transaction. It must never write
//! anything before `close()` has validated the closure as a whole.

use async_trait::async_trait;

use super::{ClosureValidator, DirectoryPutter, Error};
use crate::{B3Digest, Directory};

/// A backend that can store a batch of directories atomically.
#[async_trait]
pub(crate) trait WriteBatch: Send + Sync {
    /// Stores all `directories` (keyed by digest) or none of them.
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error>;
}

pub(crate) struct BufferedPutter<'a, W: ?Sized> {
    backend: &'a W,
    validator: ClosureValidator,
    buffer: Vec<(B3Digest, Directory)>,
}

impl<'a, W: WriteBatch + ?Sized> BufferedPutter<'a, W> {
    pub(crate) fn new(backend: &'a W) -> Self {
        Self {
            backend,
            validator: ClosureValidator::new(),
            buffer: Vec::new(),
        }
    }
}

#[async_trait]
impl<W: WriteBatch + ?Sized> DirectoryPutter for BufferedPutter<'_, W> {
    async fn put(&mut self, directory: Directory) -> Result<(), Error> {
        let accepted = self.validator.add(&directory)?;
        if accepted.is_new {
            self.buffer.push((accepted.digest, directory));
        }
        Ok(())
    }

    async fn close(self: Box<Self>) -> Result<B3Digest, Error> {
        let root = self.validator.finalize()?;
        self.backend.write_batch(self.buffer).await?;
        Ok(root)
    }
}
