//! `/<nixbase32 store path digest>.narinfo`: narinfos rendered from
//! PathInfos, and narinfo uploads, which make an uploaded NAR a store path.

use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use nix_compat::narinfo::NarInfo;
use nix_compat::nixbase32;
use nix_compat::store_path::{DIGEST_SIZE, StorePath};
use tvix_store::PathInfo;
use tvix_store::nar::NarCompression;

use crate::nar::parse_hash;
use crate::{AppState, Compression, Error};

/// Largest narinfo taken. Real ones are well below a kilobyte, even with a
/// thousand references.
const MAX_NARINFO_SIZE: usize = 1024 * 1024;

/// The store path digest a `<hash>.narinfo` file name asks for; 404 for
/// other files, 400 for a malformed hash.
fn parse_file_name(file: &str) -> Result<[u8; DIGEST_SIZE], Error> {
    let stem = file.strip_suffix(".narinfo").ok_or(Error::NotFound)?;
    parse_hash(stem)
}

/// GET and HEAD of a narinfo (axum leaves the body out for HEAD).
pub async fn get(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, Error> {
    let digest = parse_file_name(&file)?;
    let path_info = state
        .path_info_service
        .get(digest)
        .await?
        .ok_or(Error::NotFound)?;
    state.nar_index.insert(&path_info);
    let compression = state.config.compression;
    let url = format!(
        "nar/{}.nar{}",
        nixbase32::encode(&path_info.nar_sha256),
        compression.extension()
    );
    let mut narinfo = path_info.to_narinfo(&url);
    narinfo.compression = Some(compression.name());
    if compression == Compression::None {
        narinfo.file_hash = Some(path_info.nar_sha256);
        narinfo.file_size = Some(path_info.nar_size);
    }
    if let Some(key) = &state.config.signing_key {
        narinfo.add_signature(key);
    }
    Ok((
        [(header::CONTENT_TYPE, "text/x-nix-narinfo")],
        narinfo.to_string(),
    )
        .into_response())
}

/// PUT of a narinfo: the NAR it names must have been uploaded and must
/// match it, and its references must be in the store; only then is the
/// PathInfo written.
pub async fn put(
    State(state): State<AppState>,
    Path(file): Path<String>,
    body: Body,
) -> Result<StatusCode, Error> {
    if !state.config.allow_upload {
        return Err(Error::UploadsDisabled);
    }
    let digest = parse_file_name(&file)?;
    // Beyond the limit, the error says so.
    let bytes = to_bytes(body, MAX_NARINFO_SIZE)
        .await
        .map_err(Error::Body)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::NarInfoNotUtf8)?;
    let narinfo = NarInfo::parse(text).map_err(Error::NarInfo)?;
    let store_path: StorePath = narinfo.store_path.to_owned();
    if *store_path.digest() != digest {
        return Err(Error::WrongStorePath(store_path));
    }
    let trusted = &state.config.trusted_public_keys;
    if !trusted.is_empty() {
        let fingerprint = narinfo.fingerprint();
        let signed = narinfo.signatures.iter().any(|signature| {
            trusted
                .iter()
                .any(|key| signature.verify(fingerprint.as_bytes(), key))
        });
        if !signed {
            return Err(Error::Untrusted(store_path));
        }
    }

    if let Some(existing) = state.path_info_service.get(digest).await? {
        return if existing.nar_sha256 == narinfo.nar_hash && existing.nar_size == narinfo.nar_size {
            // The same path again (Nix re-uploads when it cannot tell).
            if let Some(upload) = state.uploads.get(narinfo.url).await {
                state.nar_index.insert_upload(upload.file_sha256, &existing);
                state.uploads.done(narinfo.url).await;
            }
            Ok(StatusCode::OK)
        } else {
            Err(Error::Conflict(store_path))
        };
    }

    let upload = state
        .uploads
        .get(narinfo.url)
        .await
        .ok_or_else(|| Error::NarNotUploaded {
            store_path: store_path.clone(),
            url: narinfo.url.to_owned(),
        })?;
    let declared = NarCompression::from_narinfo(narinfo.compression);
    if declared.as_ref() != Ok(&upload.compression) {
        return Err(Error::CompressionMismatch {
            store_path,
            expected: narinfo.compression.unwrap_or("bzip2").to_owned(),
            got: format!("{:?}", upload.compression).to_lowercase(),
        });
    }
    if upload.ingested.nar.nar_sha256 != narinfo.nar_hash
        || upload.ingested.nar.nar_size != narinfo.nar_size
    {
        return Err(Error::NarMismatch { store_path });
    }
    if narinfo
        .file_hash
        .is_some_and(|file_hash| file_hash != upload.file_sha256)
        || narinfo
            .file_size
            .is_some_and(|file_size| file_size != upload.file_size)
    {
        return Err(Error::FileMismatch { store_path });
    }
    for reference in &narinfo.references {
        if reference.digest() != &digest
            && state
                .path_info_service
                .get(*reference.digest())
                .await?
                .is_none()
        {
            return Err(Error::MissingReference {
                store_path,
                reference: reference.to_owned(),
            });
        }
    }

    let path_info = PathInfo {
        store_path,
        node: upload.ingested.node,
        references: narinfo.references.iter().map(|r| r.to_owned()).collect(),
        nar_size: narinfo.nar_size,
        nar_sha256: narinfo.nar_hash,
        signatures: narinfo.signatures.iter().copied().map(Into::into).collect(),
        deriver: narinfo.deriver.map(|deriver| deriver.to_owned()),
        ca: narinfo.ca.clone(),
    };
    let path_info = state.path_info_service.put(path_info).await?;
    tracing::info!(store_path = %path_info.store_path, "path uploaded");
    state.nar_index.insert(&path_info);
    state
        .nar_index
        .insert_upload(upload.file_sha256, &path_info);
    state.uploads.done(narinfo.url).await;
    Ok(StatusCode::OK)
}
