//! File access of the evaluator, behind a trait.
//!
//! Every file the evaluator touches — `import`, `readFile`, `readDir`,
//! `readFileType`, `pathExists`, `hashFile`, `<search path>` lookups and
//! path interpolation (`"${./x}"`, which copies `x` to the store) — goes
//! through `EvalIO`. This crate ships two implementations: `HostIO`, the
//! host's file system with store paths computed but nothing written (what
//! CppNix does in read-only mode), and `PureIO`, which refuses everything.
//! `tvix-glue` implements the trait on the tvix store, which is where
//! imports really happen. Nothing outside this module calls `std::fs`.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The type of a file, as `builtins.readDir` and `readFileType` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Directory,
    Regular,
    Symlink,
    Unknown,
}

impl FileType {
    /// The name `readDir` and `readFileType` give.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Directory => "directory",
            FileType::Regular => "regular",
            FileType::Symlink => "symlink",
            FileType::Unknown => "unknown",
        }
    }

    fn of(t: std::fs::FileType) -> Self {
        if t.is_dir() {
            FileType::Directory
        } else if t.is_file() {
            FileType::Regular
        } else if t.is_symlink() {
            FileType::Symlink
        } else {
            FileType::Unknown
        }
    }
}

/// The evaluator's view of the file system and the store.
pub trait EvalIO {
    /// Whether `path` exists (following symlinks).
    fn path_exists(&self, path: &Path) -> io::Result<bool>;

    /// Opens a file for streaming.
    fn open(&self, path: &Path) -> io::Result<Box<dyn Read>>;

    /// Reads a whole file.
    fn read_to_end(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open(path)?.read_to_end(&mut out)?;
        Ok(out)
    }

    /// The type of the file at `path`, not following a final symlink.
    fn file_type(&self, path: &Path) -> io::Result<FileType>;

    /// The entries of a directory with their types, in no particular
    /// order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>>;

    /// `path` with every symlink resolved (for `import`, whose relative
    /// paths are relative to the file's real location).
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;

    /// Copies a host path into the store, as path interpolation does, and
    /// returns its store path.
    fn import_path(&self, path: &Path) -> io::Result<PathBuf>;

    /// The store directory (`builtins.storeDir`).
    fn store_dir(&self) -> &str {
        "/nix/store"
    }
}

/// The host's file system. Store paths of imported paths are computed
/// (as `nix-store --add` would name them) but nothing is written: this
/// crate knows no store.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostIO;

impl EvalIO for HostIO {
    fn path_exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read>> {
        Ok(Box::new(std::fs::File::open(path)?))
    }

    fn read_to_end(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        Ok(FileType::of(std::fs::symlink_metadata(path)?.file_type()))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let name = entry.file_name().into_encoded_bytes();
            out.push((name, FileType::of(entry.file_type()?)));
        }
        Ok(out)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn import_path(&self, path: &Path) -> io::Result<PathBuf> {
        crate::store_path::path_to_store(path, self.store_dir())
    }
}

/// Refuses every file access: for evaluating untrusted code that must
/// not read the host.
#[derive(Clone, Copy, Debug, Default)]
pub struct PureIO;

fn refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "access to '{}' is refused: this evaluator has no file access",
            path.display()
        ),
    )
}

impl EvalIO for PureIO {
    fn path_exists(&self, path: &Path) -> io::Result<bool> {
        Err(refused(path))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read>> {
        Err(refused(path))
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        Err(refused(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        Err(refused(path))
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        Err(refused(path))
    }

    fn import_path(&self, path: &Path) -> io::Result<PathBuf> {
        Err(refused(path))
    }
}

/// `--pure-eval`: the wrapped file access, restricted to the store, as
/// CppNix's pure evaluation mode restricts it.
pub struct PureEvalIO(pub Rc<dyn EvalIO>);

impl PureEvalIO {
    fn check(&self, path: &Path) -> io::Result<()> {
        if path.starts_with(self.0.store_dir()) {
            return Ok(());
        }
        // CppNix names the first component it may not enter.
        let first: PathBuf = path.components().take(2).collect();
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "access to absolute path '{}' is forbidden in pure evaluation mode (use '--impure' to override)",
                first.display()
            ),
        ))
    }
}

impl EvalIO for PureEvalIO {
    fn path_exists(&self, path: &Path) -> io::Result<bool> {
        self.check(path)?;
        self.0.path_exists(path)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read>> {
        self.check(path)?;
        self.0.open(path)
    }

    fn read_to_end(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.check(path)?;
        self.0.read_to_end(path)
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        self.check(path)?;
        self.0.file_type(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        self.check(path)?;
        self.0.read_dir(path)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.check(path)?;
        self.0.canonicalize(path)
    }

    fn import_path(&self, path: &Path) -> io::Result<PathBuf> {
        self.check(path)?;
        self.0.import_path(path)
    }

    fn store_dir(&self) -> &str {
        self.0.store_dir()
    }
}
