//! Against the `nix` on this machine, when there is one: a key pair and a
//! signed narinfo made now by Nix must parse, render back and verify.

use std::{path::Path, process::Command};

use crate::narinfo::{NarInfo, SigningKey, VerifyingKey};

fn run(command: &mut Command) -> String {
    let output = command.output().expect("command starts");
    assert!(output.status.success(), "{command:?}: {output:?}");
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn nix_is_installed() -> bool {
    Command::new("nix-store").arg("--version").output().is_ok()
}

#[test]
fn fresh_nix_narinfo_verifies_and_resigns() {
    if !nix_is_installed() {
        println!("skipping: nix-store is not on PATH");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (sk, pk) = (dir.path().join("sk"), dir.path().join("pk"));
    run(Command::new("nix-store")
        .arg("--generate-binary-cache-key")
        .arg("differential-key")
        .args([&sk, &pk]));
    let signing_key: SigningKey = read(&sk).parse().expect("Nix's secret key parses");
    let verifying_key: VerifyingKey = read(&pk).parse().expect("Nix's public key parses");
    assert_eq!(signing_key.verifying_key(), verifying_key);
    assert_eq!(verifying_key.to_string(), read(&pk));

    let file = dir.path().join("narinfo-differential.txt");
    std::fs::write(&file, "tvix narinfo differential test\n").expect("write file");
    let store_path = run(Command::new("nix-store").arg("--add").arg(&file));
    let store_path = store_path.trim_end();
    let cache = dir.path().join("cache");
    run(Command::new("nix")
        .args([
            "--extra-experimental-features",
            "nix-command",
            "copy",
            "--to",
        ])
        .arg(format!(
            "file://{}?compression=none&secret-key={}",
            cache.display(),
            sk.display()
        ))
        .arg(store_path));

    let hash_part = store_path
        .trim_start_matches("/nix/store/")
        .split('-')
        .next()
        .expect("store path has a hash part");
    let text = read(&cache.join(format!("{hash_part}.narinfo")));
    let mut info = NarInfo::parse(&text).expect("Nix's narinfo parses");
    assert_eq!(info.to_string(), text);
    assert_eq!(info.store_path.to_absolute_path(), store_path);
    let [signature] = info.signatures[..] else {
        panic!("expected one signature in {text}");
    };
    assert!(signature.verify(info.fingerprint().as_bytes(), &verifying_key));
    info.signatures.clear();
    info.add_signature(&signing_key);
    assert_eq!(info.signatures, [signature]);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read file")
}
