//! Bigtable as a store of values by key, shared by the Bigtable directory
//! service and tvix-store's Bigtable path info service.
//!
//! Each value is one cell: column `data` of the configured family, at the
//! fixed timestamp 0, so a row never holds more than one version (a write
//! at the same timestamp replaces the cell). A cell is at most
//! [CELL_SIZE_LIMIT] bytes; larger values are refused before they are sent.
//!
//! Writes are single-row mutations, which Bigtable applies atomically, so
//! two writers of the same row cannot leave a mixture behind.
//! [BigtableRows::put_if_absent] only writes a row that has no cell yet
//! (CheckAndMutateRow), so content-addressed rows are never rewritten.
//!
//! The client is `bigtable_rs` (Google credentials from the usual
//! environment); `BIGTABLE_EMULATOR_HOST=host:port` connects to an emulator
//! instead, without credentials.

mod params;
mod read;

#[cfg(feature = "integration")]
pub mod emulator;
#[cfg(all(test, feature = "integration"))]
mod tests;

use std::future::Future;

use bigtable_rs::bigtable::{BigTable, BigTableConnection};
use bigtable_rs::google::bigtable::v2::{
    CheckAndMutateRowRequest, ColumnRange, MutateRowRequest, Mutation, ReadRowsRequest, RowFilter,
    RowSet, column_range, mutation, row_filter,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use url::Url;

pub use params::{BigtableParams, DEFAULT_CHANNEL_SIZE, DEFAULT_TIMEOUT, ParamsError};
pub use read::Row;
use read::RowAssembler;

/// The largest cell written, as Bigtable recommends for cells (its hard
/// limit is higher, but large cells slow down every read of their row).
pub const CELL_SIZE_LIMIT: usize = 10 * 1024 * 1024;

/// The largest gRPC message accepted: a row of one full cell, with room.
const MAX_MESSAGE_BYTES: usize = 2 * CELL_SIZE_LIMIT;

/// The column holding the value.
const QUALIFIER: &[u8] = b"data";

/// How many listed rows are read ahead of the consumer.
const SCAN_QUEUE: usize = 64;

/// Why a Bigtable operation failed.
#[derive(Debug, Error)]
pub enum BigtableError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("BIGTABLE_EMULATOR_HOST={0:?} is not host:port or unix:///path")]
    InvalidEmulatorHost(String),
    #[error("connecting to Bigtable: {0}")]
    Connect(Box<bigtable_rs::bigtable::Error>),
    #[error("{op} of row {key:?}: {source}")]
    Request {
        op: &'static str,
        key: String,
        source: Box<bigtable_rs::bigtable::Error>,
    },
    #[error("{op} of row {key:?}: no answer within {timeout:?}")]
    Timeout {
        op: &'static str,
        key: String,
        timeout: std::time::Duration,
    },
    #[error(
        "row {key:?}: a value of {size} bytes exceeds the Bigtable cell limit of {CELL_SIZE_LIMIT} bytes"
    )]
    CellTooLarge { key: String, size: usize },
    #[error("{op} of row {key:?}: malformed response: {reason}")]
    Protocol {
        op: &'static str,
        key: String,
        reason: String,
    },
}

/// One table and column family of a Bigtable instance; cheap to clone.
#[derive(Clone)]
pub struct BigtableRows {
    client: BigTable,
    table_path: String,
    params: std::sync::Arc<BigtableParams>,
}

impl BigtableRows {
    /// Connects lazily (nothing is sent until the first request) to the
    /// table named by a `bigtable://` URL.
    pub async fn from_url(url: &Url) -> Result<Self, BigtableError> {
        Self::connect(BigtableParams::from_url(url)?).await
    }

