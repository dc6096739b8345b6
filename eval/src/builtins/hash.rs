//! Hashing: `hashString`, `hashFile` and `convertHash`, with CppNix's
//! algorithms, text forms, leniency and messages.
//!
//! Files are hashed as they are read through `EvalIO`, never held whole
//! in memory. Hashes are parsed the way CppNix's `Hash::parseAny` parses
//! them — the encoding is told by the length alone, base64 is decoded
//! leniently — which is why the parser is here rather than nix-compat's
//! strict one; nix-compat's nixbase32 does the base-32 part.

use std::io::{self, Read};
use std::path::Path;

use data_encoding::{BASE64, HEXLOWER};
use md5::Md5;
use nix_compat::nixbase32;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use tvix_eval_builtin_macros::builtins;

use super::context::string_without_context;
use super::fs::coerce_to_path;
use crate::errors::{Diagnostic, Error, ErrorKind};
use crate::value::{NixAttrs, NixString, Value};
use crate::vm::EvalOptions;
use crate::vm::generators::Co;

pub(super) use impls::builtins;

/// The experimental feature without which blake3 cannot be used.
const BLAKE3_FEATURE: &str = "blake3-hashes";

/// A hash algorithm CppNix knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algo {
    Blake3,
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Algo {
    const ALL: [Algo; 5] = [
        Algo::Blake3,
        Algo::Md5,
        Algo::Sha1,
        Algo::Sha256,
        Algo::Sha512,
    ];

    fn name(self) -> &'static str {
        match self {
            Algo::Blake3 => "blake3",
            Algo::Md5 => "md5",
            Algo::Sha1 => "sha1",
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }

    /// CppNix's `parseHashAlgo`.
    fn parse(name: &str) -> Result<Algo, ErrorKind> {
        Algo::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                ErrorKind::Usage(format!(
                    "unknown hash algorithm '{name}', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'"
                ))
            })
    }

    /// The digest length in bytes.
    fn size(self) -> usize {
        match self {
            Algo::Md5 => 16,
            Algo::Sha1 => 20,
            Algo::Blake3 | Algo::Sha256 => 32,
            Algo::Sha512 => 64,
        }
    }

    /// CppNix refuses to make a blake3 hash unless the experimental
    /// feature is on; the name alone parses.
    fn check_enabled(self, options: &EvalOptions) -> Result<(), ErrorKind> {
        if self == Algo::Blake3 {
            options.require_feature(BLAKE3_FEATURE)?;
        }
        Ok(())
    }
}

