//! Who may use a TCP daemon: `tvix-store daemon` with TLS (`--tls-cert`,
//! `--tls-key`), client certificates (`--tls-client-ca`) and a bearer token
//! (`--token-file`), against `tvix-store` clients at `grpc+https://` and
//! `grpc+http://` addresses; and the plaintext TCP it refuses to serve.
//! The certificates are made by `tests/tls/gen.sh`.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use rstest::rstest;

const HELLO_PATH: &str = "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt";

fn tls_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tls")
        .join(name)
        .display()
        .to_string()
}

/// A token file in `dir`.
fn token_file(dir: &Path, name: &str, token: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{token}\n")).expect("write token");
    path.display().to_string()
}

/// What a client at `addr` (with `env`) sees importing hello.txt: the
/// store path on success, else its error line.
fn import_hello(dir: &Path, addr: &str, env: &[(&str, &str)]) -> Result<String, String> {
    let hello = dir.join("hello.txt");
    let output = std::process::Command::new(BIN)
        .args(all_services_at(addr))
        .args(["import", hello.to_str().expect("UTF-8")])
        .env_remove("TVIX_STORE_TOKEN")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run tvix-store");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Against a daemon with TLS and a token: the right CA and token work
/// (from `token_file=` or TVIX_STORE_TOKEN); a wrong or missing token, an
/// untrusted certificate and plaintext are all refused.
#[rstest]
#[case::token_file("?ca={ca}&token_file={token}", &[], Ok(()))]
#[case::token_env("?ca={ca}", &[("TVIX_STORE_TOKEN", "s3cret")], Ok(()))]
#[case::wrong_token("?ca={ca}&token_file={wrong}", &[], Err("wrong bearer token"))]
#[case::wrong_token_env("?ca={ca}", &[("TVIX_STORE_TOKEN", "guess")], Err("wrong bearer token"))]
#[case::no_token("?ca={ca}", &[], Err("a bearer token is required"))]
#[case::untrusted_ca("?ca={other_ca}&token_file={token}", &[], Err("UnknownIssuer"))]
#[case::system_roots("?token_file={token}", &[], Err("UnknownIssuer"))]
#[case::plaintext(
    "",
    &[],
    Err("h2 protocol error|connection closed|broken pipe")
)]
fn tls_and_token(
    #[case] query: &str,
    #[case] env: &[(&str, &str)],
    #[case] expected: Result<(), &str>,
) {
    let tmp = tempfile::tempdir().expect("tempdir");
    store_path_trees(tmp.path());
    let token = token_file(tmp.path(), "token", "s3cret");
    let wrong = token_file(tmp.path(), "wrong", "s3cre7");
    let (daemon, port) = Daemon::start_tcp(
        &all_services_at("memory://"),
        &[
            "--tls-cert",
            &tls_file("server.pem"),
            "--tls-key",
            &tls_file("server.key"),
            "--token-file",
            &token,
        ],
    );
    let scheme = if query.is_empty() { "http" } else { "https" };
    let query = query
        .replace("{ca}", &tls_file("ca.pem"))
        .replace("{other_ca}", &tls_file("other-ca.pem"))
        .replace("{token}", &token)
        .replace("{wrong}", &wrong);
    let addr = format!("grpc+{scheme}://localhost:{port}{query}");
    let result = import_hello(tmp.path(), &addr, env);
    daemon.stop();
    match expected {
        Ok(()) => assert_eq!(Ok(HELLO_PATH.to_owned()), result),
        // Alternatives, of which the error must name one: how a refused
        // connection ends depends on who sees what first.
        Err(messages) => {
            let error = result.expect_err("refused");
            assert!(
                messages.split('|').any(|message| error.contains(message)),
                "{messages:?} not in {error:?}"
            );
        }
    }
}

/// With --tls-client-ca, only clients with a certificate that CA signed
/// get in.
#[rstest]
#[case::with_certificate(true)]
#[case::without_certificate(false)]
fn mutual_tls(#[case] client_certificate: bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    store_path_trees(tmp.path());
    let (daemon, port) = Daemon::start_tcp(
        &all_services_at("memory://"),
        &[
            "--tls-cert",
            &tls_file("server.pem"),
            "--tls-key",
            &tls_file("server.key"),
            "--tls-client-ca",
            &tls_file("ca.pem"),
        ],
    );
    let mut addr = format!("grpc+https://127.0.0.1:{port}?ca={}", tls_file("ca.pem"));
    if client_certificate {
        addr += &format!(
            "&cert={}&key={}",
            tls_file("client.pem"),
            tls_file("client.key")
        );
    }
    let result = import_hello(tmp.path(), &addr, &[]);
    daemon.stop();
    if client_certificate {
        assert_eq!(Ok(HELLO_PATH.to_owned()), result);
    } else {
        let error = result.expect_err("refused");
        // The server's alert arrives, or the closed connection is seen
        // first (on reading, or on writing a request: a broken pipe).
        assert!(
            ["CertificateRequired", "connection closed", "broken pipe"]
                .iter()
                .any(|reason| error.contains(reason)),
            "{error}"
        );
    }
}

/// Plaintext TCP beyond loopback is refused unless --insecure says it is
/// meant; TLS on a Unix socket makes no sense and is refused too.
#[rstest]
#[case::plaintext_anywhere(&["--listen-address", "0.0.0.0:{port}"], Some("refusing plaintext TCP on 0.0.0.0:"))]
#[case::plaintext_anywhere_insecure(&["--listen-address", "0.0.0.0:{port}", "--insecure"], None)]
#[case::tls_on_unix_socket(
    &["--listen-address", "unix://{dir}/sock", "--tls-cert", "{cert}", "--tls-key", "{key}"],
    Some("TLS is for TCP addresses")
)]
#[case::cert_without_key(&["--listen-address", "127.0.0.1:{port}", "--tls-cert", "{cert}"], Some("--tls-key"))]
#[case::empty_token(&["--listen-address", "127.0.0.1:{port}", "--token-file", "{dir}/empty"], Some("is empty"))]
fn refused_setups(#[case] args: &[&str], #[case] expected_error: Option<&str>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("empty"), "\n").expect("write");
    let port = free_port();
    let args: Vec<String> = args
        .iter()
        .map(|arg| {
            arg.replace("{port}", &port.to_string())
                .replace("{dir}", &tmp.path().display().to_string())
                .replace("{cert}", &tls_file("server.pem"))
                .replace("{key}", &tls_file("server.key"))
        })
        .collect();
    let mut child = std::process::Command::new(BIN)
        .args(all_services_at("memory://"))
        .arg("daemon")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start daemon");
    match expected_error {
        Some(message) => {
            let output = child.wait_with_output().expect("wait");
            assert_eq!(
                Some(if message.starts_with("--") { 2 } else { 1 }),
                output.status.code()
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(message), "{message:?} not in {stderr:?}");
        }
        None => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(child.try_wait().expect("wait").is_none(), "daemon exited");
                assert!(std::time::Instant::now() < deadline, "not listening");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
