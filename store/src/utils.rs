//! What front ends such as the `tvix-store` binary need around the library:
//! the addresses of a store's three services (with the default persistent
//! local store), building the services from them
//! ([construct_services]), and serving them over gRPC ([Listener],
//! [serve]).
//! The command-line flags for the addresses ([ServiceAddrArgs]) and the
//! shutdown signal ([shutdown_signal]) are shared by every binary built on
//! the store, so that they all take the same flags with the same defaults.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use futures::FutureExt;
use thiserror::Error;
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tonic::service::InterceptorLayer;
use tonic::transport::Server;
use tower::limit::GlobalConcurrencyLimitLayer;
use tvix_castore::blobservice::{self, BlobService};
use tvix_castore::composition::CompositionError;
use tvix_castore::directoryservice::{self, DirectoryService};
use tvix_castore::proto::blob_service_server::BlobServiceServer;
use tvix_castore::proto::directory_service_server::DirectoryServiceServer;
use tvix_castore::proto::{GrpcBlobServiceWrapper, GrpcDirectoryServiceWrapper};
use tvix_castore::{Node, with_message_limits};

use crate::access::{Access, AccessError};
use crate::composition::{CompositionDocument, StoreComposition};
use crate::limits::ServeLimits;
use crate::nar::{
    CalculateNarError, NarCalculationService, NarSummary, RenderLimits, calculate_nar_within,
};
use crate::pathinfoservice::{self, PathInfoService};
use crate::proto::GrpcPathInfoServiceWrapper;
use crate::proto::path_info_service_server::PathInfoServiceServer;

/// The addresses of a store's blob, directory and path info services, in
/// the URL forms each service's `from_addr` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddrs {
    pub blob_service_addr: String,
    pub directory_service_addr: String,
    pub path_info_service_addr: String,
}

/// The flags (and environment variables) naming a store's three services;
/// flatten into a binary's flags: either a composition document
/// (`--config`, see [crate::composition]) or one URL per service, each
/// shorthand for one `default` entry of that document. URLs not given
/// default to the local store ([ServiceAddrs::with_defaults]).
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceAddrArgs {
    /// A TOML document composing the services (blobservices,
    /// directoryservices, pathinfoservices tables; the entries named
    /// `default` are the store's); instead of the *-service-addr flags.
    #[arg(
        long,
        env = "TVIX_STORE_CONFIG",
        global = true,
        conflicts_with_all = ["blob_service_addr", "directory_service_addr", "path_info_service_addr"]
    )]
    pub config: Option<PathBuf>,
    /// Blob service URL, e.g. pack:///path, objectstore+file:///path, memory://,
    /// grpc+unix:///socket, grpc+http://host:port,
    /// grpc+https://host:port?ca=ca.pem&token_file=token (or the token in
    /// TVIX_STORE_TOKEN).
    #[arg(long, env = "BLOB_SERVICE_ADDR", global = true)]
    pub blob_service_addr: Option<String>,
    /// Directory service URL, e.g. redb:///path/directories.redb,
    /// sled:///path, memory://, grpc+unix:///socket,
    /// bigtable://INSTANCE?project_id=…&table_name=…&family_name=….
    #[arg(long, env = "DIRECTORY_SERVICE_ADDR", global = true)]
    pub directory_service_addr: Option<String>,
    /// Path info service URL, e.g. redb:///path/pathinfo.redb, sled:///path,
    /// memory://, grpc+unix:///socket, nix+https://host/path,
    /// bigtable://INSTANCE?project_id=…&table_name=…&family_name=….
    #[arg(long, env = "PATH_INFO_SERVICE_ADDR", global = true)]
    pub path_info_service_addr: Option<String>,
}

impl ServiceAddrArgs {
    /// The addresses given, with the default local store for the others.
    pub fn addrs(&self) -> Result<ServiceAddrs, ServicesError> {
        ServiceAddrs::with_defaults(
            self.blob_service_addr.clone(),
            self.directory_service_addr.clone(),
            self.path_info_service_addr.clone(),
        )
    }

