//! `tvix-store`: run a store daemon, import paths, copy closures out of a
//! local Nix store, look at what is stored, mount it, and report what is
//! garbage.
//!
//! Thin by design: flags, logging, building the services, and calls into
//! the library. Every failure ends as one line on stderr and exit code 1.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nix_compat::nixbase32;
use nix_compat::store_path::StorePath;
use tracing::Level;
use tvix_castore::blobservice::open_pack;
use tvix_castore::composition::BlobServiceConfig;
use tvix_castore::fs::FuseDaemon;
use tvix_store::access::AccessArgs;
use tvix_store::composition::StoreComposition;
use tvix_store::fs::store_fs;
use tvix_store::gc::space_report;
use tvix_store::import::{
    ImportProgress, ReferenceGraph, copy_closure, import_path_as_flat_ca, import_path_as_nar_ca,
};
use tvix_store::limits::ServeLimits;
use tvix_store::nar::write_nar_blocking;
use tvix_store::utils::{
    ListenAddress, Listener, ServiceAddrArgs, Services, compose_services, default_socket_path,
    init_logging, run_to_exit, serve, shutdown_signal,
};

type Error = Box<dyn std::error::Error>;

/// Imports below this many bytes get no progress bar: they are done before
/// it would be worth drawing.
const PROGRESS_BAR_THRESHOLD: u64 = 64 * 1024 * 1024;

#[derive(Parser)]
#[command(
    name = "tvix-store",
    version,
    about = "Nix store paths on the tvix castore",
    long_about = "Nix store paths on the tvix castore.\n\nWithout service addresses, uses a persistent local store in $XDG_DATA_HOME/tvix-store (else ~/.local/share/tvix-store), created on first use."
)]
struct Cli {
    #[command(flatten)]
    services: ServiceAddrArgs,
    /// Log level when RUST_LOG does not say otherwise.
    #[arg(long, global = true, default_value_t = Level::WARN)]
    log_level: Level,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the blob, directory and path info services over gRPC until
    /// SIGINT or SIGTERM.
    Daemon {
        /// unix:///path for a Unix socket, or HOST:PORT for TCP (see
        /// --tls-cert and --token-file for who may use it).
        /// Default: unix://$XDG_RUNTIME_DIR/tvix-store/daemon.sock, else
        /// daemon.sock in the default store directory.
        #[arg(long)]
        listen_address: Option<String>,
        /// File mode of the Unix socket, which decides who may connect:
        /// 0600 only this user, 0660 also the socket's group.
        #[arg(long, default_value = "0600", value_parser = ["0600", "0660"])]
        socket_mode: String,
        #[command(flatten)]
        limits: ServeLimits,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Import paths as `nix-store --add` does (or `nix-store --add-fixed
    /// sha256` with --flat) and print their store paths.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Name of the store path instead of the file name (one PATH only).
        #[arg(long)]
        name: Option<String>,
        /// Address a file by the sha256 of its contents, as `nix-store
        /// --add-fixed sha256 FILE`.
        #[arg(long)]
        flat: bool,
    },
    /// Copy the closure described by a reference graph (`nix path-info
    /// --json --recursive PATH`, or exportReferencesGraph's JSON) out of a
    /// local Nix store, and print the copied store paths.
    Copy {
        /// The reference graph JSON file, `-` for stdin.
        reference_graph: PathBuf,
        /// The Nix store directory to read the paths from.
        #[arg(long, default_value = "/nix/store")]
        nix_store_dir: PathBuf,
    },
    /// Print what is known about a store path, in narinfo form.
    PathInfo { store_path: String },
    /// Write the NAR of a store path to stdout.
    ExportNar { store_path: String },
    /// Mount the store read-only with FUSE, every store path as
    /// MOUNTPOINT/<hash>-<name>, until SIGINT or SIGTERM, or until it is
    /// unmounted from outside (`umount MOUNTPOINT`).
    Mount {
        mountpoint: PathBuf,
        /// Let `ls MOUNTPOINT` list the store paths; without it only lookups
        /// by name work (listing a large remote store is a long walk).
        #[arg(long)]
        list_root: bool,
        /// Threads answering the kernel's requests.
        #[arg(long, default_value_t = default_threads())]
        threads: usize,
        /// Let users other than the one mounting use the mount (for users
        /// other than root, needs user_allow_other in /etc/fuse.conf).
        #[arg(long)]
        allow_other: bool,
    },
    /// Serve the store read-only to a virtual machine, as a vhost-user
    /// virtio-fs device on SOCKET, until the VMM disconnects.
    #[cfg(feature = "virtiofs")]
    Virtiofs {
        socket: PathBuf,
        /// Let the guest list the store paths at the top.
        #[arg(long)]
        list_root: bool,
    },
    /// Report how many bytes of a pack:// blob store no PathInfo reaches.
    Gc {
        /// Only report; freeing the space (compaction) is not implemented.
        #[arg(long, required = true)]
        dry_run: bool,
    },
}

