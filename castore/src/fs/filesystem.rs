//! [CastoreFs]: the read-only FUSE file system over castore trees, as
//! `fuse-backend-rs` serves it (to `/dev/fuse` or a virtiofs queue).
//!
//! `fuse-backend-rs` calls in from its own threads. Reads of files whose
//! chunks lie in local files are answered right there (see [super::files]);
//! every other call that needs a service runs its future on the tokio
//! runtime the file system was built with. Nothing here may ever write to a
//! service: every operation that would change the tree answers `EROFS`.

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use fuse_backend_rs::abi::fuse_abi::{
    CreateIn, FsOptions, OpenOptions, SetattrValid, stat64, statvfs64,
};
use fuse_backend_rs::api::filesystem::{
    Context, DirEntry, Entry, FileSystem, GetxattrReply, ListxattrReply, ZeroCopyReader,
    ZeroCopyWriter,
};
use futures::TryStreamExt;

use super::files::{LocalFile, ServiceFile};
use super::inodes::{InodeData, InodeTable, ROOT_INODE};
use super::root_nodes::RootNodes;
use crate::blobservice::{BlobService, VerifiedDigests};
use crate::directoryservice::DirectoryService;
use crate::{B3Digest, Node, PathComponent};

/// How long the kernel may cache entries and attributes: castore trees never
/// change, so as long as it likes.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The modification time of every inode, as in `/nix/store`; but the top
/// directory's, see [CastoreFs::getattr].
const MTIME: i64 = 1;

/// How long the kernel may keep the top directory's attributes, and so its
/// listing (store paths come and go).
const ROOT_ATTRIBUTES_TIMEOUT: Duration = Duration::from_secs(1);

/// Block size reported by `stat` and `statfs`: the largest read the kernel
/// sends us (`MAX_PAGES`), so `cat` and `cp` read in pieces that size.
const BLOCK_SIZE: i64 = 1024 * 1024;

/// The largest directory (in entries below it) fetched with its whole
/// closure on first use: 200k entries take some tens of MiB.
const CLOSURE_MAX_ENTRIES: u64 = 200_000;

/// How many directory entries the fetched listings may hold in all before
/// they are dropped and fetched again as needed (some hundred MiB).
const LISTINGS_MAX_ENTRIES: usize = 2_000_000;

/// The entries of a directory, sorted by name (the order a [crate::Directory]
/// keeps), so `readdir` offsets are indices and lookups binary searches.
type Listing = Arc<[(PathComponent, Node)]>;

/// Directory listings fetched so far, by digest, with their entry count.
#[derive(Default)]
struct Listings {
    by_digest: HashMap<B3Digest, Listing>,
    entries: usize,
}

impl Listings {
    /// Keeps `listing`, dropping every other one first if the budget of
    /// [LISTINGS_MAX_ENTRIES] would be exceeded.
    fn insert(&mut self, digest: B3Digest, listing: Listing) {
        if self.by_digest.contains_key(&digest) {
            return;
        }
        if self.entries + listing.len() > LISTINGS_MAX_ENTRIES {
            self.by_digest.clear();
            self.entries = 0;
        }
        self.entries += listing.len();
        self.by_digest.insert(digest, listing);
    }
}

/// An open file: read on the FUSE thread, or through the blob service.
#[derive(Clone)]
enum OpenFile {
    Local(Arc<LocalFile>),
    Service(Arc<tokio::sync::Mutex<ServiceFile>>),
}

/// A castore tree (below the names a [RootNodes] gives) as a read-only file
/// system.
pub struct CastoreFs {
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
    root_nodes: Arc<dyn RootNodes>,
    /// Whether `readdir` on the top directory lists the root nodes; if not,
    /// it is empty and names only work when looked up.
    list_root: bool,
    runtime: tokio::runtime::Handle,
    inodes: RwLock<InodeTable>,
    listings: RwLock<Listings>,
    /// How each file inode read so far is read, by inode; dropped when the
    /// kernel forgets the inode. Files have no state per handle: with
    /// [FsOptions::ZERO_MESSAGE_OPEN] the kernel opens them without asking.
    files: RwLock<HashMap<u64, OpenFile>>,
    verified: VerifiedDigests,
    /// Whether the kernel opens files and directories without asking us
    /// (it caches their pages and listings then, as if we said so).
    zero_message_open: AtomicBool,
    /// The top directory as listed when it was last read from its start, so
    /// offsets stay meaningful while it is read even if the store changes.
    root_listing: RwLock<Listing>,
}

