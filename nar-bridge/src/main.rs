//! `nar-bridge`: serve a tvix store as a Nix HTTP binary cache.
//!
//! Thin by design: flags, logging, the services, the listening socket, and
//! [nar_bridge::router]. Every failure to start ends as one line on stderr
//! and exit code 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use std::time::Duration;

use nar_bridge::{AppState, Compression, Config, StallGuardListener, UploadToken, Uploads, router};
use nix_compat::narinfo::{SigningKey, VerifyingKey};
use tower::limit::GlobalConcurrencyLimitLayer;
use tracing::Level;
use tvix_store::limits::DEFAULT_MAX_CONCURRENT_REQUESTS;
use tvix_store::nar::RenderLimits;
use tvix_store::utils::{
    SHUTDOWN_GRACE, ServiceAddrArgs, default_store_dir, init_logging, run_to_exit, shutdown_signal,
};

type Error = Box<dyn std::error::Error>;

#[derive(Parser)]
#[command(
    name = "nar-bridge",
    version,
    about = "Serve a tvix store as a Nix HTTP binary cache",
    long_about = "Serve a tvix store as a Nix HTTP binary cache: narinfos and NARs for `nix copy --from http://…` and substituters, and with --allow-upload the uploads of `nix copy --to http://…`.\n\nWithout service addresses, serves the persistent local store tvix-store uses. Stops on SIGINT or SIGTERM once the requests in flight are done, or after a few seconds' grace, cutting those still going."
)]
struct Cli {
    /// HOST:PORT to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen_address: String,
    #[command(flatten)]
    services: ServiceAddrArgs,
    /// Priority announced in nix-cache-info (lower is tried first).
    #[arg(long, default_value_t = 40)]
    priority: u64,
    /// Secret key file (`name:base64`, as `nix-store
    /// --generate-binary-cache-key` writes) to sign every narinfo with.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// Compression of the NARs the narinfos point to.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    compression: Compression,
    /// Accept uploads (`nix copy --to`); without it, PUT is refused. Needs
    /// --upload-token-file.
    #[arg(long, requires = "upload_token_file")]
    allow_upload: bool,
    /// Most requests handled at once; more wait until one is done.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_concurrent_requests: usize,
    /// Bounds on the NARs rendered for downloads.
    #[command(flatten)]
    render_limits: RenderLimits,
    /// File holding the token (surrounding whitespace ignored) every PUT
    /// must carry: `Authorization: Bearer <token>`, or as the password of
    /// basic authentication, as Nix sends it from a netrc line `machine
    /// HOST password <token>` (see Nix's `netrc-file` setting).
    #[arg(long)]
    upload_token_file: Option<PathBuf>,
    /// Where NAR uploads wait for their narinfo, so that a restart between
    /// the two loses nothing. Default: nar-bridge-uploads in the default
    /// store directory.
    #[arg(long)]
    upload_dir: Option<PathBuf>,
    /// Public keys (`name:base64`, as in Nix's trusted-public-keys; several
    /// separated by spaces or given repeatedly) of which an uploaded
    /// narinfo must carry a valid signature; unsigned or wrongly signed
    /// uploads are refused with 403. Without it, signatures are not checked.
    #[arg(long, value_delimiter = ' ', num_args = 1..)]
    trusted_public_keys: Vec<String>,
    /// Seconds a client may stop reading a response before its connection
    /// is dropped (and the NAR render for it stopped).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    download_stall_timeout: u64,
    /// Log level when RUST_LOG does not say otherwise.
    #[arg(long, default_value_t = Level::INFO)]
    log_level: Level,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level);
    run_to_exit(run(cli))
}

async fn run(cli: Cli) -> Result<(), Error> {
    let signing_key = match &cli.signing_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading the signing key {}: {e}", path.display()))?;
            let key: SigningKey = text
                .trim()
                .parse()
                .map_err(|e| format!("the signing key {}: {e}", path.display()))?;
            Some(key)
        }
        None => None,
    };
    let upload_token = match &cli.upload_token_file {
        Some(path) => {
            let token = std::fs::read(path)
                .map_err(|e| format!("reading the upload token {}: {e}", path.display()))?;
            Some(
                UploadToken::new(&token)
                    .ok_or_else(|| format!("the upload token file {} is empty", path.display()))?,
            )
        }
        None => None,
    };
    let trusted_public_keys = cli
        .trusted_public_keys
        .iter()
        .filter(|key| !key.is_empty())
        .map(|key| {
            key.parse::<VerifyingKey>()
                .map_err(|e| format!("trusted public key {key:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let uploads = if cli.allow_upload {
        let dir = match &cli.upload_dir {
            Some(dir) => dir.clone(),
            None => default_store_dir()?.join("nar-bridge-uploads"),
        };
        Some(Uploads::open(&dir)?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(&cli.listen_address)
        .await
        .map_err(|e| format!("listening on {}: {e}", cli.listen_address))?;
    let services = cli.services.services().await?;
    let mut state = AppState::new(
        services.blob_service,
        services.directory_service,
        services.path_info_service,
        Config {
            priority: cli.priority,
            signing_key,
            compression: cli.compression,
            allow_upload: cli.allow_upload,
            upload_token,
            trusted_public_keys,
        },
    )
    .with_render_limits(cli.render_limits);
    if let Some(uploads) = uploads {
        state = state.with_uploads(uploads);
    }
    let app = router(state).layer(GlobalConcurrencyLimitLayer::new(
        cli.max_concurrent_requests,
    ));
    let shutdown = shutdown_signal()?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    let listener =
        StallGuardListener::new(listener, Duration::from_secs(cli.download_stall_timeout));
    serve_until(listener, app, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Serves `app` until `shutdown` completes, then lets the requests in
/// flight finish for at most [SHUTDOWN_GRACE] and cuts those still going
/// (a slow client, a NAR still rendering): a bridge told to stop must
/// stop within seconds, whatever its clients do.
async fn serve_until(
    listener: StallGuardListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel();
    let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    let grace_over = async {
        match stopping.await {
            Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        served = serving.into_future() => served,
        () = grace_over => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "cutting the requests still in flight");
            Ok(())
        }
    }
}
