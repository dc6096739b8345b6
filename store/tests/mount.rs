//! End to end: `tvix-store mount` over imported trees (the NAR fixtures, a
//! real directory of a few thousand files, a file of many chunks), read
//! back with `diff -r`, `nix-store --dump` and plain file system calls,
//! over a local store and over a `tvix-store daemon`; stopped by signals,
//! also while a read is running.
//!
//! Where `/dev/fuse` is absent every test says so and passes; under
//! `CI=true` that is a failure, and so is a missing `nix-store`.

mod common;

use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use rstest::rstest;
use tvix_castore::fs::{FUSE_DEVICE, is_mount_point};

/// A real directory of a few thousand files (libc6-dev's headers, there
/// wherever a C compiler is).
const REAL_TREE: &str = "/usr/include";

static SKIPPED: AtomicUsize = AtomicUsize::new(0);

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether FUSE can be used; if not, says so (failing under `CI=true`).
fn fuse_available(test: &str) -> bool {
    if Path::new(FUSE_DEVICE).exists() {
        return true;
    }
    assert!(!under_ci(), "{test}: {FUSE_DEVICE} is absent under CI=true");
    let skipped = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
    eprintln!("skipped {test}: {FUSE_DEVICE} is absent ({skipped} mount tests skipped so far)");
    false
}

/// A running `tvix-store mount`; stopped (and the mount removed) on drop if
/// the test fails first.
struct Mounted {
    child: Child,
    mountpoint: PathBuf,
}

