//! nar-bridge's limit flags: in `--help`, and the render limits honoured
//! by downloads.

use std::process::Command;

use nar_bridge::{AppState, Config, router};
use nix_compat::narinfo::NarInfo;
use nix_compat::nixbase32;
use tvix_store::import::import_path_as_nar_ca;
use tvix_store::nar::RenderLimits;
use tvix_store::utils::{ServiceAddrs, Services, construct_services};

#[test]
fn limits_in_help() {
    let output = Command::new(env!("CARGO_BIN_EXE_nar-bridge"))
        .arg("--help")
        .output()
        .expect("run nar-bridge");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--max-concurrent-requests",
        "--max-depth",
        "--max-nar-entries",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

/// Serves `services` with `limits`; the bridge's base URL.
async fn bridge(services: &Services, limits: RenderLimits) -> String {
    let state = AppState::new(
        services.blob_service.clone(),
        services.directory_service.clone(),
        services.path_info_service.clone(),
        Config {
            priority: 40,
            ..Config::default()
        },
    )
    .with_render_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    format!("http://{address}")
}

/// A tree of a directory and three files (4 entries) is served within the
/// default limits; with `--max-nar-entries 3` its transfer breaks (the
/// response has started when the render is refused), never a short NAR.
#[tokio::test]
async fn nar_entries_honoured() {
    let memory = "memory://".to_owned();
    let services = construct_services(&ServiceAddrs {
        blob_service_addr: memory.clone(),
        directory_service_addr: memory.clone(),
        path_info_service_addr: memory,
    })
    .await
    .expect("services");
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    std::fs::create_dir(&tree).expect("mkdir");
    for name in ["a", "b", "c"] {
        std::fs::write(tree.join(name), name).expect("write");
    }
    let path_info = import_path_as_nar_ca(
        services.blob_service.clone(),
        &*services.directory_service,
        &*services.path_info_service,
        &tree,
        None,
        &(),
    )
    .await
    .expect("import");
    let narinfo_path = format!(
        "{}.narinfo",
        nixbase32::encode(path_info.store_path.digest())
    );
    let http = reqwest::Client::new();
    for (limits, served) in [
        (RenderLimits::default(), true),
        (
            RenderLimits {
                max_entries: 3,
                ..RenderLimits::default()
            },
            false,
        ),
    ] {
        let base = bridge(&services, limits).await;
        let narinfo = http
            .get(format!("{base}/{narinfo_path}"))
            .send()
            .await
            .expect("narinfo")
            .text()
            .await
            .expect("narinfo body");
        let url = NarInfo::parse(&narinfo).expect("narinfo").url.to_owned();
        let response = http.get(format!("{base}/{url}")).send().await.expect("NAR");
        // A tree over the limits is refused before the first byte: an
        // error status, not a broken 200.
        assert_eq!(served, response.status().is_success(), "{limits:?}");
        let nar = response.bytes().await.expect("body");
        if served {
            assert_eq!(path_info.nar_size, nar.len() as u64);
        }
    }
}
