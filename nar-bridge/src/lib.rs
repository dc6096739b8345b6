//! nar-bridge: an HTTP Nix binary cache (narinfo and NAR files) served from
//! the tvix store. Nothing is implemented yet.