impl CastoreFs {
    /// The service calls run on `runtime`, which must not be the thread
    /// calling into the file system (a FUSE worker thread never is).
    pub fn new(
        blob_service: Arc<dyn BlobService>,
        directory_service: Arc<dyn DirectoryService>,
        root_nodes: Arc<dyn RootNodes>,
        list_root: bool,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            blob_service,
            directory_service,
            root_nodes,
            list_root,
            runtime,
            inodes: RwLock::default(),
            listings: RwLock::default(),
            files: RwLock::default(),
            verified: VerifiedDigests::default(),
            zero_message_open: AtomicBool::new(false),
            root_listing: RwLock::new(Arc::new([])),
        }
    }

    fn inode_data(&self, inode: u64) -> io::Result<Arc<InodeData>> {
        read_lock(&self.inodes)?
            .get(inode)
            .ok_or_else(|| errno(libc::ENOENT))
    }

    /// The inode of `node` as `name` in `parent`, counting a lookup by the
    /// kernel.
    fn lookup_inode(
        &self,
        parent: u64,
        name: &PathComponent,
        node: &Node,
    ) -> io::Result<(u64, Arc<InodeData>)> {
        Ok(write_lock(&self.inodes)?.lookup(parent, name, node))
    }

    /// How many inodes the kernel holds (the top directory not counted):
    /// the table shrinks as the kernel forgets them.
    pub fn inode_count(&self) -> usize {
        self.inodes.read().map_or(0, |inodes| inodes.len())
    }

    /// The entries of directory `digest`, which has `size` entries below it.
    ///
    /// On a miss, a directory with at most [CLOSURE_MAX_ENTRIES] entries
    /// below it is fetched together with every directory below it, in one
    /// `get_recursive` stream (one round trip over gRPC, one runtime hop):
    /// a walk then costs one fetch per store path instead of one per
    /// directory. Larger ones are fetched alone, so what one lookup holds in
    /// memory stays bounded; their subdirectories get the closure fetch.
    fn listing(&self, digest: &B3Digest, size: u64) -> io::Result<Listing> {
        if let Some(listing) = read_lock(&self.listings)?.by_digest.get(digest) {
            return Ok(listing.clone());
        }
        let closure = if size <= CLOSURE_MAX_ENTRIES {
            self.runtime
                .block_on(self.directory_service.get_recursive(digest).try_collect())
                .inspect_err(|e| {
                    // A broken directory below fails the whole closure; the
                    // ones above it are still served, fetched alone.
                    tracing::warn!(%digest, error = %e, "fetching a directory closure");
                })
                .ok()
        } else {
            None
        };
        let directories: Vec<crate::Directory> = match closure {
            Some(directories) => Ok(directories),
            None => self
                .runtime
                .block_on(self.directory_service.get(digest))
                .map(|directory| directory.into_iter().collect()),
        }
        .map_err(|e| {
            tracing::warn!(%digest, error = %e, "fetching directory");
            errno(libc::EIO)
        })?;
        let mut listings = write_lock(&self.listings)?;
        for (index, directory) in directories.into_iter().enumerate() {
            // `get_recursive` yields `digest` first; the others are named by
            // their parents, so their digest is computed only to key them.
            let key = if index == 0 {
                *digest
            } else {
                directory.digest()
            };
            listings.insert(key, directory.into_iter().collect());
        }
        listings.by_digest.get(digest).cloned().ok_or_else(|| {
            tracing::warn!(%digest, "directory is missing from the directory service");
            errno(libc::EIO)
        })
    }

    /// The entry `name` of the top directory, asking the provider unless
    /// the kernel holds it already; counts a lookup.
    fn lookup_root(&self, name: &PathComponent) -> io::Result<(u64, Arc<InodeData>)> {
        if let Some(found) = write_lock(&self.inodes)?.lookup_root_entry(name) {
            return Ok(found);
        }
        let node = self
            .runtime
            .block_on(self.root_nodes.get_by_basename(name))
            .map_err(|e| {
                tracing::warn!(%name, error = %e, "looking up a root node");
                errno(libc::EIO)
            })?
            .ok_or_else(|| errno(libc::ENOENT))?;
        self.lookup_inode(ROOT_INODE, name, &node)
    }

    /// The entries of directory `inode`. The top directory is listed anew
    /// when it is read from its start.
    fn directory_entries(&self, inode: u64, offset: u64) -> io::Result<Listing> {
        match &*self.inode_data(inode)? {
            InodeData::Root if offset == 0 => {
                let listing = self.list_root_nodes()?;
                *write_lock(&self.root_listing)? = listing.clone();
                Ok(listing)
            }
            InodeData::Root => Ok(read_lock(&self.root_listing)?.clone()),
            InodeData::Directory { digest, size } => self.listing(digest, *size),
            InodeData::File { .. } | InodeData::Symlink { .. } => Err(errno(libc::ENOTDIR)),
        }
    }

    /// Lists the top directory from the provider.
    fn list_root_nodes(&self) -> io::Result<Listing> {
        if !self.list_root {
            return Ok(Arc::new([]));
        }
        let mut entries: Vec<(PathComponent, Node)> = self
            .runtime
            // `list` may spawn tasks, so it is called on the runtime too.
            .block_on(async { self.root_nodes.list().try_collect().await })
            .map_err(|e| {
                tracing::warn!(error = %e, "listing the root nodes");
                errno(libc::EIO)
            })?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        Ok(entries.into())
    }

    /// The `readdir`/`readdirplus` walk: entries from `offset` on, until
    /// `add` reports the reply full (by returning 0). With `counted`, each
    /// entry sent counts as a lookup of its inode (`readdirplus`); without,
    /// an entry gets the inode the kernel holds for it or a number of its
    /// own (`readdir`, which the kernel never forgets).
    fn walk_directory(
        &self,
        inode: u64,
        offset: u64,
        counted: bool,
        mut add: impl FnMut(DirEntry, u64, &InodeData) -> io::Result<usize>,
    ) -> io::Result<()> {
        let entries = self.directory_entries(inode, offset)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (index, (name, node)) in entries.iter().enumerate().skip(start) {
            let (child, data) = {
                let mut inodes = write_lock(&self.inodes)?;
                if counted {
                    inodes.lookup(inode, name, node)
                } else {
                    let child = inodes
                        .peek(inode, name, node)
                        .unwrap_or_else(|| inodes.fresh());
                    (child, Arc::new(InodeData::of(node)))
                }
            };
            let entry = DirEntry {
                ino: child,
                // The offset of the next entry: where to resume after this.
                offset: index as u64 + 1,
                type_: dirent_type(&data),
                name: name.as_bytes(),
            };
            if add(entry, child, &data)? == 0 {
                if counted {
                    // Not sent, so not a lookup.
                    write_lock(&self.inodes)?.forget(child, 1);
                }
                break;
            }
        }
        Ok(())
    }

    /// How file `inode` is read, set up on its first use.
    fn file(&self, inode: u64) -> io::Result<OpenFile> {
        if let Some(file) = read_lock(&self.files)?.get(&inode) {
            return Ok(file.clone());
        }
        let (digest, size) = match &*self.inode_data(inode)? {
            InodeData::File { digest, size, .. } => (*digest, *size),
            InodeData::Root | InodeData::Directory { .. } => return Err(errno(libc::EISDIR)),
            InodeData::Symlink { .. } => return Err(errno(libc::ELOOP)),
        };
        let located = self.blob_service.locate(&digest).map_err(|e| {
            tracing::warn!(%digest, error = %e, "locating a blob");
            errno(libc::EIO)
        })?;
        let file = match located.and_then(|chunks| LocalFile::new(chunks, size)) {
            Some(local) => OpenFile::Local(Arc::new(local)),
            None => {
                let reader = self
                    .runtime
                    .block_on(self.blob_service.open_read(&digest))
                    .map_err(|e| {
                        tracing::warn!(%digest, error = %e, "opening a blob");
                        errno(libc::EIO)
                    })?
                    .ok_or_else(|| {
                        tracing::warn!(%digest, "blob is missing from the blob service");
                        errno(libc::EIO)
                    })?;
                OpenFile::Service(Arc::new(tokio::sync::Mutex::new(ServiceFile::new(
                    reader, size,
                ))))
            }
        };
        // A concurrent first use may have set one up too; either will do.
        write_lock(&self.files)?.insert(inode, file.clone());
        Ok(file)
    }
}

