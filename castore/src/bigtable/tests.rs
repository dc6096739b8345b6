//! [BigtableRows] against the emulator: the cell limit, conditional writes
//! racing from two clients, and large cells read back whole.

use futures::TryStreamExt;
use url::Url;

use super::{BigtableError, BigtableRows, CELL_SIZE_LIMIT};
use crate::bigtable::emulator::shared_table_url;

/// Two independent clients of one fresh table (as two daemons would
/// have), or None if there is no emulator.
async fn two_clients() -> Option<(BigtableRows, BigtableRows)> {
    let url = Url::parse(&shared_table_url().await?).expect("valid URL");
    let first = BigtableRows::from_url(&url).await.expect("connect");
    let second = BigtableRows::from_url(&url).await.expect("connect");
    Some((first, second))
}

#[tokio::test]
async fn cell_limit() {
    let Some((rows, _)) = two_clients().await else {
        return;
    };
    let largest = vec![7; CELL_SIZE_LIMIT];
    assert!(
        rows.put_if_absent("largest", largest.clone())
            .await
            .expect("put")
    );
    assert_eq!(Some(largest), rows.get("largest").await.expect("get"));

    for result in [
        rows.put_if_absent("too-large", vec![0; CELL_SIZE_LIMIT + 1])
            .await
            .map(|_| ()),
        rows.replace("too-large", vec![0; CELL_SIZE_LIMIT + 1])
            .await,
    ] {
        match result {
            Err(e @ BigtableError::CellTooLarge { .. }) => assert_eq!(
                format!(
                    "row \"too-large\": a value of {} bytes exceeds the Bigtable cell limit of {CELL_SIZE_LIMIT} bytes",
                    CELL_SIZE_LIMIT + 1
                ),
                e.to_string()
            ),
            other => panic!("expected CellTooLarge, got {other:?}"),
        }
    }
    assert_eq!(None, rows.get("too-large").await.expect("get"));
}

/// Clients racing to fill the same row: exactly one writes, and the row
/// holds its value whole.
#[tokio::test]
async fn put_if_absent_race() {
    let Some((first, second)) = two_clients().await else {
        return;
    };
    for round in 0..20 {
        let key = format!("row-{round}");
        let (a, b) = tokio::join!(
            first.put_if_absent(&key, vec![1; 100_000]),
            second.put_if_absent(&key, vec![2; 100_000]),
        );
        let (a, b) = (a.expect("first put"), b.expect("second put"));
        assert!(a ^ b, "exactly one put must write, got {a} and {b}");
        let winner = if a { 1 } else { 2 };
        assert_eq!(
            Some(vec![winner; 100_000]),
            first.get(&key).await.expect("get")
        );
    }
}

#[tokio::test]
async fn replace_and_scan() {
    let Some((rows, _)) = two_clients().await else {
        return;
    };
    assert!(rows.put_if_absent("b", b"1".to_vec()).await.expect("put"));
    assert!(!rows.put_if_absent("b", b"2".to_vec()).await.expect("put"));
    rows.replace("b", b"3".to_vec()).await.expect("replace");
    rows.replace("a", b"4".to_vec()).await.expect("replace");
    let listed: Vec<_> = rows.scan().try_collect().await.expect("scan");
    assert_eq!(
        vec![
            (b"a".to_vec(), b"4".to_vec()),
            (b"b".to_vec(), b"3".to_vec())
        ],
        listed
    );
}

/// A server that is not there: errors naming the row, within the timeout.
#[tokio::test]
async fn unreachable_server_is_an_error() {
    let Some(url) = shared_table_url().await else {
        return;
    };
    let mut params = super::BigtableParams::from_url(&Url::parse(&url).unwrap()).unwrap();
    params.timeout = std::time::Duration::from_secs(2);
    // The emulator's table, but a closed port: from_url reads
    // BIGTABLE_EMULATOR_HOST, so this goes through the raw connection.
    let connection = bigtable_rs::bigtable::BigTableConnection::new_with_emulator(
        "127.0.0.1:1",
        &params.project_id,
        &params.instance_name,
        false,
        1,
        Some(params.timeout),
    )
    .expect("lazy connection");
    let rows = BigtableRows::with_client(connection.client(), params);
    let started = std::time::Instant::now();
    let error = rows.get("x").await.expect_err("nothing listens");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        error.to_string().starts_with("read of row \"x\": "),
        "{error}"
    );
}