impl Mounted {
    /// Starts a mount of `store` on `mountpoint` and waits until it is
    /// mounted.
    fn start(store: &[String], mountpoint: &Path, flags: &[&str]) -> Self {
        fs::create_dir_all(mountpoint).expect("mkdir mountpoint");
        let mountpoint = mountpoint.canonicalize().expect("canonicalize");
        let mut child = Command::new(BIN)
            .args(store)
            .arg("mount")
            .arg(&mountpoint)
            .args(flags)
            .stdin(Stdio::null())
            .spawn()
            .expect("start tvix-store mount");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !is_mount_point(&mountpoint) {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("tvix-store mount exited with {status} before mounting");
            }
            assert!(Instant::now() < deadline, "not mounted after 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, mountpoint }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.mountpoint.join(relative)
    }

    /// Sends `signal`; the process must exit successfully within 20 s and
    /// leave nothing mounted.
    fn stop(mut self, signal: &str) -> ExitStatus {
        send_signal(self.child.id(), signal);
        let status = wait_with_deadline(&mut self.child, Duration::from_secs(20))
            .expect("tvix-store mount still running 20 s after the signal");
        assert!(
            !is_mount_point(&self.mountpoint),
            "still mounted after exit"
        );
        status
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            send_signal(self.child.id(), "TERM");
            if wait_with_deadline(&mut self.child, Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if is_mount_point(&self.mountpoint) {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mountpoint)
                .status();
        }
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Deterministic bytes that do not repeat, so every chunk differs.
fn contents(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Imports `path`, returning the store path's basename.
fn import(store: &[String], path: &Path) -> String {
    let stdout = tvix_store_ok(store, &["import", path.to_str().expect("UTF-8 path")]);
    let [store_path] = lines(&stdout).try_into().expect("one store path");
    store_path
        .strip_prefix("/nix/store/")
        .expect("a store path")
        .to_owned()
}

/// The mode the mount must show for what `original` is on disk.
fn expected_mode(original: &fs::Metadata) -> u32 {
    if original.is_dir() {
        0o040555
    } else if original.is_symlink() {
        0o120777
    } else if original.mode() & 0o100 != 0 {
        0o100555
    } else {
        0o100444
    }
}

/// Every entry below `original` has the mode, size and symlink target the
/// castore keeps, at the same place below `mounted`. Returns the files.
fn check_entries(original: &Path, mounted: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(original).follow_root_links(false) {
        let entry = entry.expect("walk");
        let relative = entry.path().strip_prefix(original).expect("below");
        // Joining "" would add a slash, which a file refuses.
        let there = if relative.as_os_str().is_empty() {
            mounted.to_owned()
        } else {
            mounted.join(relative)
        };
        let want = fs::symlink_metadata(entry.path()).expect("lstat original");
        let got = fs::symlink_metadata(&there).expect("lstat mounted");
        assert_eq!(expected_mode(&want), got.mode(), "{there:?}");
        assert_eq!(1, got.mtime(), "{there:?}");
        if want.is_symlink() {
            assert_eq!(
                fs::read_link(entry.path()).unwrap(),
                fs::read_link(&there).unwrap(),
                "{there:?}"
            );
        } else if want.is_file() {
            assert_eq!(want.len(), got.len(), "{there:?}");
            files.push(relative.to_owned());
        }
    }
    files
}

fn diff_r(original: &Path, mounted: &Path) {
    let output = Command::new("diff")
        .args(["-r", "--no-dereference"])
        .arg(original)
        .arg(mounted)
        .output()
        .expect("run diff");
    assert!(
        output.status.success(),
        "diff -r {original:?} {mounted:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether `nix-store` is there for the NAR comparison (it must be under
/// CI).
fn nix_store_available(test: &str) -> bool {
    let found = have_nix_store(test);
    assert!(
        found || !under_ci(),
        "{test}: nix-store is missing under CI=true"
    );
    found
}

#[test]
fn imported_trees_read_back_through_the_mount() {
    if !fuse_available("imported_trees_read_back_through_the_mount") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = mkdir(tmp.path().join("in"));
    nar_trees(&input);
    write(&input.join("big"), &contents(9 * 1024 * 1024 + 3, 7), 0o644);
    let store = LocalStore::new(&tmp.path().join("store"), "redb").args();

    let mut originals: Vec<(PathBuf, String)> = NAR_TREES
        .iter()
        .chain(&["big"])
        .map(|name| input.join(name))
        .chain([PathBuf::from(REAL_TREE)])
        .map(|path| {
            let basename = import(&store, &path);
            (path, basename)
        })
        .collect();
    // The stored NARs, taken before the mount holds the store.
    let nars: Vec<Vec<u8>> = originals
        .iter()
        .map(|(_, basename)| tvix_store_ok(&store, &["export-nar", basename]))
        .collect();

    let mount = Mounted::start(&store, &tmp.path().join("mnt"), &["--list-root"]);
    let mut listed: Vec<String> = fs::read_dir(&mount.mountpoint)
        .expect("read_dir")
        .map(|entry| entry.expect("entry").file_name().into_string().unwrap())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = originals.iter().map(|(_, b)| b.clone()).collect();
    expected.sort();
    assert_eq!(expected, listed);

    let real_files = fs::read_dir(REAL_TREE).map(Iterator::count).unwrap_or(0);
    assert!(real_files > 0, "{REAL_TREE} is missing");
    for (original, basename) in &originals {
        let mounted = mount.path(basename);
        diff_r(original, &mounted);
        check_entries(original, &mounted);
    }

    if nix_store_available("imported_trees_read_back_through_the_mount (NAR dump)") {
        for ((_, basename), nar) in originals.iter().zip(&nars) {
            let dumped = nix_store(&["--dump", mount.path(basename).to_str().unwrap()]);
            assert!(dumped == *nar, "nix-store --dump of {basename} differs");
        }
    }

    // Seeking reads in a file of many chunks.
    let (big_path, big_basename) = originals.remove(NAR_TREES.len());
    let big = fs::read(&big_path).expect("read big");
    let file = fs::File::open(mount.path(&big_basename)).expect("open big");
    for i in (0..30u64).rev() {
        let offset = (i * 313_131 * 7) % big.len() as u64;
        let mut buffer = vec![0; 70_000];
        let n = file.read_at(&mut buffer, offset).expect("read_at");
        let start = offset as usize;
        assert_eq!(&big[start..(start + 70_000).min(big.len())], &buffer[..n]);
    }

    // Concurrent readers of the same and of different files.
    let (real_path, real_basename) = originals.pop().expect("real tree");
    let real_files = check_entries(&real_path, &mount.path(&real_basename));
    std::thread::scope(|scope| {
        for reader in 0..4 {
            let (big, big_basename, real_files) = (&big, &big_basename, &real_files);
            let (mount, real_path, real_basename) = (&mount, &real_path, &real_basename);
            scope.spawn(move || {
                let mut data = Vec::new();
                fs::File::open(mount.path(big_basename))
                    .and_then(|mut f| f.read_to_end(&mut data))
                    .expect("read big");
                assert!(data == *big, "reader {reader}: big differs");
                for relative in real_files.iter().skip(reader).step_by(4) {
                    let want = fs::read(real_path.join(relative)).expect("read original");
                    let got = fs::read(mount.path(real_basename).join(relative)).expect("read");
                    assert!(want == got, "reader {reader}: {relative:?} differs");
                }
            });
        }
    });

    // Missing names, and writes.
    for missing in [
        "00000000000000000000000000000000-missing".to_owned(),
        "not-a-store-path".to_owned(),
        format!("{real_basename}/no-such-header.h"),
    ] {
        let error = fs::metadata(mount.path(&missing)).expect_err(&missing);
        assert_eq!(ErrorKind::NotFound, error.kind(), "{missing}");
    }
    let erofs = Some(libc::EROFS);
    let new = mount.path(&format!("{real_basename}/new"));
    assert_eq!(erofs, fs::write(&new, b"x").unwrap_err().raw_os_error());
    assert_eq!(erofs, fs::create_dir(&new).unwrap_err().raw_os_error());
    let existing = mount.path(&big_basename);
    let opened = fs::OpenOptions::new().write(true).open(&existing);
    assert_eq!(erofs, opened.err().and_then(|e| e.raw_os_error()));

    assert!(mount.stop("TERM").success());
}

/// A signal while a reader is in the middle of a file unmounts, ends the
/// process, and leaves the reader with an error, not a hang.
#[rstest]
#[case::sigterm("TERM")]
#[case::sigint("INT")]
fn signal_during_a_read_unmounts_cleanly(#[case] signal: &str) {
    if !fuse_available("signal_during_a_read_unmounts_cleanly") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let big = tmp.path().join("big");
    write(&big, &contents(48 * 1024 * 1024, 3), 0o644);
    let store = LocalStore::new(&tmp.path().join("store"), "redb").args();
    let basename = import(&store, &big);
    let mount = Mounted::start(&store, &tmp.path().join("mnt"), &[]);

    // One reader holds the file open half-way; another reads on and on.
    let mut held = fs::File::open(mount.path(&basename)).expect("open");
    let mut buffer = vec![0; 1024 * 1024];
    held.read_exact(&mut buffer).expect("first MiB");
    let mut streaming = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while cat {} > /dev/null; do :; done",
            mount.path(&basename).display()
        ))
        .spawn()
        .expect("start reader");
    std::thread::sleep(Duration::from_millis(300));

    let status = mount.stop(signal);
    assert!(status.success(), "tvix-store mount exited with {status}");
    let reader_status = wait_with_deadline(&mut streaming, Duration::from_secs(20));
    let _ = streaming.kill();
    assert!(
        reader_status.is_some(),
        "the streaming reader hangs after unmount"
    );
    // The held file reads on to an error or to its end, but never hangs.
    let mut rest = Vec::new();
    let _ = held.read_to_end(&mut rest);
}

/// `umount MOUNTPOINT` from outside: the process notices that the mount
/// is gone and exits successfully, leaving nothing behind.
#[test]
fn unmounting_from_outside_ends_the_process() {
    if !fuse_available("unmounting_from_outside_ends_the_process") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("file");
    write(&file, b"hello\n", 0o644);
    let store = LocalStore::new(&tmp.path().join("store"), "redb").args();
    let basename = import(&store, &file);
    let mut mount = Mounted::start(&store, &tmp.path().join("mnt"), &[]);
    assert_eq!(
        b"hello\n",
        fs::read(mount.path(&basename)).unwrap().as_slice()
    );

    let status = Command::new("umount")
        .arg(&mount.mountpoint)
        .status()
        .expect("run umount");
    assert!(status.success(), "umount failed");
    let status = wait_with_deadline(&mut mount.child, Duration::from_secs(20))
        .expect("tvix-store mount still running 20 s after umount");
    assert!(status.success(), "tvix-store mount exited with {status}");
    assert!(!is_mount_point(&mount.mountpoint));
}

#[test]
fn busy_mountpoint_and_missing_fuse_device_are_refused() {
    if !fuse_available("busy_mountpoint_and_missing_fuse_device_are_refused") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = LocalStore::new(&tmp.path().join("store"), "redb").args();
    let mount = Mounted::start(&store, &tmp.path().join("mnt"), &[]);
    let mountpoint = mount.mountpoint.to_str().expect("UTF-8").to_owned();

    let second = tvix_store(&all_services_at("memory://"), &["mount", &mountpoint]);
    assert_eq!(Some(1), second.status.code());
    assert_eq!(
        format!("error: mountpoint {mountpoint:?} is busy: something is already mounted there\n"),
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(mount.stop("TERM").success());

    // In a mount namespace whose /dev lacks the FUSE device.
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs tmpfs /dev && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(all_services_at("memory://"))
        .args(["mount", &mountpoint])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    assert_eq!(
        "error: /dev/fuse is missing: load the fuse kernel module, or pass the device into the container\n",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(Some(1), output.status.code());
}

/// The mount works on a daemon's services as on local ones.
#[test]
fn mount_over_a_daemon() {
    if !fuse_available("mount_over_a_daemon") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = mkdir(tmp.path().join("in"));
    nar_trees(&input);
    let store = LocalStore::new(&tmp.path().join("store"), "redb").args();
    let socket = tmp.path().join("daemon.sock");
    let daemon = Daemon::start(&store, &socket);
    let client = all_services_at(&format!("grpc+unix://{}", socket.display()));
    let nested = input.join("nested");
    let basename = import(&client, &nested);

    let mount = Mounted::start(&client, &tmp.path().join("mnt"), &["--threads", "2"]);
    // Without --list-root the top directory is empty, but names work.
    assert_eq!(0, fs::read_dir(&mount.mountpoint).unwrap().count());
    diff_r(&nested, &mount.path(&basename));
    check_entries(&nested, &mount.path(&basename));
    assert!(mount.stop("TERM").success());
    daemon.stop();
}