/// The attributes of `inode`.
fn attributes(inode: u64, data: &InodeData) -> stat64 {
    // SAFETY: stat64 is a plain C struct of integers, for which all zero
    // bytes are a valid value.
    let mut st: stat64 = unsafe { std::mem::zeroed() };
    let (mode, size) = match data {
        InodeData::Root => (libc::S_IFDIR | 0o555, 0),
        InodeData::Directory { size, .. } => (libc::S_IFDIR | 0o555, *size),
        InodeData::File {
            size, executable, ..
        } => (
            libc::S_IFREG | if *executable { 0o555 } else { 0o444 },
            *size,
        ),
        InodeData::Symlink { target } => (libc::S_IFLNK | 0o777, target.as_bytes().len() as u64),
    };
    st.st_ino = inode;
    st.st_mode = mode;
    // Directories too: 1 tells `find` not to count subdirectories by links.
    st.st_nlink = 1;
    st.st_size = i64::try_from(size).unwrap_or(i64::MAX);
    st.st_blksize = BLOCK_SIZE;
    st.st_blocks = i64::try_from(size.div_ceil(512)).unwrap_or(i64::MAX);
    st.st_mtime = MTIME;
    st.st_atime = MTIME;
    st.st_ctime = MTIME;
    st
}

fn entry(inode: u64, data: &InodeData) -> Entry {
    Entry {
        inode,
        generation: 0,
        attr: attributes(inode, data),
        attr_flags: 0,
        attr_timeout: FOREVER,
        entry_timeout: FOREVER,
    }
}

