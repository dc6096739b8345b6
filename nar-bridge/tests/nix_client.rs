//! nar-bridge against the real Nix client: fixture paths (a tree with a
//! file, an empty file, an executable, a symlink, a subdirectory and a
//! 1 MiB file, and a text file referring to it) are added to a throwaway
//! store root (input-addressed, so that signatures matter), `nix copy --to http://…` uploads them to a bridge, and
//! `nix copy --from` fetches them into fresh store roots, whose `nix-store
//! --dump` must equal the original's. With the bridge's signing key
//! trusted the client takes the paths, with another key trusted it refuses
//! them. Each compression, for uploads and downloads. Uploads need the
//! bridge's upload token, which the client sends from its netrc file (none
//! or a wrong one: 401), and a signature by the key the bridge trusts
//! (unsigned: 403).
//!
//! Runs with Nix 2.8 from PATH and with Nix 2.26 through
//! `../shared/tools/modern-nix` (or `$MODERN_NIX`) when there. A client
//! that is not there is a skip, counted in the summary; under `CI=true` a
//! missing Nix 2.8 is a failure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

const COMPRESSIONS: [&str; 3] = ["none", "zstd", "xz"];

/// A Nix installation: how to run its commands.
struct Client {
    label: &'static str,
    /// Put before the command name (the chroot wrapper), if any.
    wrapper: Option<PathBuf>,
    /// Directory of the Nix commands as seen by the wrapper.
    bin_dir: &'static str,
}

impl Client {
    fn command(&self, program: &str, home: &Path) -> Command {
        let program = if self.bin_dir.is_empty() {
            program.to_owned()
        } else {
            format!("{}/{program}", self.bin_dir)
        };
        let mut command = match &self.wrapper {
            Some(wrapper) => {
                let mut command = Command::new(wrapper);
                command.arg(program);
                command
            }
            None => Command::new(program),
        };
        std::fs::create_dir_all(home).expect("creating a home directory");
        // `/` is the working directory: the package folder need not exist
        // inside modern-nix's chroot (CI's checkout was not visible there),
        // and from `/` the wrapper binds nothing beyond the temp folder,
        // which every path of this test is under.
        command.current_dir("/").env_remove("NIX_REMOTE");
        if self.wrapper.is_some() {
            // The wrapper bind-mounts $HOME into the chroot and never
            // unmounts it, which would leave a mount (and an undeletable
            // temp folder) per command: Nix finds its per-user folders
            // through the XDG variables instead, and HOME=/ binds nothing.
            command.env("HOME", "/");
            for (var, dir) in [
                ("XDG_CACHE_HOME", "cache"),
                ("XDG_CONFIG_HOME", "config"),
                ("XDG_DATA_HOME", "data"),
                ("XDG_STATE_HOME", "state"),
            ] {
                command.env(var, home.join(dir));
            }
        } else {
            command.env("HOME", home).env_remove("XDG_CACHE_HOME");
        }
        command.env("NIX_CONF_DIR", home).args([
            "--option",
            "experimental-features",
            "nix-command",
        ]);
        command
    }

    fn available(&self) -> bool {
        match &self.wrapper {
            Some(wrapper) => wrapper.exists(),
            None => Command::new("nix")
                .arg("--version")
                .output()
                .is_ok_and(|output| output.status.success()),
        }
    }
}

fn run(command: &mut Command) -> Result<Output, Error> {
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(output)
}

fn stdout_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .trim_matches('"')
        .to_owned()
}

/// Writes the fixture tree and returns its path.
fn write_fixture(dir: &Path) -> Result<PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt;
    let tree = dir.join("fixture");
    std::fs::create_dir_all(tree.join("sub/deeper"))?;
    std::fs::write(tree.join("hello"), "hello\n")?;
    std::fs::write(tree.join("empty"), "")?;
    std::fs::write(tree.join("sub/run"), "#!/bin/sh\necho hi\n")?;
    std::fs::set_permissions(tree.join("sub/run"), std::fs::Permissions::from_mode(0o755))?;
    std::os::unix::fs::symlink("../hello", tree.join("sub/link"))?;
    // Not very compressible, so that compression has work to do.
    let mut state = 0x9e3779b97f4a7c15u64;
    let big: Vec<u8> = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 64) as u8 + b' '
        })
        .collect();
    std::fs::write(tree.join("sub/deeper/big"), big)?;
    Ok(tree)
}

/// A running nar-bridge, stopped with SIGTERM when dropped.
struct Bridge {
    child: Child,
    url: String,
}