    pub async fn connect(params: BigtableParams) -> Result<Self, BigtableError> {
        let timeout = Some(params.timeout);
        let connection = match std::env::var("BIGTABLE_EMULATOR_HOST") {
            Ok(host) => {
                // bigtable_rs panics on a host it cannot parse; refuse it here.
                if !host.starts_with("unix://")
                    && format!("http://{host}")
                        .parse::<tonic::transport::Uri>()
                        .is_err()
                {
                    return Err(BigtableError::InvalidEmulatorHost(host));
                }
                BigTableConnection::new_with_emulator(
                    &host,
                    &params.project_id,
                    &params.instance_name,
                    false,
                    params.channel_size,
                    timeout,
                )
            }
            Err(_) => {
                BigTableConnection::new(
                    &params.project_id,
                    &params.instance_name,
                    false,
                    params.channel_size,
                    timeout,
                )
                .await
            }
        }
        .map_err(|e| BigtableError::Connect(Box::new(e)))?;
        Ok(Self::with_client(connection.client(), params))
    }

    fn with_client(mut client: BigTable, params: BigtableParams) -> Self {
        client.configure_inner_client(|inner| {
            inner
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)
        });
        Self {
            client,
            table_path: params.table_path(),
            params: std::sync::Arc::new(params),
        }
    }

    pub fn params(&self) -> &BigtableParams {
        &self.params
    }

    /// The value stored under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BigtableError> {
        const OP: &str = "read";
        let request = ReadRowsRequest {
            rows: Some(RowSet {
                row_keys: vec![key.as_bytes().to_vec()],
                row_ranges: vec![],
            }),
            rows_limit: 1,
            ..self.read_request()
        };
        let mut rows = self.read_rows(request, OP, key);
        let mut found = None;
        while let Some(row) = rows.next().await {
            let (row_key, value) = row?;
            if row_key != key.as_bytes() || found.is_some() {
                return Err(BigtableError::Protocol {
                    op: OP,
                    key: key.to_owned(),
                    reason: format!("got row {:?} as well", String::from_utf8_lossy(&row_key)),
                });
            }
            found = Some(value);
        }
        Ok(found)
    }

    /// Writes `value` under `key` unless the row already has a value, in one
    /// CheckAndMutateRow. Returns whether it wrote.
    pub async fn put_if_absent(&self, key: &str, value: Vec<u8>) -> Result<bool, BigtableError> {
        let request = CheckAndMutateRowRequest {
            table_name: self.table_path.clone(),
            app_profile_id: self.params.app_profile_id.clone(),
            row_key: key.as_bytes().to_vec(),
            predicate_filter: Some(self.column_filter()),
            false_mutations: vec![self.set_cell(key, value)?],
            ..Default::default()
        };
        let mut client = self.client.clone();
        let response = self
            .deadline(
                "conditional write",
                key,
                client.check_and_mutate_row(request),
            )
            .await?;
        Ok(!response.predicate_matched)
    }

    /// Writes `value` under `key`, replacing what is there, in one atomic
    /// MutateRow.
    pub async fn replace(&self, key: &str, value: Vec<u8>) -> Result<(), BigtableError> {
        let request = MutateRowRequest {
            table_name: self.table_path.clone(),
            app_profile_id: self.params.app_profile_id.clone(),
            row_key: key.as_bytes().to_vec(),
            mutations: vec![self.set_cell(key, value)?],
            ..Default::default()
        };
        let mut client = self.client.clone();
        self.deadline("write", key, client.mutate_row(request))
            .await?;
        Ok(())
    }

    /// Every row of the table, in key order. An error ends the stream as
    /// its last item; reading stops once the stream is dropped.
    pub fn scan(&self) -> BoxStream<'static, Result<Row, BigtableError>> {
        self.read_rows(self.read_request(), "listing", "").boxed()
    }

    /// Runs `request` in a task feeding a bounded queue, with the timeout
    /// applied to each response message.
    fn read_rows(
        &self,
        request: ReadRowsRequest,
        op: &'static str,
        key: &str,
    ) -> ReceiverStream<Result<Row, BigtableError>> {
        let (sender, receiver) = mpsc::channel(SCAN_QUEUE);
        let this = self.clone();
        let key = key.to_owned();
        tokio::spawn(async move {
            if let Err(e) = this.read_rows_into(request, op, &key, &sender).await {
                let _ = sender.send(Err(e)).await;
            }
        });
        ReceiverStream::new(receiver)
    }

    async fn read_rows_into(
        &self,
        request: ReadRowsRequest,
        op: &'static str,
        key: &str,
        sender: &mpsc::Sender<Result<Row, BigtableError>>,
    ) -> Result<(), BigtableError> {
        let mut client = self.client.clone();
        let mut request = tonic::Request::new(request);
        request.metadata_mut().insert(
            "x-goog-request-params",
            self.routing_header()
                .parse()
                .expect("a URL-encoded header is valid ASCII"),
        );
        let mut response = self
            .deadline(op, key, async {
                client
                    .get_client()
                    .read_rows(request)
                    .await
                    .map_err(Into::into)
            })
            .await?
            .into_inner();
        let protocol = |reason| BigtableError::Protocol {
            op,
            key: key.to_owned(),
            reason,
        };
        let mut assembler = RowAssembler::default();
        while let Some(message) = self
            .deadline(op, key, async {
                response.message().await.map_err(Into::into)
            })
            .await?
        {
            for chunk in message.chunks {
                if let Some(row) = assembler.push(chunk).map_err(protocol)?
                    && sender.send(Ok(row)).await.is_err()
                {
                    return Ok(()); // the reader is gone
                }
            }
        }
        assembler.finish().map_err(protocol)
    }

    /// Awaits a request, turning its failure or lateness into an error
    /// naming the operation and row.
    async fn deadline<T>(
        &self,
        op: &'static str,
        key: &str,
        request: impl Future<Output = Result<T, bigtable_rs::bigtable::Error>>,
    ) -> Result<T, BigtableError> {
        match tokio::time::timeout(self.params.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(BigtableError::Request {
                op,
                key: key.to_owned(),
                source: Box::new(source),
            }),
            Err(_) => Err(BigtableError::Timeout {
                op,
                key: key.to_owned(),
                timeout: self.params.timeout,
            }),
        }
    }

    /// A read of our column, latest version only.
    fn read_request(&self) -> ReadRowsRequest {
        ReadRowsRequest {
            table_name: self.table_path.clone(),
            app_profile_id: self.params.app_profile_id.clone(),
            filter: Some(RowFilter {
                filter: Some(row_filter::Filter::Chain(row_filter::Chain {
                    filters: vec![
                        self.column_filter(),
                        RowFilter {
                            filter: Some(row_filter::Filter::CellsPerColumnLimitFilter(1)),
                        },
                    ],
                })),
            }),
            ..Default::default()
        }
    }

    /// Matches exactly our column (a range rather than a regular
    /// expression, so no name needs escaping).
    fn column_filter(&self) -> RowFilter {
        RowFilter {
            filter: Some(row_filter::Filter::ColumnRangeFilter(ColumnRange {
                family_name: self.params.family_name.clone(),
                start_qualifier: Some(column_range::StartQualifier::StartQualifierClosed(
                    QUALIFIER.to_vec(),
                )),
                end_qualifier: Some(column_range::EndQualifier::EndQualifierClosed(
                    QUALIFIER.to_vec(),
                )),
            })),
        }
    }

    fn set_cell(&self, key: &str, value: Vec<u8>) -> Result<Mutation, BigtableError> {
        if value.len() > CELL_SIZE_LIMIT {
            return Err(BigtableError::CellTooLarge {
                key: key.to_owned(),
                size: value.len(),
            });
        }
        Ok(Mutation {
            mutation: Some(mutation::Mutation::SetCell(mutation::SetCell {
                family_name: self.params.family_name.clone(),
                column_qualifier: QUALIFIER.to_vec(),
                timestamp_micros: 0,
                value,
            })),
        })
    }

    /// What Bigtable routes a request of this table by.
    fn routing_header(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("table_name", &self.table_path)
            .append_pair("app_profile_id", &self.params.app_profile_id)
            .finish()
    }
}