fn dirent_type(data: &InodeData) -> u32 {
    u32::from(match data {
        InodeData::Root | InodeData::Directory { .. } => libc::DT_DIR,
        InodeData::File { .. } => libc::DT_REG,
        InodeData::Symlink { .. } => libc::DT_LNK,
    })
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn poisoned() -> io::Error {
    tracing::error!("a lock of the file system was poisoned by a panic");
    errno(libc::EIO)
}

fn read_lock<T>(lock: &RwLock<T>) -> io::Result<std::sync::RwLockReadGuard<'_, T>> {
    lock.read().map_err(|_| poisoned())
}

fn write_lock<T>(lock: &RwLock<T>) -> io::Result<std::sync::RwLockWriteGuard<'_, T>> {
    lock.write().map_err(|_| poisoned())
}

fn read_only<T>() -> io::Result<T> {
    Err(errno(libc::EROFS))
}

impl FileSystem for CastoreFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        // Opening a file or a directory then costs no round trip: `open`
        // and `opendir` answer ENOSYS once and are not asked again.
        let zero_message =
            capable.contains(FsOptions::ZERO_MESSAGE_OPEN | FsOptions::ZERO_MESSAGE_OPENDIR);
        self.zero_message_open
            .store(zero_message, Ordering::Relaxed);
        // ASYNC_READ lets the kernel send the reads of its read-ahead at
        // once, to be served on every FUSE thread. Local files are read
        // without state per handle; a reader through the blob service
        // seeks when reads arrive out of order, which costs nothing for
        // chunks it read ahead.
        Ok(FsOptions::ASYNC_READ
            | FsOptions::DO_READDIRPLUS
            | FsOptions::READDIRPLUS_AUTO
            | FsOptions::PARALLEL_DIROPS
            | FsOptions::MAX_PAGES
            | FsOptions::CACHE_SYMLINKS)
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        // A name no castore directory can hold is simply not there.
        let name = PathComponent::try_from(name.to_bytes()).map_err(|_| errno(libc::ENOENT))?;
        let (inode, data) = match &*self.inode_data(parent)? {
            InodeData::Root => self.lookup_root(&name)?,
            InodeData::Directory { digest, size } => {
                let listing = self.listing(digest, *size)?;
                let index = listing
                    .binary_search_by(|(entry, _)| entry.cmp(&name))
                    .map_err(|_| errno(libc::ENOENT))?;
                self.lookup_inode(parent, &name, &listing[index].1)?
            }
            InodeData::File { .. } | InodeData::Symlink { .. } => {
                return Err(errno(libc::ENOTDIR));
            }
        };
        Ok(entry(inode, &data))
    }

    fn forget(&self, _ctx: &Context, inode: u64, count: u64) {
        let Ok(mut inodes) = write_lock(&self.inodes) else {
            return;
        };
        if inodes.forget(inode, count) {
            drop(inodes);
            if let Ok(mut files) = write_lock(&self.files) {
                files.remove(&inode);
            }
        }
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(stat64, Duration)> {
        let data = self.inode_data(inode)?;
        let mut attributes = attributes(inode, &data);
        if inode != ROOT_INODE {
            return Ok((attributes, FOREVER));
        }
        // The kernel keeps the top directory's listing until its mtime
        // changes, and store paths come and go: a fresh mtime each second
        // makes a listing at most that old.
        attributes.st_mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(MTIME, |since| {
                i64::try_from(since.as_secs()).unwrap_or(MTIME)
            });
        Ok((attributes, ROOT_ATTRIBUTES_TIMEOUT))
    }

    fn readlink(&self, _ctx: &Context, inode: u64) -> io::Result<Vec<u8>> {
        match &*self.inode_data(inode)? {
            InodeData::Symlink { target } => Ok(target.as_bytes().to_vec()),
            _ => Err(errno(libc::EINVAL)),
        }
    }

    fn open(
        &self,
        _ctx: &Context,
        inode: u64,
        flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        if self.zero_message_open.load(Ordering::Relaxed) {
            return Err(errno(libc::ENOSYS));
        }
        if flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32
            || flags & libc::O_TRUNC as u32 != 0
        {
            return read_only();
        }
        self.file(inode)?;
        // Contents never change: keep what the page cache has across opens.
        Ok((None, OpenOptions::KEEP_CACHE, None))
    }

    fn read(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        let file = match self.file(inode)? {
            OpenFile::Local(local) => {
                return local
                    .read(&self.verified, offset, size as usize, w)
                    .map_err(|e| {
                        tracing::warn!(inode, offset, error = %e, "reading a blob");
                        errno(libc::EIO)
                    });
            }
            OpenFile::Service(file) => file,
        };
        self.runtime.block_on(async move {
            let mut file = file.lock().await;
            let data = file.read_at(offset, size as usize).await.map_err(|e| {
                tracing::warn!(inode, offset, error = %e, "reading a blob");
                errno(libc::EIO)
            })?;
            // Straight from the handle's buffer into the reply.
            w.write_all(data)?;
            Ok(data.len())
        })
    }

    fn release(
        &self,
        _ctx: &Context,
        _inode: u64,
        _flags: u32,
        _handle: u64,
        _flush: bool,
        _flock_release: bool,
        _lock_owner: Option<u64>,
    ) -> io::Result<()> {
        Ok(())
    }

    fn flush(&self, _ctx: &Context, _inode: u64, _handle: u64, _lock_owner: u64) -> io::Result<()> {
        Ok(())
    }

    fn opendir(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        if self.zero_message_open.load(Ordering::Relaxed) {
            return Err(errno(libc::ENOSYS));
        }
        match &*self.inode_data(inode)? {
            InodeData::Root => Ok((None, OpenOptions::empty())),
            // A listing never changes, so the kernel may keep it.
            InodeData::Directory { .. } => Ok((None, OpenOptions::CACHE_DIR)),
            InodeData::File { .. } | InodeData::Symlink { .. } => Err(errno(libc::ENOTDIR)),
        }
    }

    fn readdir(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: u64,
        _size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.walk_directory(inode, offset, false, |dirent, _, _| add_entry(dirent))
    }

    fn readdirplus(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: u64,
        _size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.walk_directory(inode, offset, true, |dirent, child, data| {
            add_entry(dirent, entry(child, data))
        })
    }

    fn releasedir(&self, _ctx: &Context, _inode: u64, _flags: u32, _handle: u64) -> io::Result<()> {
        Ok(())
    }

    fn statfs(&self, _ctx: &Context, _inode: u64) -> io::Result<statvfs64> {
        // SAFETY: statvfs64 is a plain C struct of integers, for which all
        // zero bytes are a valid value.
        let mut st: statvfs64 = unsafe { std::mem::zeroed() };
        st.f_bsize = BLOCK_SIZE as u64;
        st.f_frsize = BLOCK_SIZE as u64;
        st.f_namemax = crate::MAX_NAME_LEN as u64;
        Ok(st)
    }

    fn getxattr(
        &self,
        _ctx: &Context,
        _inode: u64,
        _name: &CStr,
        _size: u32,
    ) -> io::Result<GetxattrReply> {
        // ENOSYS makes the kernel answer every later call itself, with
        // EOPNOTSUPP, instead of asking us for each file `ls -l` lists.
        Err(errno(libc::ENOSYS))
    }

    fn listxattr(&self, _ctx: &Context, _inode: u64, _size: u32) -> io::Result<ListxattrReply> {
        Err(errno(libc::ENOSYS))
    }

    fn access(&self, _ctx: &Context, inode: u64, mask: u32) -> io::Result<()> {
        self.inode_data(inode)?;
        if mask & libc::W_OK as u32 != 0 {
            return read_only();
        }
        Ok(())
    }

    fn setattr(
        &self,
        _ctx: &Context,
        _inode: u64,
        _attr: stat64,
        _handle: Option<u64>,
        _valid: SetattrValid,
    ) -> io::Result<(stat64, Duration)> {
        read_only()
    }

    fn symlink(
        &self,
        _ctx: &Context,
        _link: &CStr,
        _parent: u64,
        _name: &CStr,
    ) -> io::Result<Entry> {
        read_only()
    }

    fn mknod(
        &self,
        _ctx: &Context,
        _parent: u64,
        _name: &CStr,
        _mode: u32,
        _rdev: u32,
        _umask: u32,
    ) -> io::Result<Entry> {
        read_only()
    }

    fn mkdir(
        &self,
        _ctx: &Context,
        _parent: u64,
        _name: &CStr,
        _mode: u32,
        _umask: u32,
    ) -> io::Result<Entry> {
        read_only()
    }

    fn unlink(&self, _ctx: &Context, _parent: u64, _name: &CStr) -> io::Result<()> {
        read_only()
    }

    fn rmdir(&self, _ctx: &Context, _parent: u64, _name: &CStr) -> io::Result<()> {
        read_only()
    }

    fn rename(
        &self,
        _ctx: &Context,
        _olddir: u64,
        _oldname: &CStr,
        _newdir: u64,
        _newname: &CStr,
        _flags: u32,
    ) -> io::Result<()> {
        read_only()
    }

    fn link(&self, _ctx: &Context, _inode: u64, _parent: u64, _name: &CStr) -> io::Result<Entry> {
        read_only()
    }

    fn create(
        &self,
        _ctx: &Context,
        _parent: u64,
        _name: &CStr,
        _args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        read_only()
    }

    fn write(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        _r: &mut dyn ZeroCopyReader,
        _size: u32,
        _offset: u64,
        _lock_owner: Option<u64>,
        _delayed_write: bool,
        _flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<usize> {
        read_only()
    }

    fn fallocate(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        _mode: u32,
        _offset: u64,
        _length: u64,
    ) -> io::Result<()> {
        read_only()
    }

    fn setxattr(
        &self,
        _ctx: &Context,
        _inode: u64,
        _name: &CStr,
        _value: &[u8],
        _flags: u32,
    ) -> io::Result<()> {
        read_only()
    }

    fn removexattr(&self, _ctx: &Context, _inode: u64, _name: &CStr) -> io::Result<()> {
        read_only()
    }
}