impl Bridge {
    fn start(args: &[&str]) -> Result<Self, Error> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_nar-bridge"))
            .args(["--listen-address", &address])
            .args(["--blob-service-addr", "memory://"])
            .args(["--directory-service-addr", "memory://"])
            .args(["--path-info-service-addr", "memory://"])
            .args(["--log-level", "warn"])
            .args(args)
            .spawn()?;
        let started = Instant::now();
        while TcpStream::connect(&address).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err("nar-bridge did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            child,
            url: format!("http://{address}"),
        })
    }

    /// The body of a GET of `path`.
    fn get(&self, path: &str) -> Result<String, Error> {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address)?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default())
    }

    /// Sends SIGTERM and checks that the bridge stops cleanly.
    fn stop(mut self) -> Result<(), Error> {
        run(Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string()))?;
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("nar-bridge exited with {status}").into());
        }
        Ok(())
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The NAR of `store_path` in the store rooted at `root`.
fn dump(client: &Client, home: &Path, root: &Path, store_path: &str) -> Result<Vec<u8>, Error> {
    let real = root.join(store_path.trim_start_matches('/'));
    Ok(run(client.command("nix-store", home).arg("--dump").arg(real))?.stdout)
}

fn round_trip(client: &Client, compression: &str) -> Result<(), Error> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let home = |name: &str| dir.join("homes").join(name);
    let fixture = write_fixture(dir)?;
    let staging = dir.join("staging");
    let src = dir.join("src");

    let expression = format!(
        "builtins.toFile \"refers\" \"the fixture is ${{{}}}\"",
        fixture.display()
    );
    let top = stdout_line(&run(client
        .command("nix-instantiate", &home("setup"))
        .args(["--store"])
        .arg(&staging)
        .args(["--read-write-mode", "--eval", "-E", &expression]))?);
    let closure_output = run(client
        .command("nix-store", &home("setup"))
        .arg("--store")
        .arg(&staging)
        .args(["--query", "--requisites", &top]))?;
    let closure: Vec<String> = String::from_utf8(closure_output.stdout)?
        .lines()
        .map(str::to_owned)
        .collect();
    if closure.len() != 2 {
        return Err(format!("expected a closure of two paths, got {closure:?}").into());
    }
    // Content-addressed paths need no signature, so the paths go through
    // an export and import, which drops what they are addressed by.
    let export = dir.join("closure.export");
    let exported = run(client
        .command("nix-store", &home("setup"))
        .arg("--store")
        .arg(&staging)
        .arg("--export")
        .args(&closure))?;
    std::fs::write(&export, exported.stdout)?;
    run(client
        .command("nix-store", &home("setup"))
        .arg("--store")
        .arg(&src)
        .arg("--import")
        .stdin(std::fs::File::open(&export)?))?;

    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    for name in ["bridge", "other", "uploader"] {
        run(client
            .command("nix-store", &home("setup"))
            .args(["--generate-binary-cache-key", &format!("{name}-1")])
            .arg(keys.join(format!("{name}.sec")))
            .arg(keys.join(format!("{name}.pub"))))?;
    }
    let public_key = |name: &str| std::fs::read_to_string(keys.join(format!("{name}.pub")));

    let token = dir.join("upload-token");
    std::fs::write(&token, "s3cret-upload-token\n")?;
    let uploader_key = public_key("uploader")?;
    let bridge = Bridge::start(&[
        "--allow-upload",
        "--upload-token-file",
        token.to_str().ok_or("non-UTF-8 temp dir")?,
        "--upload-dir",
        dir.join("uploads").to_str().ok_or("non-UTF-8 temp dir")?,
        "--trusted-public-keys",
        uploader_key.trim(),
        "--compression",
        compression,
        "--signing-key",
        keys.join("bridge.sec")
            .to_str()
            .ok_or("non-UTF-8 temp dir")?,
    ])?;
    let url = &bridge.url;
    let netrc = dir.join("netrc");
    std::fs::write(
        &netrc,
        "machine 127.0.0.1 login nix password s3cret-upload-token\n",
    )?;
    let wrong_netrc = dir.join("wrong-netrc");
    std::fs::write(&wrong_netrc, "machine 127.0.0.1 login nix password guess\n")?;
    let copy_to = |netrc: Option<&Path>| {
        let mut command = client.command("nix", &home("uploader"));
        if let Some(netrc) = netrc {
            command.arg("--option").arg("netrc-file").arg(netrc);
        }
        run(command.args(["copy", "--store"]).arg(&src).args([
            "--to",
            &format!("{url}?compression={compression}"),
            &top,
        ]))
    };
    let top_narinfo = format!("/{}.narinfo", &top[11..43]);

    // Without the token (no netrc, a wrong password): 401, nothing stored.
    for netrc in [None, Some(wrong_netrc.as_path())] {
        match copy_to(netrc) {
            Ok(_) => return Err(format!("an upload with netrc {netrc:?} was taken").into()),
            Err(error) if !error.to_string().contains("401") => {
                return Err(format!("expected a 401, got: {error}").into());
            }
            Err(_) => {}
        }
    }
    // With the token, but unsigned while the bridge wants the uploader's
    // signature: 403.
    match copy_to(Some(&netrc)) {
        Ok(_) => return Err("an unsigned upload was taken".into()),
        Err(error) if !error.to_string().contains("403") => {
            return Err(format!("expected a 403, got: {error}").into());
        }
        Err(_) => {}
    }
    if bridge.get(&top_narinfo)?.contains("StorePath:") {
        return Err("a refused upload became visible".into());
    }
    run(client
        .command("nix", &home("setup"))
        .args(["store", "sign", "--store"])
        .arg(&src)
        .arg("--key-file")
        .arg(keys.join("uploader.sec"))
        .args(["--recursive", &top]))?;
    copy_to(Some(&netrc))?;

    let served = bridge.get(&top_narinfo)?;
    if !served.contains(&format!("Compression: {compression}\n"))
        || !served.contains("Sig: bridge-1:")
    {
        return Err(format!("the narinfo served does not look right:\n{served}").into());
    }

    // The uploader's client remembers the narinfos it uploaded, with the
    // URLs of its uploads.
    let copy_from = |home_name: &str, dest: &Path, extra: &[&str]| {
        run(client
            .command("nix", &home(home_name))
            .args(["copy", "--store"])
            .arg(dest)
            .args(["--from", url, &top])
            .args(extra))
    };
    let same_client = dir.join("dst-same-client");
    copy_from("uploader", &same_client, &["--no-check-sigs"])?;
    let trusted = dir.join("dst-trusted");
    let bridge_key = public_key("bridge")?;
    copy_from(
        "trusted",
        &trusted,
        &["--option", "trusted-public-keys", bridge_key.trim()],
    )?;
    let untrusted = dir.join("dst-untrusted");
    let other_key = public_key("other")?;
    if copy_from(
        "untrusted",
        &untrusted,
        &["--option", "trusted-public-keys", other_key.trim()],
    )
    .is_ok()
    {
        return Err("the client took paths signed by a key it does not trust".into());
    }
    for store_path in &closure {
        let original = dump(client, &home("setup"), &src, store_path)?;
        for dest in [&same_client, &trusted] {
            if dump(client, &home("setup"), dest, store_path)? != original {
                return Err(format!("{store_path} differs in {}", dest.display()).into());
            }
        }
        if untrusted.join(store_path.trim_start_matches('/')).exists() {
            return Err(format!("{store_path} arrived in the untrusting store").into());
        }
    }
    bridge.stop()
}

