//! nar-bridge: an HTTP Nix binary cache served from the tvix store.
//!
//! For every store path in the store's [PathInfoService] it serves the
//! `.narinfo` ([narinfo]) and the NAR ([nar]), rendered from the castore on
//! each request and streamed, compressed on the fly when the URL asks for
//! it. With uploads allowed it also takes what `nix copy --to http://…`
//! sends: the NAR first, ingested into the castore while it arrives, then
//! the narinfo, which is checked against the ingested NAR before the
//! PathInfo is written (and so becomes visible).
//!
//! [router] builds the axum application; the `nar-bridge` binary adds the
//! flags, logging and the listening socket around it.

mod auth;
mod body_writer;
mod bounded_map;
mod compression;
mod error;
mod nar;
mod nar_index;
mod narinfo;
mod range;
mod stall;
mod uploads;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use nix_compat::narinfo::{SigningKey, VerifyingKey};
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use tvix_store::nar::RenderLimits;
use tvix_store::pathinfoservice::PathInfoService;

pub use auth::UploadToken;
pub use compression::Compression;
pub use error::Error;
pub use stall::StallGuardListener;
pub use uploads::Uploads;

use nar_index::NarIndex;

/// How the cache presents itself and what it allows.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `Priority` in `nix-cache-info`: lower is tried first by clients.
    pub priority: u64,
    /// Signs every narinfo served, in addition to the signatures stored.
    pub signing_key: Option<SigningKey>,
    /// How the narinfos tell clients to fetch NARs.
    pub compression: Compression,
    /// Whether PUT requests (`nix copy --to`) are taken.
    pub allow_upload: bool,
    /// What every PUT must present ([auth]); None lets any PUT through
    /// (the binary never runs so with uploads allowed).
    pub upload_token: Option<UploadToken>,
    /// When not empty, an uploaded narinfo needs a valid signature by one
    /// of these keys, else it is refused with 403.
    pub trusted_public_keys: Vec<VerifyingKey>,
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    blob_service: Arc<dyn BlobService>,
    directory_service: Arc<dyn DirectoryService>,
    path_info_service: Arc<dyn PathInfoService>,
    config: Arc<Config>,
    nar_index: Arc<NarIndex>,
    uploads: Arc<Uploads>,
    render_limits: RenderLimits,
}

impl AppState {
    /// The state of a bridge whose uploads waiting for their narinfo are
    /// only kept in memory.
    pub fn new(
        blob_service: Arc<dyn BlobService>,
        directory_service: Arc<dyn DirectoryService>,
        path_info_service: Arc<dyn PathInfoService>,
        config: Config,
    ) -> Self {
        Self {
            blob_service,
            directory_service,
            path_info_service,
            config: Arc::new(config),
            nar_index: Arc::default(),
            uploads: Arc::default(),
            render_limits: RenderLimits::default(),
        }
    }

    /// Renders NARs within `render_limits` instead of the defaults.
    pub fn with_render_limits(self, render_limits: RenderLimits) -> Self {
        Self {
            render_limits,
            ..self
        }
    }

    /// Keeps the uploads waiting for their narinfo in `uploads` (which can
    /// keep them on disk, across restarts).
    pub fn with_uploads(self, uploads: Uploads) -> Self {
        Self {
            uploads: Arc::new(uploads),
            ..self
        }
    }
}

/// The binary cache's HTTP application. Everything not routed here (also
/// `/log/…` and `/realisations/…`, which a tvix store does not keep) is a
/// 404.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/nix-cache-info", get(nix_cache_info))
        .route(
            "/{file}",
            get(narinfo::get).head(narinfo::get).put(narinfo::put),
        )
        .route("/nar/{file}", get(nar::get).head(nar::get).put(nar::put))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_upload_token,
        ))
        .with_state(state)
}

/// `nix-cache-info`: the store directory, that clients may ask for many
/// paths at once, and our priority.
async fn nix_cache_info(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/x-nix-cache-info")],
        format!(
            "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: {}\n",
            state.config.priority
        ),
    )
}
