//! Google's in-memory Bigtable server (`bttest`) for integration tests
//! (feature `integration`): finding or building the emulator binary,
//! starting it, and creating tables through its admin API.
//!
//! The binary is `$TVIX_BIGTABLE_EMULATOR`, else `target/bigtable-emulator`
//! of the workspace, which is built from `castore/tests/bigtable-emulator`
//! with Debian's `golang-go` and `golang-google-cloud-dev` when missing
//! (`.ci/run` builds it up front). Where it can be neither found nor built
//! a test using [shared_table_url] says so and is skipped; under `CI=true`
//! that is a failure.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use googleapis_tonic_google_bigtable_admin_v2::google::bigtable::admin::v2::{
    ColumnFamily, CreateTableRequest, GcRule, Table,
    bigtable_table_admin_client::BigtableTableAdminClient, gc_rule,
};

pub const PROJECT_ID: &str = "tvix-test";
pub const INSTANCE_NAME: &str = "tvix-test";
pub const FAMILY_NAME: &str = "cf1";

/// A running emulator, killed when dropped (and when the test process
/// ends: it exits once its standard input, a pipe from us, closes).
pub struct Emulator {
    child: Child,
    /// `host:port`, as `BIGTABLE_EMULATOR_HOST` takes it.
    pub addr: String,
}

impl Emulator {
    /// Starts an emulator on a free port of 127.0.0.1.
    pub fn start() -> Result<Self, String> {
        Self::start_on(0)
    }

    /// Starts an emulator on `port` of 127.0.0.1 (0: any free port); a
    /// restart on the port of a killed one comes back empty.
    pub fn start_on(port: u16) -> Result<Self, String> {
        let binary = binary()?;
        let mut child = Command::new(&binary)
            .args(["-exit-with-stdin", "-port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        match first_line(stdout) {
            Ok(addr) => Ok(Self { child, addr }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{}: {e}", binary.display()))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> u16 {
        self.addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("the emulator prints host:port")
    }

    /// Kills the emulator at once (an outage, not a shutdown).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn first_line(stdout: ChildStdout) -> Result<String, String> {
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("reading its address: {e}"))?;
    match line.trim() {
        "" => Err("exited without printing its address".into()),
        addr => Ok(addr.to_owned()),
    }
}

/// The emulator binary, built first if it is missing.
pub fn binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("TVIX_BIGTABLE_EMULATOR") {
        return Ok(path.into());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("castore is in the workspace");
    let target = workspace.join("target/bigtable-emulator");
    if !target.exists() {
        build(&workspace.join("castore/tests/bigtable-emulator"), &target)?;
    }
    Ok(target)
}

/// Builds the emulator from `source` into `target` in Go's GOPATH mode
/// over Debian's packaged Go sources, offline.
fn build(source: &Path, target: &Path) -> Result<(), String> {
    let partial = target.with_extension(format!("partial-{}", std::process::id()));
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&partial)
        .arg("main.go")
        .current_dir(source)
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .output()
        .map_err(|e| {
            format!("no emulator at {} and `go` does not run ({e}): install golang-go and golang-google-cloud-dev", target.display())
        })?;
    if !output.status.success() {
        return Err(format!(
            "building the emulator failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::rename(&partial, target).map_err(|e| format!("installing the emulator: {e}"))
}

/// Creates `table` with the family [FAMILY_NAME] in the emulator at `addr`.
pub async fn create_table(addr: &str, table: &str) -> Result<(), String> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connecting to the emulator at {addr}: {e}"))?;
    let mut client = BigtableTableAdminClient::new(channel);
    client
        .create_table(CreateTableRequest {
            parent: format!("projects/{PROJECT_ID}/instances/{INSTANCE_NAME}"),
            table_id: table.to_owned(),
            table: Some(Table {
                // One version per cell, as the backends write. (An empty
                // ColumnFamily would also crash the emulator: it decodes
                // the omitted map value as a nil pointer.)
                column_families: HashMap::from([(
                    FAMILY_NAME.to_owned(),
                    ColumnFamily {
                        gc_rule: Some(GcRule {
                            rule: Some(gc_rule::Rule::MaxNumVersions(1)),
                        }),
                        ..Default::default()
                    },
                )]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("creating table {table}: {e}"))?;
    Ok(())
}

/// The address of a table in the emulator: what a backend is opened with.
pub fn table_url(table: &str) -> String {
    format!(
        "bigtable://{INSTANCE_NAME}?project_id={PROJECT_ID}&table_name={table}&family_name={FAMILY_NAME}"
    )
}

/// The emulator shared by the tests of this process, started on first use,
/// with `BIGTABLE_EMULATOR_HOST` pointing at it; its error if it could not
/// start.
fn shared() -> Result<&'static str, &'static str> {
    static SHARED: OnceLock<Result<(Mutex<Emulator>, String), String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let emulator = Emulator::start()?;
            // SAFETY: set once, before any Bigtable backend of this process
            // reads it; Rust's own environment accesses are serialised, and
            // nothing else in the tests writes the environment.
            unsafe { std::env::set_var("BIGTABLE_EMULATOR_HOST", &emulator.addr) };
            let addr = emulator.addr.clone();
            Ok((Mutex::new(emulator), addr))
        })
        .as_ref()
        .map(|(_, addr)| addr.as_str())
        .map_err(String::as_str)
}

static SKIPPED: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty table in the shared emulator, as a `bigtable://` URL; or
/// None (after saying so on stderr) if there is no emulator. Under
/// `CI=true` a missing emulator panics instead.
pub async fn shared_table_url() -> Option<String> {
    static TABLES: AtomicUsize = AtomicUsize::new(0);
    // The test harness names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a Bigtable test");
    let addr = match shared() {
        Ok(addr) => addr,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: no Bigtable emulator, and CI=true requires it: {e}"
            );
            let skipped = SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
            eprintln!("skipped {test}: no Bigtable emulator ({e}); {skipped} skipped so far");
            return None;
        }
    };
    let table = format!("t{}", TABLES.fetch_add(1, Ordering::Relaxed));
    create_table(addr, &table)
        .await
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    Some(table_url(&table))
}
