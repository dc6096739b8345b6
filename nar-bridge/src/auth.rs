//! Who may upload: every PUT must carry the upload token, as
//! `Authorization: Bearer <token>`, or as the password of HTTP basic
//! authentication, which is what Nix sends for a cache whose host has a
//! `machine … password <token>` line in its netrc file (the login is not
//! looked at). Downloads stay open to anyone who can reach the bridge.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use data_encoding::BASE64;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;

/// The upload token. Only its sha256 is kept; a token presented is hashed
/// and compared in constant time, so response times tell nothing about
/// its contents or length.
#[derive(Clone)]
pub struct UploadToken(Arc<[u8; 32]>);

impl std::fmt::Debug for UploadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadToken(…)")
    }
}

impl UploadToken {
    /// The token, without surrounding whitespace (a token file's newline);
    /// None if nothing is left.
    pub fn new(token: &[u8]) -> Option<Self> {
        let token = token.trim_ascii();
        (!token.is_empty()).then(|| Self(Arc::new(Sha256::digest(token).into())))
    }

    /// Whether `headers` carry this token.
    fn presented_in(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .map(|value| value.as_bytes())
        else {
            return false;
        };
        let token = if let Some(token) = value.strip_prefix(b"Bearer ") {
            token.trim_ascii().to_vec()
        } else if let Some(credentials) = value.strip_prefix(b"Basic ") {
            // login:password, base64; the password is the token.
            let Ok(decoded) = BASE64.decode(credentials.trim_ascii()) else {
                return false;
            };
            match decoded.iter().position(|&byte| byte == b':') {
                Some(colon) => decoded[colon + 1..].to_vec(),
                None => return false,
            }
        } else {
            return false;
        };
        bool::from(Sha256::digest(&token).as_slice().ct_eq(self.0.as_slice()))
    }
}

/// Middleware: a PUT without the upload token, when one is configured, is
/// answered 401 and never reaches its handler.
pub async fn require_upload_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::PUT
        && let Some(token) = &state.config.upload_token
        && !token.presented_in(request.headers())
    {
        tracing::debug!(uri = %request.uri(), "upload without the token refused");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"nar-bridge uploads\"")],
            "uploads need the upload token (Authorization: Bearer <token>, or as the password in netrc)\n",
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::bearer(Some("Bearer s3cret"), true)]
    #[case::bearer_wrong(Some("Bearer s3cre7"), false)]
    #[case::bearer_prefix(Some("Bearer s3cre"), false)]
    #[case::basic(Some("Basic dXBsb2FkZXI6czNjcmV0"), true)] // uploader:s3cret
    #[case::basic_no_login(Some("Basic OnMzY3JldA=="), true)] // :s3cret
    #[case::basic_wrong(Some("Basic dXBsb2FkZXI6czNjcmU3"), false)] // uploader:s3cre7
    #[case::basic_no_colon(Some("Basic czNjcmV0"), false)] // s3cret
    #[case::basic_not_base64(Some("Basic !!!"), false)]
    #[case::other_scheme(Some("Digest s3cret"), false)]
    #[case::missing(None, false)]
    fn token(#[case] authorization: Option<&str>, #[case] accepted: bool) {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
        }
        let token = UploadToken::new(b"s3cret\n").expect("token");
        assert_eq!(accepted, token.presented_in(&headers));
    }

    #[test]
    fn empty_token() {
        assert!(UploadToken::new(b" \n").is_none());
    }
}
