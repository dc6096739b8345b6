//! `tvix-store virtiofs SOCKET` (feature `virtiofs`) answers a vhost-user
//! frontend's handshake as a virtio-fs device would, and exits when the
//! frontend goes away. Booting a VM against it is left to manual testing.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use vhost::VhostBackend;
use vhost::vhost_user::message::{VhostUserProtocolFeatures, VhostUserVirtioFeatures};
use vhost::vhost_user::{Frontend, VhostUserFrontend};

#[test]
fn vhost_user_handshake() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("virtiofs.sock");
    let mut child = Command::new(BIN)
        .args(all_services_at("memory://"))
        .arg("virtiofs")
        .arg(&socket)
        .stdin(Stdio::null())
        .spawn()
        .expect("start tvix-store virtiofs");

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut frontend = loop {
        match Frontend::connect(&socket, 2) {
            Ok(frontend) => break frontend,
            Err(e) => {
                assert!(Instant::now() < deadline, "no socket after 30 s: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    frontend.set_owner().expect("set_owner");
    let features = frontend.get_features().expect("get_features");
    assert_ne!(0, features & (1 << 32), "VIRTIO_F_VERSION_1 offered");
    assert_ne!(
        0,
        features & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits(),
        "protocol features offered"
    );
    frontend.set_features(features).expect("set_features");
    let protocol = frontend
        .get_protocol_features()
        .expect("get_protocol_features");
    assert!(
        protocol.contains(VhostUserProtocolFeatures::MQ),
        "{protocol:?}"
    );
    frontend
        .set_protocol_features(protocol)
        .expect("set_protocol_features");
    assert_eq!(2, frontend.get_queue_num().expect("get_queue_num"));

    drop(frontend);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tvix-store virtiofs still running after the frontend left");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exited with {status}");
}