    /// The composition document: the `--config` file, or the one the
    /// addresses stand for.
    pub fn document(&self) -> Result<CompositionDocument, ServicesError> {
        match &self.config {
            Some(path) => read_document(path),
            None => self.addrs()?.document(),
        }
    }

    /// The store's services, from `--config` or the addresses.
    pub async fn services(&self) -> Result<Services, ServicesError> {
        self.services_within(RenderLimits::default()).await
    }

    /// [Self::services], with NARs rendered locally within `limits`.
    pub async fn services_within(&self, limits: RenderLimits) -> Result<Services, ServicesError> {
        compose_services_within(&StoreComposition::new(self.document()?)?, limits).await
    }
}

/// A table of one entry, `default`.
fn default<C>(config: C) -> std::collections::BTreeMap<String, C> {
    [("default".to_owned(), config)].into()
}

/// Reads and parses the composition document at `path`.
pub fn read_document(path: &Path) -> Result<CompositionDocument, ServicesError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServicesError::ReadConfig {
        path: path.to_owned(),
        source,
    })?;
    CompositionDocument::from_toml(&text).map_err(|source| ServicesError::Config {
        path: path.to_owned(),
        source,
    })
}

/// Logging as every binary of the workspace sets it up: compact lines on
/// standard error at `level` and above, unless `RUST_LOG` says otherwise.
pub fn init_logging(level: tracing::Level) {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .compact()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Runs a server binary's body on a new runtime. A failure ends as one
/// line on standard error and exit status 1, never a panic's backtrace.
pub fn run_to_exit<E>(body: impl Future<Output = Result<(), E>>) -> std::process::ExitCode
where
    E: fmt::Display + From<io::Error>,
{
    let result = tokio::runtime::Runtime::new()
        .map_err(E::from)
        .and_then(|runtime| {
            let result = runtime.block_on(body);
            // Whatever a request cut at shutdown left on the blocking pool
            // (a file being read, a pack being written) must not keep the
            // process alive; data is only committed by finished requests.
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
            result
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let message = error.to_string().replace('\n', " ");
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Completes on the first SIGINT or SIGTERM: what servers wait for to stop
/// accepting and finish what is in flight.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
    })
}

/// Why the services of a store could not be built.
#[derive(Debug, Error)]
pub enum ServicesError {
    #[error("neither XDG_DATA_HOME nor HOME is set, so there is no default store; pass addresses")]
    NoDataHome,
    #[error("the default store directory {0:?} is not UTF-8; pass addresses")]
    NonUtf8StoreDir(PathBuf),
    #[error("creating the store directory {path:?}: {source}")]
    CreateStoreDir { path: PathBuf, source: io::Error },
    #[error("blob service: {0}")]
    Blob(#[from] blobservice::FromAddrError),
    #[error("directory service: {0}")]
    Directory(#[from] directoryservice::FromAddrError),
    #[error("path info service: {0}")]
    PathInfo(#[from] pathinfoservice::FromAddrError),
    #[error("reading the composition {path:?}: {source}")]
    ReadConfig { path: PathBuf, source: io::Error },
    #[error("{path:?}: {source}")]
    Config {
        path: PathBuf,
        source: CompositionError,
    },
    #[error(transparent)]
    Composition(#[from] CompositionError),
}

impl ServiceAddrs {
    /// The addresses of a persistent local store kept in `dir`: blobs in
    /// pack files below `dir/pack`, directories and PathInfos in redb
    /// files.
    pub fn local(dir: &Path) -> Result<Self, ServicesError> {
        let dir = dir
            .to_str()
            .ok_or_else(|| ServicesError::NonUtf8StoreDir(dir.to_owned()))?;
        Ok(Self {
            blob_service_addr: format!("pack://{dir}/pack"),
            directory_service_addr: format!("redb://{dir}/directories.redb"),
            path_info_service_addr: format!("redb://{dir}/pathinfo.redb"),
        })
    }

    /// The document these addresses stand for: each URL is the entry
    /// `default` of its table.
    pub fn document(&self) -> Result<CompositionDocument, ServicesError> {
        Ok(CompositionDocument {
            blobservices: default(blobservice::config_from_addr(&self.blob_service_addr)?),
            directoryservices: default(directoryservice::config_from_addr(
                &self.directory_service_addr,
            )?),
            pathinfoservices: default(pathinfoservice::config_from_addr(
                &self.path_info_service_addr,
            )?),
        })
    }

    /// The given addresses, with the default local store
    /// ([default_store_dir]) for those not given. The default store's
    /// directory is created only if it is used.
    pub fn with_defaults(
        blob_service_addr: Option<String>,
        directory_service_addr: Option<String>,
        path_info_service_addr: Option<String>,
    ) -> Result<Self, ServicesError> {
        if let (Some(blob), Some(directory), Some(path_info)) = (
            &blob_service_addr,
            &directory_service_addr,
            &path_info_service_addr,
        ) {
            return Ok(Self {
                blob_service_addr: blob.clone(),
                directory_service_addr: directory.clone(),
                path_info_service_addr: path_info.clone(),
            });
        }
        let dir = default_store_dir()?;
        let defaults = Self::local(&dir)?;
        std::fs::create_dir_all(&dir).map_err(|source| ServicesError::CreateStoreDir {
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            blob_service_addr: blob_service_addr.unwrap_or(defaults.blob_service_addr),
            directory_service_addr: directory_service_addr
                .unwrap_or(defaults.directory_service_addr),
            path_info_service_addr: path_info_service_addr
                .unwrap_or(defaults.path_info_service_addr),
        })
    }
}

/// Where the default persistent store lives: `$XDG_DATA_HOME/tvix-store`,
/// else `$HOME/.local/share/tvix-store` (the XDG base directory rules:
/// a relative `XDG_DATA_HOME` is ignored).
pub fn default_store_dir() -> Result<PathBuf, ServicesError> {
    let from_env = |name| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
    };
    from_env("XDG_DATA_HOME")
        .or_else(|| from_env("HOME").map(|home| home.join(".local/share")))
        .map(|data_home| data_home.join("tvix-store"))
        .ok_or(ServicesError::NoDataHome)
}

/// A store's services, built from their addresses.
#[derive(Clone)]
pub struct Services {
    pub blob_service: Arc<dyn BlobService>,
    pub directory_service: Arc<dyn DirectoryService>,
    pub path_info_service: Arc<dyn PathInfoService>,
    /// The path info service's own NAR calculation if it has one (a remote
    /// store), else rendering from the blob and directory services.
    pub nar_calculation_service: Arc<dyn NarCalculationService>,
}

/// Builds the services at `addrs` ([compose_services] of the document
/// they stand for).
pub async fn construct_services(addrs: &ServiceAddrs) -> Result<Services, ServicesError> {
    compose_services(&StoreComposition::new(addrs.document()?)?).await
}

/// The store made of the entries named `default` of `composition`, with
/// NARs rendered locally within the default [RenderLimits].
pub async fn compose_services(composition: &StoreComposition) -> Result<Services, ServicesError> {
    compose_services_within(composition, RenderLimits::default()).await
}

/// The store made of the entries named `default` of `composition`: blob
/// and directory services first, then the path info service, which may
/// use them, and which syncs the blob service before every put
/// ([pathinfoservice::BlobsFirstPathInfoService]); NARs are rendered
/// locally within `limits` (a remote path info service renders under its
/// own).
pub async fn compose_services_within(
    composition: &StoreComposition,
    limits: RenderLimits,
) -> Result<Services, ServicesError> {
    let blob_service = composition.castore().blob_service("default").await?;
    let directory_service = composition.castore().directory_service("default").await?;
    let path_info_service: Arc<dyn PathInfoService> =
        Arc::new(pathinfoservice::BlobsFirstPathInfoService::new(
            blob_service.clone(),
            composition.path_info_service("default").await?,
        ));
    let nar_calculation_service: Arc<dyn NarCalculationService> =
        match path_info_service.nar_calculation_service() {
            Some(service) => Arc::from(service),
            None => Arc::new(SharedRenderer {
                blob_service: blob_service.clone(),
                directory_service: directory_service.clone(),
                limits,
            }),
        };
    Ok(Services {
        blob_service,
        directory_service,
        path_info_service,
        nar_calculation_service,
    })
}

/// Renders NARs from shared services.
// FUTUREWORK: this is nar::SimpleRenderer over `Arc<dyn DirectoryService>`,
// which castore does not implement DirectoryService for (it does for
// `Arc<dyn BlobService>`); with that impl, use SimpleRenderer instead.
struct SharedRenderer {
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
    limits: RenderLimits,
}

#[async_trait::async_trait]
impl NarCalculationService for SharedRenderer {
    async fn calculate_nar(&self, root: &Node) -> Result<NarSummary, CalculateNarError> {
        let (blobs, directories) = (&self.blob_service, &*self.directory_service);
        Ok(calculate_nar_within(root, blobs, directories, self.limits).await?)
    }
}

/// Where a daemon listens: `HOST:PORT` (TCP) or `unix:///absolute/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ListenAddressError {
    #[error("listen address {0:?}: a unix socket needs an absolute path (unix:///path)")]
    RelativeSocketPath(String),
    #[error("listen address {0:?} is neither HOST:PORT nor unix:///path")]
    Invalid(String),
}

impl FromStr for ListenAddress {
    type Err = ListenAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix://") {
            return if path.starts_with('/') {
                Ok(Self::Unix(PathBuf::from(path)))
            } else {
                Err(ListenAddressError::RelativeSocketPath(s.to_owned()))
            };
        }
        let invalid = || ListenAddressError::Invalid(s.to_owned());
        let (host, port) = s.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse().map_err(|_| invalid())?;
        // IPv6 hosts come in brackets, which tokio's resolver does not take.
        let host = match host.strip_prefix('[') {
            Some(bracketed) => bracketed.strip_suffix(']').ok_or_else(invalid)?,
            None if host.contains(':') => return Err(invalid()),
            None => host,
        };
        if host.is_empty() {
            return Err(invalid());
        }
        Ok(Self::Tcp {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "{host}:{port}"),
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// Why a daemon could not listen or serve.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("a daemon already listens on {0:?}")]
    AlreadyListening(PathBuf),
    #[error("{0:?} exists and is not a socket")]
    NotASocket(PathBuf),
    #[error("checking the existing socket {path:?}: {source}")]
    CheckSocket { path: PathBuf, source: io::Error },
    #[error("listening on {address}: {source}")]
    Bind {
        address: ListenAddress,
        source: io::Error,
    },
    #[error("serving: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A bound listening socket; a Unix socket it created is removed when it is
/// dropped.
pub struct Listener {
    kind: ListenerKind,
    access: Access,
}

enum ListenerKind {
    Tcp(TcpListener),
    Unix(UnixListener, SocketFile),
}

/// The file of a Unix socket we bound, removed on drop.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        // Best effort: a socket left behind is found stale next time.
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Listener {
    /// Binds `address`. An existing Unix socket another process still
    /// accepts connections on is never taken over
    /// ([ServeError::AlreadyListening]); a stale one, left by a daemon that
    /// died, is replaced.
    ///
    /// A Unix socket gets `socket_mode` (0600 or 0660: who may connect is
    /// who may write the socket) before anyone can reach it: it is bound in
    /// a fresh private directory next to `path`, given its mode there, and
    /// only then renamed into place. Missing parent directories are created.
    pub async fn bind(address: &ListenAddress, socket_mode: u32) -> Result<Self, ServeError> {
        let bind_error = |source| ServeError::Bind {
            address: address.clone(),
            source,
        };
        Ok(match address {
            ListenAddress::Tcp { host, port } => Self {
                kind: ListenerKind::Tcp(
                    TcpListener::bind((host.as_str(), *port))
                        .await
                        .map_err(bind_error)?,
                ),
                access: Access::default(),
            },
            ListenAddress::Unix(path) => {
                remove_stale_socket(path).await?;
                let listener = bind_unix_private(path, socket_mode).map_err(bind_error)?;
                Self {
                    kind: ListenerKind::Unix(listener, SocketFile(path.clone())),
                    access: Access::default(),
                }
            }
        })
    }

    /// Guards the listener with `access` (TLS, a bearer token), which must
    /// suit it: no TLS on a Unix socket, no plaintext beyond loopback
    /// unless insecure is allowed.
    pub fn with_access(self, access: Access) -> Result<Self, AccessError> {
        let local = match &self.kind {
            ListenerKind::Tcp(listener) => {
                Some(listener.local_addr().map_err(AccessError::LocalAddr)?)
            }
            ListenerKind::Unix(..) => None,
        };
        access.check(local)?;
        Ok(Self { access, ..self })
    }

    /// The address clients reach this listener at (`grpc+http://…` or
    /// `grpc+unix://…`); for TCP it has the actual port, useful after
    /// binding port 0.
    pub fn client_addr(&self) -> io::Result<String> {
        Ok(match &self.kind {
            ListenerKind::Tcp(listener) if self.access.tls.is_some() => {
                format!("grpc+https://{}", listener.local_addr()?)
            }
            ListenerKind::Tcp(listener) => format!("grpc+http://{}", listener.local_addr()?),
            ListenerKind::Unix(_, SocketFile(path)) => format!("grpc+unix://{}", path.display()),
        })
    }
}

/// Binds a Unix socket at `path` with file mode `mode`, which no other
/// user can connect to before it has that mode (see [Listener::bind]).
fn bind_unix_private(path: &Path, mode: u32) -> io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(".tvix-store-socket.{}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let bound = (|| {
        let staged = staging.join("socket");
        let listener = UnixListener::bind(&staged)?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&staged, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    bound
}

/// Where `tvix-store daemon` listens by default:
/// `$XDG_RUNTIME_DIR/tvix-store/daemon.sock` (a directory only its user can
/// enter, removed at logout), else `daemon.sock` in the store directory
/// ([default_store_dir]).
pub fn default_socket_path() -> Result<PathBuf, ServicesError> {
    match std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        Some(runtime) => Ok(runtime.join("tvix-store/daemon.sock")),
        None => Ok(default_store_dir()?.join("daemon.sock")),
    }
}

/// Removes the socket at `path` if no process listens on it any more.
async fn remove_stale_socket(path: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::FileTypeExt;

    let metadata = match tokio::fs::symlink_metadata(path).await {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServeError::CheckSocket {
                path: path.to_owned(),
                source,
            });
        }
    };
    if !metadata.file_type().is_socket() {
        return Err(ServeError::NotASocket(path.to_owned()));
    }
    match UnixStream::connect(path).await {
        Ok(_) => Err(ServeError::AlreadyListening(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => tokio::fs::remove_file(path)
            .await
            .map_err(|source| ServeError::CheckSocket {
                path: path.to_owned(),
                source,
            }),
        Err(source) => Err(ServeError::CheckSocket {
            path: path.to_owned(),
            source,
        }),
    }
}

/// How long a server that was told to stop lets the requests in flight
/// finish before it cuts them: a client may keep a stream open forever
/// (a Put that never ends, a Get it stopped reading), and a daemon that
/// does not stop on SIGTERM gets SIGKILLed by its supervisor, which is
/// worse for everything it has open.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves the blob, directory and path info services of `services` on
/// `listener` until `shutdown` completes, then stops accepting connections
/// and returns once the open ones are done, or after [SHUTDOWN_GRACE] with
/// those still open cut. Clients are held to `limits`, except for
/// [ServeLimits::render], which `services` were built with
/// ([ServiceAddrArgs::services_within]).
pub async fn serve(
    listener: Listener,
    services: &Services,
    limits: &ServeLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let max_request = limits.max_request_bytes;
    let mut server = Server::builder();
    if let Some(tls) = listener.access.tls {
        server = server.tls_config(tls)?;
    }
    let router = server
        .layer(GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests,
        ))
        .layer(InterceptorLayer::new(listener.access.token))
        .add_service(
            with_message_limits!(BlobServiceServer::new(GrpcBlobServiceWrapper::new(
                services.blob_service.clone(),
            )))
            .max_decoding_message_size(max_request),
        )
        .add_service(
            with_message_limits!(DirectoryServiceServer::new(
                GrpcDirectoryServiceWrapper::new(services.directory_service.clone())
                    .with_max_put_bytes(limits.max_directory_put_bytes)
                    .with_max_entries(limits.max_directory_entries),
            ))
            .max_decoding_message_size(max_request),
        )
        .add_service(
            with_message_limits!(PathInfoServiceServer::new(GrpcPathInfoServiceWrapper::new(
                services.path_info_service.clone(),
                services.nar_calculation_service.clone(),
            )))
            .max_decoding_message_size(max_request),
        );
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    };
    // The socket file is removed when `_socket_file` goes out of scope,
    // after serving.
    let (serving, _socket_file) = match listener.kind {
        ListenerKind::Tcp(tcp) => (
            router
                .serve_with_incoming_shutdown(TcpListenerStream::new(tcp), shutdown)
                .boxed(),
            None,
        ),
        ListenerKind::Unix(unix, socket_file) => (
            router
                .serve_with_incoming_shutdown(UnixListenerStream::new(unix), shutdown)
                .boxed(),
            Some(socket_file),
        ),
    };
    let grace_over = async {
        match stopping.await {
            Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
            // Serving ended without a shutdown.
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        served = serving => served?,
        () = grace_over => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "cutting the requests still in flight");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::ipv4("127.0.0.1:8000", ListenAddress::Tcp { host: "127.0.0.1".into(), port: 8000 })]
    #[case::hostname("localhost:0", ListenAddress::Tcp { host: "localhost".into(), port: 0 })]
    #[case::ipv6("[::1]:8000", ListenAddress::Tcp { host: "::1".into(), port: 8000 })]
    #[case::unix("unix:///run/tvix.sock", ListenAddress::Unix("/run/tvix.sock".into()))]
    fn listen_address(#[case] s: &str, #[case] expected: ListenAddress) {
        let parsed: ListenAddress = s.parse().expect("valid");
        assert_eq!(expected, parsed);
        assert_eq!(s, parsed.to_string());
    }

    #[rstest]
    #[case::no_port("localhost", ListenAddressError::Invalid("localhost".into()))]
    #[case::bad_port("localhost:http", ListenAddressError::Invalid("localhost:http".into()))]
    #[case::port_too_big("localhost:65536", ListenAddressError::Invalid("localhost:65536".into()))]
    #[case::no_host(":8000", ListenAddressError::Invalid(":8000".into()))]
    #[case::bare_ipv6("::1:8000", ListenAddressError::Invalid("::1:8000".into()))]
    #[case::unclosed_bracket("[::1:8000", ListenAddressError::Invalid("[::1:8000".into()))]
    #[case::relative_socket("unix://run/sock", ListenAddressError::RelativeSocketPath("unix://run/sock".into()))]
    #[case::empty_socket("unix://", ListenAddressError::RelativeSocketPath("unix://".into()))]
    fn invalid_listen_address(#[case] s: &str, #[case] expected: ListenAddressError) {
        assert_eq!(Err(expected), s.parse::<ListenAddress>());
    }

    #[test]
    fn local_addrs() {
        let addrs = ServiceAddrs::local(Path::new("/var/lib/tvix")).expect("UTF-8");
        assert_eq!(
            ServiceAddrs {
                blob_service_addr: "pack:///var/lib/tvix/pack".into(),
                directory_service_addr: "redb:///var/lib/tvix/directories.redb".into(),
                path_info_service_addr: "redb:///var/lib/tvix/pathinfo.redb".into(),
            },
            addrs
        );
    }
}