/// One FUSE thread per core.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level);
    run_to_exit(run(cli))
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Daemon {
            listen_address,
            socket_mode,
            limits,
            access,
        } => {
            let listen_address = match listen_address {
                Some(address) => address.parse()?,
                None => ListenAddress::Unix(default_socket_path()?),
            };
            let socket_mode = u32::from_str_radix(&socket_mode, 8)?;
            // Listen first: a second daemon must fail on the socket, not on
            // the store the first one has open.
            let listener = Listener::bind(&listen_address, socket_mode)
                .await?
                .with_access(access.load()?)?;
            let services = cli.services.services_within(limits.render).await?;
            let shutdown = shutdown_signal()?;
            tracing::info!(address = %listen_address, "listening");
            serve(listener, &services, &limits, shutdown).await?;
            tracing::info!("stopped");
        }
        Command::Import { paths, name, flat } => {
            if name.is_some() && paths.len() > 1 {
                return Err("--name takes exactly one PATH".into());
            }
            let services = cli.services.services().await?;
            for path in &paths {
                let progress = TerminalProgress::for_path(path);
                let Services {
                    blob_service,
                    directory_service,
                    path_info_service,
                    ..
                } = &services;
                let path_info = if flat {
                    import_path_as_flat_ca(
                        blob_service.clone(),
                        &**directory_service,
                        &**path_info_service,
                        path,
                        name.as_deref(),
                        &progress,
                    )
                    .await?
                } else {
                    import_path_as_nar_ca(
                        blob_service.clone(),
                        &**directory_service,
                        &**path_info_service,
                        path,
                        name.as_deref(),
                        &progress,
                    )
                    .await?
                };
                progress.finish();
                println!("{}", path_info.store_path.to_absolute_path());
            }
        }
        Command::Copy {
            reference_graph,
            nix_store_dir,
        } => {
            let json = if reference_graph == Path::new("-") {
                let mut json = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut tokio::io::stdin(), &mut json).await?;
                json
            } else {
                tokio::fs::read(&reference_graph)
                    .await
                    .map_err(|e| format!("reading {}: {e}", reference_graph.display()))?
            };
            let graph = ReferenceGraph::from_json(&json)?;
            let services = cli.services.services().await?;
            let progress = TerminalProgress::hidden();
            let copied = copy_closure(
                services.blob_service.clone(),
                &*services.directory_service,
                &*services.path_info_service,
                &graph,
                &nix_store_dir,
                &progress,
            )
            .await?;
            for path_info in copied {
                println!("{}", path_info.store_path.to_absolute_path());
            }
        }
        Command::PathInfo { store_path } => {
            let store_path = parse_store_path(&store_path)?;
            let services = cli.services.services().await?;
            let path_info = services
                .path_info_service
                .get(*store_path.digest())
                .await?
                .ok_or_else(|| format!("{} is not in the store", store_path.to_absolute_path()))?;
            let url = format!("nar/{}.nar", nixbase32::encode(&path_info.nar_sha256));
            print!("{}", path_info.to_narinfo(&url));
        }
        Command::ExportNar { store_path } => {
            let store_path = parse_store_path(&store_path)?;
            let services = cli.services.services().await?;
            let path_info = services
                .path_info_service
                .get(*store_path.digest())
                .await?
                .ok_or_else(|| format!("{} is not in the store", store_path.to_absolute_path()))?;
            // Written in pieces of 64 KiB and more, each with one system
            // call to a handle of fd 1 (`std::io::stdout` would cut them at
            // newlines).
            let stdout = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
            write_nar_blocking(
                stdout,
                &path_info.node,
                &services.blob_service,
                &*services.directory_service,
            )
            .await?;
        }
        Command::Mount {
            mountpoint,
            list_root,
            threads,
            allow_other,
        } => {
            // Refuse a busy mountpoint before opening a store it may be
            // serving already.
            FuseDaemon::check_mountpoint(&mountpoint)?;
            let services = cli.services.services().await?;
            let fs = store_fs(&services, list_root);
            let shutdown = shutdown_signal()?;
            let daemon = FuseDaemon::mount(fs, &mountpoint, threads, allow_other)?;
            tracing::info!(mountpoint = %daemon.mountpoint().display(), "mounted");
            tokio::select! {
                () = shutdown => {}
                () = daemon.ended() => tracing::info!("unmounted from outside"),
            }
            // Unmounting waits for requests in flight, which need the
            // runtime's threads, so it must not block one of them.
            tokio::task::spawn_blocking(move || daemon.unmount()).await??;
            tracing::info!("unmounted");
        }
        #[cfg(feature = "virtiofs")]
        Command::Virtiofs { socket, list_root } => {
            let services = cli.services.services().await?;
            let fs = store_fs(&services, list_root);
            tracing::info!(socket = %socket.display(), "serving virtio-fs");
            tokio::task::spawn_blocking(move || tvix_castore::fs::serve_virtiofs(fs, &socket))
                .await??;
        }
        Command::Gc { dry_run: _ } => {
            let document = cli.services.document()?;
            let Some(BlobServiceConfig::Pack { path }) = document.blobservices.get("default")
            else {
                return Err(
                    "gc needs a pack blob service (blobservices.default of type pack)".into(),
                );
            };
            let blobs = open_pack(path.clone()).await?;
            let services = compose_services(&StoreComposition::new(document)?).await?;
            let report = space_report(
                &blobs,
                &*services.path_info_service,
                &*services.directory_service,
            )
            .await?;
            println!(
                "{} bytes in packs, {} reachable, {} unreachable ({} unreachable blobs)",
                report.pack_bytes,
                report.live_bytes,
                report.unreachable_bytes(),
                report.dead_blobs
            );
        }
    }
    Ok(())
}

/// A store path given on the command line: `/nix/store/…` or just its
/// basename.
fn parse_store_path(arg: &str) -> Result<StorePath, Error> {
    let parsed = if arg.starts_with('/') {
        StorePath::from_absolute_path(arg.as_bytes())
    } else {
        StorePath::from_bytes(arg.as_bytes())
    };
    Ok(parsed.map_err(|e| format!("invalid store path {arg:?}: {e}"))?)
}

/// A progress bar on stderr, drawn only when stderr is a terminal and the
/// import is large.
struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    /// A bar for importing `path`, sized by a walk over its metadata, which
    /// is only done on a terminal.
    fn for_path(path: &Path) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let total: u64 = walkdir::WalkDir::new(path)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_file())
            .filter_map(|entry| entry.metadata().ok())
            .map(|metadata| metadata.len())
            .sum();
        if total < PROGRESS_BAR_THRESHOLD {
            return Self::hidden();
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(format!("importing {}", path.display()));
        Self { bar }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl ImportProgress for TerminalProgress {
    fn file_uploaded(&self, size: u64) {
        self.bar.inc(size);
    }

    fn hashing_nar(&self) {
        self.bar.set_message("hashing NAR");
    }
}
