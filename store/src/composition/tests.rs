//! Documents, good and bad. `{tmp}` in a document is a fresh temporary
//! directory.

use rstest::rstest;

use super::*;
use crate::utils::compose_services;

/// A store as the deployment page describes it, on local stand-ins: blobs
/// from a local pack first, a shared object store second; directories and
/// PathInfos cached in front of shared databases.
const LAYERED: &str = r#"
[blobservices.local]
type = "pack"
path = "{tmp}/pack"

[blobservices.shared]
type = "objectstore"
url = "file://{tmp}/shared"

[blobservices.default]
type = "combined"
near = "local"
far = "shared"

[directoryservices.lru]
type = "lru"
capacity = 1000

[directoryservices.shared]
type = "redb"
path = "{tmp}/directories.redb"

[directoryservices.default]
type = "cache"
near = "lru"
far = "shared"

[pathinfoservices.near]
type = "lru"
capacity = 100

[pathinfoservices.shared]
type = "sled"
path = "{tmp}/pathinfo.sled"

[pathinfoservices.default]
type = "cache"
near = "near"
far = "shared"
"#;

const ALL_IN_MEMORY: &str = r#"
blobservices.default.type = "memory"
directoryservices.default.type = "memory"
pathinfoservices.default.type = "memory"
"#;

const REMOTE_AND_CACHE: &str = r#"
[blobservices.default]
type = "grpc"
url = "grpc+http://[::1]:8000"

[directoryservices.default]
type = "redb"

[pathinfoservices.cache]
type = "nix"
url = "https://cache.nixos.org"
require_sigs = false

[pathinfoservices.default]
type = "cache"
near = "cache"
far = "remote"

[pathinfoservices.remote]
type = "grpc"
url = "grpc+unix:///run/tvix/store.sock"
"#;

fn document(text: &str, tmp: &std::path::Path) -> String {
    text.replace("{tmp}", &tmp.to_string_lossy())
}

#[rstest]
#[case::layered(LAYERED)]
#[case::all_in_memory(ALL_IN_MEMORY)]
#[case::remote_and_cache(REMOTE_AND_CACHE)]
#[tokio::test]
async fn good(#[case] text: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let composition = StoreComposition::from_toml(&document(text, tmp.path())).expect("valid");
    compose_services(&composition).await.expect("builds");
}

#[rstest]
#[case::unknown_table(
    "[blobservice.default]\ntype = \"memory\"",
    "blobservice: unknown field `blobservice`, expected one of `blobservices`, `directoryservices`, `pathinfoservices`"
)]
#[case::unknown_type(
    "[blobservices.default]\ntype = \"s4\"",
    "blobservices.default.type: unknown variant `s4`, expected one of `memory`, `objectstore`, `pack`, `grpc`, `combined`"
)]
#[case::missing_type(
    "[blobservices.default]\npath = \"/x\"",
    "blobservices.default: missing field `type`"
)]
#[case::unknown_key(
    "[blobservices.default]\ntype = \"combined\"\nnear = \"a\"\nfra = \"b\"",
    "blobservices.default: unknown field `fra`, expected `near` or `far`"
)]
#[case::unknown_key_of_leaf(
    "[directoryservices.default]\ntype = \"redb\"\npaht = \"/x\"",
    "directoryservices.default: unknown field `paht`, expected `path`"
)]
#[case::wrong_type_of_setting(
    "[pathinfoservices.default]\ntype = \"lru\"\ncapacity = \"many\"",
    "pathinfoservices.default: invalid type: string \"many\", expected a nonzero usize"
)]
#[case::zero_capacity(
    "[pathinfoservices.default]\ntype = \"lru\"\ncapacity = 0",
    "pathinfoservices.default: invalid value: integer `0`, expected a nonzero usize"
)]
#[case::syntax(
    "[blobservices.default]\ntype = memory",
    "line 2, column 8: string values must be quoted, expected literal string"
)]
#[case::dangling(
    "[blobservices.local]\ntype = \"memory\"\n[blobservices.default]\ntype = \"combined\"\nnear = \"local\"\nfar = \"s4\"",
    "blobservices.default.far: no service named \"s4\" in blobservices"
)]
#[case::dangling_across_tables(
    "[pathinfoservices.default]\ntype = \"nix\"\nurl = \"https://cache.nixos.org\"\ndirectory_service = \"dirs\"",
    "pathinfoservices.default.blob_service: no service named \"default\" in blobservices"
)]
#[case::cycle(
    "[directoryservices.a]\ntype = \"cache\"\nnear = \"b\"\nfar = \"b\"\n[directoryservices.b]\ntype = \"cache\"\nnear = \"a\"\nfar = \"a\"",
    "directoryservices.a.near: reference cycle directoryservices.a -> directoryservices.b -> directoryservices.a"
)]
#[case::pathinfo_cycle(
    "[pathinfoservices.default]\ntype = \"cache\"\nnear = \"m\"\nfar = \"default\"\n[pathinfoservices.m]\ntype = \"memory\"",
    "pathinfoservices.default.far: reference cycle pathinfoservices.default -> pathinfoservices.default"
)]
fn bad(#[case] text: &str, #[case] expected: &str) {
    match StoreComposition::from_toml(text) {
        Ok(_) => panic!("must be refused:\n{text}"),
        Err(e) => assert_eq!(expected, e.to_string()),
    }
}

/// Documents that check but fail to build name the entry that failed.
#[rstest]
#[case::no_default(
    "[blobservices.other]\ntype = \"memory\"",
    "blobservices.default: not defined"
)]
#[case::bad_object_store_url(
    "[blobservices.default]\ntype = \"objectstore\"\nurl = \"s3://\"\n[directoryservices.default]\ntype = \"memory\"\n[pathinfoservices.default]\ntype = \"memory\"",
    "blobservices.default: \"s3://\": an s3:// URL needs a bucket: s3://bucket/prefix"
)]
#[case::nested_failure(
    "[blobservices.far]\ntype = \"grpc\"\nurl = \"grpc+ftp://x\"\n[blobservices.default]\ntype = \"combined\"\nnear = \"far\"\nfar = \"far\"",
    "blobservices.far: unsupported scheme \"grpc+ftp\": expected grpc+unix, grpc+http or grpc+https"
)]
#[tokio::test]
async fn fails_to_build(#[case] text: &str, #[case] expected: &str) {
    let composition = StoreComposition::from_toml(text).expect("checks");
    match compose_services(&composition).await {
        Ok(_) => panic!("must fail:\n{text}"),
        Err(e) => assert_eq!(expected, e.to_string()),
    }
}

/// Each address is shorthand for one `default` entry.
#[test]
fn addresses_are_shorthand() {
    let addrs = crate::utils::ServiceAddrs {
        blob_service_addr: "objectstore+s3://bucket/prefix?region=eu-west-1".into(),
        directory_service_addr: "redb:///var/lib/tvix/directories.redb".into(),
        path_info_service_addr: "nix+https://cache.nixos.org?require-sigs=false".into(),
    };
    let expected = CompositionDocument::from_toml(
        r#"
        [blobservices.default]
        type = "objectstore"
        url = "s3://bucket/prefix?region=eu-west-1"
        [directoryservices.default]
        type = "redb"
        path = "/var/lib/tvix/directories.redb"
        [pathinfoservices.default]
        type = "nix"
        url = "https://cache.nixos.org/"
        require_sigs = false
        "#,
    )
    .expect("valid");
    assert_eq!(expected, addrs.document().expect("valid addresses"));
}