fn main() -> ExitCode {
    let in_ci = std::env::var("CI").is_ok_and(|value| value == "true");
    let modern_nix = std::env::var_os("MODERN_NIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/modern-nix")
        });
    let clients = [
        (
            Client {
                label: "nix 2.8",
                wrapper: None,
                bin_dir: "",
            },
            in_ci,
        ),
        (
            Client {
                label: "nix 2.26 (modern-nix)",
                wrapper: Some(modern_nix),
                bin_dir: "/usr/bin",
            },
            false,
        ),
    ];
    let (mut passed, mut skipped, mut failed) = (0, 0, 0);
    for (client, required) in &clients {
        for compression in COMPRESSIONS {
            let name = format!("{} round trip, compression {compression}", client.label);
            if !client.available() {
                if *required {
                    eprintln!("FAIL {name}: the client is missing (CI=true)");
                    failed += 1;
                } else {
                    eprintln!("SKIP {name}: the client is not installed");
                    skipped += 1;
                }
                continue;
            }
            let started = Instant::now();
            match round_trip(client, compression) {
                Ok(()) => {
                    eprintln!("ok   {name} ({:.1?})", started.elapsed());
                    passed += 1;
                }
                Err(error) => {
                    eprintln!("FAIL {name}: {error}");
                    failed += 1;
                }
            }
        }
    }
    eprintln!("nix_client: {passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
