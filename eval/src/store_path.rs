//! The store path a host path gets when it is added to the store, as
//! `nix-store --add` names it: the sha256 of its NAR, and its base name.
//!
//! `HostIO` uses this for path interpolation (`"${./src}"`) without a
//! store to write to, as CppNix does in read-only mode.

use std::io::{self, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix_compat::nar::writer::{self, Node};
use nix_compat::nixhash::{CAHash, NixHash};
use nix_compat::store_path::build_ca_path;
use sha2::Digest;

/// Writes the NAR serialisation of a host path to `node`.
fn dump<W: Write>(path: &Path, node: Node<'_, W>) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        node.symlink(std::fs::read_link(path)?.as_os_str().as_encoded_bytes())
    } else if file_type.is_file() {
        let executable = meta.permissions().mode() & 0o100 != 0;
        let mut file = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
        node.file(executable, meta.len(), &mut file)
    } else if file_type.is_dir() {
        let mut names = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        let mut dir = node.directory()?;
        for name in names {
            dump(&path.join(&name), dir.entry(name.as_encoded_bytes())?)?;
        }
        dir.close()
    } else {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("file '{}' has an unsupported type", path.display()),
        ))
    }
}

/// A sink that only hashes.
struct Sha256Sink(sha2::Sha256);

impl Write for Sha256Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The sha256 of the NAR serialisation of a host path.
pub fn nar_sha256(path: &Path) -> io::Result<[u8; 32]> {
    let mut sink = Sha256Sink(sha2::Sha256::new());
    dump(path, writer::open(&mut sink)?)?;
    Ok(sink.0.finalize().into())
}

/// The store path `path` would be added at (recursive, sha256), named
/// after its last component.
pub fn path_to_store(path: &Path, store_dir: &str) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the root has no name"))?;
    let hash = NixHash::Sha256(nar_sha256(path)?);
    let store_path = build_ca_path(&name, &CAHash::Nar(hash), [] as [&str; 0], false)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    Ok(Path::new(store_dir).join(store_path.to_string()))
}