/// A hash being computed.
enum Hasher {
    Blake3(Box<blake3::Hasher>),
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algo: Algo) -> Self {
        match algo {
            Algo::Blake3 => Hasher::Blake3(Box::default()),
            Algo::Md5 => Hasher::Md5(Md5::new()),
            Algo::Sha1 => Hasher::Sha1(Sha1::new()),
            Algo::Sha256 => Hasher::Sha256(Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(data);
            }
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// How `convertHash` writes a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Base16,
    Nix32,
    Base64,
    Sri,
}

impl Format {
    /// CppNix's `parseHashFormat`; `base32`, the old name of `nix32`, is
    /// accepted with a warning.
    fn parse(co: &Co, name: &str) -> Result<Format, ErrorKind> {
        Ok(match name {
            "base16" => Format::Base16,
            "nix32" => Format::Nix32,
            "base32" => {
                co.context().report(Diagnostic::Warning {
                    message: r#""base32" is a deprecated alias for hash format "nix32"."#.into(),
                    span: None,
                });
                Format::Nix32
            }
            "base64" => Format::Base64,
            "sri" => Format::Sri,
            _ => {
                return Err(ErrorKind::Usage(format!(
                    "unknown hash format '{name}', expect 'base16', 'base32', 'base64', or 'sri'"
                )));
            }
        })
    }

    fn print(self, algo: Algo, digest: &[u8]) -> String {
        match self {
            Format::Base16 => HEXLOWER.encode(digest),
            Format::Nix32 => nixbase32::encode(digest),
            Format::Base64 => BASE64.encode(digest),
            Format::Sri => format!("{}-{}", algo.name(), BASE64.encode(digest)),
        }
    }
}

/// A bad hash: CppNix's `BadHash`.
fn bad_hash(message: String) -> ErrorKind {
    ErrorKind::Builtin(message)
}

/// CppNix's `Hash::parseAny`: `algo:digest`, `algo-base64` (SRI) or a bare
/// digest, the algorithm given by the prefix or by `expected` (which
/// must then agree).
fn parse_any(text: &str, expected: Option<Algo>) -> Result<(Algo, Vec<u8>), ErrorKind> {
    let (prefix, rest, sri) = match text.split_once(':') {
        Some((prefix, rest)) => (Some(prefix), rest, false),
        None => match text.split_once('-') {
            Some((prefix, rest)) => (Some(prefix), rest, true),
            None => (None, text, false),
        },
    };
    let parsed = prefix.map(Algo::parse).transpose()?;
    let algo = match (parsed, expected) {
        (None, None) => {
            return Err(bad_hash(format!(
                "hash '{rest}' does not include a type, nor is the type otherwise known from context"
            )));
        }
        (Some(parsed), Some(expected)) if parsed != expected => {
            return Err(bad_hash(format!(
                "hash '{text}' should have type '{}'",
                expected.name()
            )));
        }
        (Some(algo), _) | (None, Some(algo)) => algo,
    };
    Ok((algo, decode_digest(rest, algo, sri)?))
}

/// Decodes a digest whose encoding its length tells (an SRI digest is
/// always base64), as CppNix's `Hash` constructor does.
fn decode_digest(rest: &str, algo: Algo, sri: bool) -> Result<Vec<u8>, ErrorKind> {
    let size = algo.size();
    if !sri && rest.len() == size * 2 {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(rest.as_bytes())
            .map_err(|_| bad_hash(format!("invalid base-16 hash '{rest}'")))
    } else if !sri && rest.len() == nixbase32::encode_len(size) {
        nixbase32::decode(rest).map_err(|_| bad_hash(format!("invalid base-32 hash '{rest}'")))
    } else if sri || rest.len() == size.div_ceil(3) * 4 {
        match lenient_base64(rest) {
            Some(digest) if digest.len() == size => Ok(digest),
            _ => Err(bad_hash(format!(
                "invalid {} hash '{rest}'",
                if sri { "SRI" } else { "base-64" }
            ))),
        }
    } else {
        Err(bad_hash(format!(
            "hash '{rest}' has wrong length for hash algorithm '{}'",
            algo.name()
        )))
    }
}

/// A commit hash in a flake reference's URL: base-16 sha1 or any other
/// form of a sha1 hash (CppNix's `Hash::parseAny(s, SHA1).gitRev()`).
pub(super) fn sha1_rev(text: &str) -> Result<String, ErrorKind> {
    let (_, digest) = parse_any(text, Some(Algo::Sha1))?;
    Ok(HEXLOWER.encode(&digest))
}

/// The `rev` attribute of a flake reference as CppNix's `Input::getRev`
/// reads it: a hash naming its algorithm, else a sha1 hash.
pub(super) fn git_rev(text: &str) -> Result<String, ErrorKind> {
    let (_, digest) = match parse_any(text, None) {
        Ok(parsed) => parsed,
        Err(e @ ErrorKind::Usage(_)) => return Err(e),
        Err(_) => parse_any(text, Some(Algo::Sha1))?,
    };
    Ok(HEXLOWER.encode(&digest))
}

/// The `narHash` attribute of a flake reference, in SRI form, as
/// CppNix's `Input::getNarHash` reads it: an SRI sha256 hash, the empty
/// string standing for the zero hash.
pub(super) fn nar_hash_sri(text: &str) -> Result<String, ErrorKind> {
    let (algo, digest) = if text.is_empty() {
        (Algo::Sha256, vec![0; Algo::Sha256.size()])
    } else {
        let (algo, rest) = text
            .split_once('-')
            .ok_or_else(|| bad_hash(format!("hash '{text}' is not SRI")))?;
        let algo = Algo::parse(algo)?;
        (algo, decode_digest(rest, algo, true)?)
    };
    if algo != Algo::Sha256 {
        return Err(ErrorKind::Usage("narHash must use SHA-256".into()));
    }
    Ok(Format::Sri.print(algo, &digest))
}

/// CppNix's `base64Decode`: stops at the first `=`, skips newlines,
/// ignores left-over bits; `None` for a character outside the alphabet.
fn lenient_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let (mut bits, mut acc) = (0u32, 0u32);
    for c in s.bytes() {
        let digit = match c {
            b'=' => break,
            b'\n' => continue,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6 | u32::from(digit)) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The message of an I/O error without Rust's ` (os error N)`, as
/// CppNix's `strerror` text reads.
fn os_message(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// Hashes a file as it is read.
fn hash_file(co: &Co, path: &Path, algo: Algo) -> Result<Vec<u8>, Error> {
    let mut file = co
        .context()
        .io()
        .open(path)
        .map_err(|e| super::io_error(path, e))?;
    let mut hasher = Hasher::new(algo);
    let mut buf = vec![0; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(ErrorKind::Builtin(format!(
                    "reading from file '{}': {}",
                    path.display(),
                    os_message(&e)
                ))
                .into());
            }
        }
    }
}

/// The named attribute of `convertHash`'s argument, which must be there.
fn required(args: &NixAttrs, name: &str) -> Result<Value, ErrorKind> {
    args.get(name.as_bytes())
        .cloned()
        .ok_or_else(|| ErrorKind::missing_attribute(name))
}

#[builtins]
mod impls {
    use super::*;

    /// The base-16 hash of a string's bytes with the algorithm named
    /// first (`md5`, `sha1`, `sha256`, `sha512`; `blake3` with the
    /// `blake3-hashes` experimental feature). The string's context is
    /// ignored.
    #[builtin("hashString")]
    async fn builtin_hash_string(co: &Co, algo: Value, #[lazy] s: Value) -> Result<Value, Error> {
        let algo = Algo::parse(&string_without_context(&algo)?.to_str_lossy())?;
        let s = co.force(s).await?.as_string()?;
        algo.check_enabled(&co.context().options)?;
        let mut hasher = Hasher::new(algo);
        hasher.update(s.as_bytes());
        Ok(Value::string(HEXLOWER.encode(&hasher.finish())))
    }

    /// The base-16 hash of a file's contents, with the algorithm named
    /// first as for `hashString`. The file is read as it is hashed.
    #[builtin("hashFile")]
    async fn builtin_hash_file(co: &Co, algo: Value, #[lazy] path: Value) -> Result<Value, Error> {
        let algo = Algo::parse(&string_without_context(&algo)?.to_str_lossy())?;
        let path = coerce_to_path(co, path).await?;
        algo.check_enabled(&co.context().options)?;
        let digest = hash_file(co, &path, algo)?;
        Ok(Value::string(HEXLOWER.encode(&digest)))
    }

    /// Rewrites a hash in another format: `{ hash; toHashFormat; hashAlgo
    /// ? null; }`, `hash` in any form Nix reads (`algo:digest`, SRI, or a
    /// bare digest when `hashAlgo` names the algorithm), `toHashFormat`
    /// one of `base16`, `nix32` (`base32` is a deprecated alias),
    /// `base64` and `sri`.
    #[builtin("convertHash")]
    async fn builtin_convert_hash(co: &Co, args: Value) -> Result<Value, Error> {
        let args = args.as_attrs()?;
        let hash = co.force(required(&args, "hash")?).await?;
        let hash = string_without_context(&hash)?;
        let expected = match args.get(b"hashAlgo") {
            Some(algo) => {
                let algo = string_without_context(&co.force(algo.clone()).await?)?;
                Some(Algo::parse(&algo.to_str_lossy())?)
            }
            None => None,
        };
        let format = co.force(required(&args, "toHashFormat")?).await?;
        let format = Format::parse(co, &string_without_context(&format)?.to_str_lossy())?;
        let (algo, digest) = parse_any(&hash.to_str_lossy(), expected)?;
        algo.check_enabled(&co.context().options)?;
        Ok(Value::String(NixString::from(format.print(algo, &digest))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// sha256 of the empty string in every form.
    const EMPTY_SHA256_HEX: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const EMPTY_SHA256_NIX32: &str = "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
    const EMPTY_SHA256_BASE64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    fn hash(algo: Algo, data: &[u8]) -> String {
        let mut h = Hasher::new(algo);
        h.update(data);
        HEXLOWER.encode(&h.finish())
    }

    // `modern-nix nix-instantiate --eval -E 'builtins.hashString "<algo>" "text 1"'`
    // (the lang suite's eval-okay-hashstring.exp); blake3 from `b3sum`'s
    // reference vector for the empty input.
    #[rstest]
    #[case::md5(Algo::Md5, "text 1", "6c69ee7f211c640419d5366cc076ae46")]
    #[case::sha1(Algo::Sha1, "text 1", "cd54e8568c1b37cf1e5badb0779bcbf382212189")]
    #[case::sha256(
        Algo::Sha256,
        "text 1",
        "900a4469df00ccbfd0c145c6d1e4b7953dd0afafadd7534e3a4019e8d38fc663"
    )]
    #[case::sha512(
        Algo::Sha512,
        "text 1",
        "9d0886f8c6b389398a16257bc79780fab9831c7fc11c8ab07fa732cb7b348feade382f92617c9c5305fefba0af02ab5fd39a587d330997ff5bd0db19f7666653"
    )]
    #[case::blake3_empty(
        Algo::Blake3,
        "",
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )]
    fn hashes(#[case] algo: Algo, #[case] data: &str, #[case] expected: &str) {
        assert_eq!(hash(algo, data.as_bytes()), expected);
    }

    // `builtins.convertHash { hash = "<hash>"; toHashFormat = "base16";
    // hashAlgo = ...; }` in modern-nix: every input CppNix accepts gives
    // sha256("").
    #[rstest]
    #[case::prefixed_hex(format!("sha256:{EMPTY_SHA256_HEX}"), None)]
    #[case::prefixed_upper_hex(format!("sha256:{}", EMPTY_SHA256_HEX.to_uppercase()), None)]
    #[case::prefixed_nix32(format!("sha256:{EMPTY_SHA256_NIX32}"), None)]
    #[case::prefixed_base64(format!("sha256:{EMPTY_SHA256_BASE64}"), None)]
    #[case::sri(format!("sha256-{EMPTY_SHA256_BASE64}"), None)]
    #[case::sri_without_padding(format!("sha256-{}", EMPTY_SHA256_BASE64.trim_end_matches('=')), None)]
    #[case::bare_with_algo(EMPTY_SHA256_NIX32.to_string(), Some(Algo::Sha256))]
    #[case::prefixed_and_agreeing(format!("sha256:{EMPTY_SHA256_HEX}"), Some(Algo::Sha256))]
    fn parses(#[case] text: String, #[case] expected: Option<Algo>) {
        let (algo, digest) = parse_any(&text, expected).expect("a valid hash");
        assert_eq!(
            (algo, HEXLOWER.encode(&digest)),
            (Algo::Sha256, EMPTY_SHA256_HEX.to_string())
        );
    }

    // The messages of `builtins.convertHash { hash = "<hash>";
    // toHashFormat = "sri"; hashAlgo = ...; }` in modern-nix.
    #[rstest]
    #[case::no_type(
        "abc",
        None,
        "hash 'abc' does not include a type, nor is the type otherwise known from context"
    )]
    #[case::wrong_length(
        "sha256:x",
        None,
        "hash 'x' has wrong length for hash algorithm 'sha256'"
    )]
    #[case::bare_wrong_length(
        "abc",
        Some(Algo::Sha256),
        "hash 'abc' has wrong length for hash algorithm 'sha256'"
    )]
    #[case::bad_sri("sha256-abc", None, "invalid SRI hash 'abc'")]
    #[case::bad_base64(
        "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U=",
        None,
        "invalid base-64 hash '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu!U='"
    )]
    #[case::bad_base16(
        "sha256:zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234",
        None,
        "invalid base-16 hash 'zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234zzzz1234'"
    )]
    #[case::bad_nix32_char(
        "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7u",
        None,
        "invalid base-32 hash '0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7u'"
    )]
    #[case::nix32_overflow(
        "sha256:zmdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        None,
        "invalid base-32 hash 'zmdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73'"
    )]
    #[case::conflicting_sri(
        "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        Some(Algo::Sha1),
        "hash 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' should have type 'sha1'"
    )]
    #[case::unknown_algo(
        "SHA256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        None,
        "unknown hash algorithm 'SHA256', expect 'blake3', 'md5', 'sha1', 'sha256', or 'sha512'"
    )]
    fn rejects(#[case] text: &str, #[case] expected: Option<Algo>, #[case] message: &str) {
        let err = parse_any(text, expected).expect_err("an invalid hash");
        assert_eq!(err.to_string(), message);
    }

    #[rstest]
    #[case::base16(Format::Base16, EMPTY_SHA256_HEX.to_string())]
    #[case::nix32(Format::Nix32, EMPTY_SHA256_NIX32.to_string())]
    #[case::base64(Format::Base64, EMPTY_SHA256_BASE64.to_string())]
    #[case::sri(Format::Sri, format!("sha256-{EMPTY_SHA256_BASE64}"))]
    fn prints(#[case] format: Format, #[case] expected: String) {
        let digest = HEXLOWER.decode(EMPTY_SHA256_HEX.as_bytes()).expect("hex");
        assert_eq!(format.print(Algo::Sha256, &digest), expected);
    }

    #[rstest]
    #[case::os_error(io::Error::from_raw_os_error(21), "Is a directory")]
    #[case::custom(io::Error::other("boom"), "boom")]
    fn os_messages(#[case] e: io::Error, #[case] expected: &str) {
        assert_eq!(os_message(&e), expected);
    }
}
