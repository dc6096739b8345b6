//! `nar-bridge`: serve a tvix store as a Nix HTTP binary cache.
//!
//! Thin by design: flags, logging, the services, the listening socket, and
//! [nar_bridge::router]. Every failure to start ends as one line on stderr
//! and exit code 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use nar_bridge::{AppState, Compression, Config, router};
use nix_compat::narinfo::SigningKey;
use tower::limit::GlobalConcurrencyLimitLayer;
use tracing::Level;
use tvix_store::limits::DEFAULT_MAX_CONCURRENT_REQUESTS;
use tvix_store::nar::RenderLimits;
use tvix_store::utils::{ServiceAddrArgs, init_logging, run_to_exit, shutdown_signal};

type Error = Box<dyn std::error::Error>;

#[derive(Parser)]
#[command(
    name = "nar-bridge",
    version,
    about = "Serve a tvix store as a Nix HTTP binary cache",
    long_about = "Serve a tvix store as a Nix HTTP binary cache: narinfos and NARs for `nix copy --from http://…` and substituters, and with --allow-upload the uploads of `nix copy --to http://…`.\n\nWithout service addresses, serves the persistent local store tvix-store uses. Stops on SIGINT or SIGTERM once the requests in flight are done."
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
    /// Accept uploads (`nix copy --to`); without it, PUT is refused.
    #[arg(long)]
    allow_upload: bool,
    /// Most requests handled at once; more wait until one is done.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_concurrent_requests: usize,
    /// Bounds on the NARs rendered for downloads.
    #[command(flatten)]
    render_limits: RenderLimits,
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
    let listener = tokio::net::TcpListener::bind(&cli.listen_address)
        .await
        .map_err(|e| format!("listening on {}: {e}", cli.listen_address))?;
    let services = cli.services.services().await?;
    let state = AppState::new(
        services.blob_service,
        services.directory_service,
        services.path_info_service,
        Config {
            priority: cli.priority,
            signing_key,
            compression: cli.compression,
            allow_upload: cli.allow_upload,
        },
    )
    .with_render_limits(cli.render_limits);
    let app = router(state).layer(GlobalConcurrencyLimitLayer::new(
        cli.max_concurrent_requests,
    ));
    let shutdown = shutdown_signal()?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("stopped");
    Ok(())
}
