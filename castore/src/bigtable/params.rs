//! [BigtableParams]: where a Bigtable backend keeps its rows, parsed from
//! `bigtable://INSTANCE?project_id=…&table_name=…&family_name=…` (optional
//! `channel_size`, `timeout`, `app_profile_id`).
//!
//! As with every backend address, nothing in the URL is ignored: a path,
//! an unknown or repeated parameter, or a missing required one is an error.

use std::time::Duration;

use thiserror::Error;
use url::Url;

/// How many gRPC connections are opened when `channel_size` is not given.
pub const DEFAULT_CHANNEL_SIZE: usize = 4;
/// How long one request may take when `timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The settings of one Bigtable backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigtableParams {
    pub project_id: String,
    pub instance_name: String,
    pub table_name: String,
    pub family_name: String,
    /// Empty means the instance's default app profile.
    pub app_profile_id: String,
    pub channel_size: usize,
    /// The deadline of each request (a read of one row, a write, a listing
    /// page).
    pub timeout: Duration,
}

/// Why a `bigtable://` URL was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParamsError {
    #[error("bigtable:// needs an instance name as host, as in bigtable://INSTANCE?…")]
    MissingInstance,
    #[error("bigtable:// takes no path, got {0:?}")]
    UnexpectedPath(String),
    #[error("bigtable:// needs the query parameter {0}")]
    MissingParameter(&'static str),
    #[error(
        "unknown query parameter {0:?}: expected project_id, table_name, family_name, channel_size, timeout or app_profile_id"
    )]
    UnknownParameter(String),
    #[error("query parameter {0} given twice")]
    RepeatedParameter(String),
    #[error("channel_size must be a whole number from 1 to 1024, got {0:?}")]
    InvalidChannelSize(String),
    #[error("timeout must be a positive number of seconds (such as 10 or 0.5), got {0:?}")]
    InvalidTimeout(String),
    #[error("family_name must be 1 to 64 of [-_.a-zA-Z0-9], got {0:?}")]
    InvalidFamilyName(String),
}

impl BigtableParams {
    pub fn from_url(url: &Url) -> Result<Self, ParamsError> {
        let instance_name = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or(ParamsError::MissingInstance)?
            .to_owned();
        if !matches!(url.path(), "" | "/") {
            return Err(ParamsError::UnexpectedPath(url.path().to_owned()));
        }

        let mut project_id = None;
        let mut table_name = None;
        let mut family_name = None;
        let mut app_profile_id = None;
        let mut channel_size = None;
        let mut timeout = None;
        for (key, value) in url.query_pairs() {
            let slot = match &*key {
                "project_id" => &mut project_id,
                "table_name" => &mut table_name,
                "family_name" => &mut family_name,
                "app_profile_id" => &mut app_profile_id,
                "channel_size" => &mut channel_size,
                "timeout" => &mut timeout,
                _ => return Err(ParamsError::UnknownParameter(key.into_owned())),
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(ParamsError::RepeatedParameter(key.into_owned()));
            }
        }

        let family_name = family_name.ok_or(ParamsError::MissingParameter("family_name"))?;
        if !valid_family_name(&family_name) {
            return Err(ParamsError::InvalidFamilyName(family_name));
        }
        Ok(Self {
            project_id: project_id.ok_or(ParamsError::MissingParameter("project_id"))?,
            instance_name,
            table_name: table_name.ok_or(ParamsError::MissingParameter("table_name"))?,
            family_name,
            app_profile_id: app_profile_id.unwrap_or_default(),
            channel_size: channel_size
                .map(|size| parse_channel_size(&size))
                .transpose()?
                .unwrap_or(DEFAULT_CHANNEL_SIZE),
            timeout: timeout
                .map(|timeout| parse_timeout(&timeout))
                .transpose()?
                .unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    /// The table's full resource name, as requests name it.
    pub fn table_path(&self) -> String {
        format!(
            "projects/{}/instances/{}/tables/{}",
            self.project_id, self.instance_name, self.table_name
        )
    }
}

fn parse_channel_size(size: &str) -> Result<usize, ParamsError> {
    size.parse()
        .ok()
        .filter(|size| (1..=1024).contains(size))
        .ok_or_else(|| ParamsError::InvalidChannelSize(size.to_owned()))
}

fn parse_timeout(timeout: &str) -> Result<Duration, ParamsError> {
    timeout
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| ParamsError::InvalidTimeout(timeout.to_owned()))
}

/// Bigtable's rule for column family names.
fn valid_family_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(addr: &str) -> Result<BigtableParams, ParamsError> {
        BigtableParams::from_url(&Url::parse(addr).expect("valid URL"))
    }

    #[test]
    fn defaults() {
        assert_eq!(
            Ok(BigtableParams {
                project_id: "proj".into(),
                instance_name: "inst".into(),
                table_name: "tab".into(),
                family_name: "cf1".into(),
                app_profile_id: String::new(),
                channel_size: DEFAULT_CHANNEL_SIZE,
                timeout: DEFAULT_TIMEOUT,
            }),
            parse("bigtable://inst?project_id=proj&table_name=tab&family_name=cf1")
        );
    }

    #[test]
    fn all_parameters() {
        let params = parse(
            "bigtable://inst?project_id=proj&table_name=tab&family_name=cf.1&channel_size=2&timeout=0.5&app_profile_id=batch",
        )
        .expect("valid");
        assert_eq!(2, params.channel_size);
        assert_eq!(Duration::from_millis(500), params.timeout);
        assert_eq!("batch", params.app_profile_id);
        assert_eq!(
            "projects/proj/instances/inst/tables/tab",
            params.table_path()
        );
    }

    #[rstest]
    #[case::no_instance(
        "bigtable://?project_id=p&table_name=t&family_name=f",
        ParamsError::MissingInstance
    )]
    #[case::path(
        "bigtable://i/x?project_id=p&table_name=t&family_name=f",
        ParamsError::UnexpectedPath("/x".into())
    )]
    #[case::no_project(
        "bigtable://i?table_name=t&family_name=f",
        ParamsError::MissingParameter("project_id")
    )]
    #[case::no_table(
        "bigtable://i?project_id=p&family_name=f",
        ParamsError::MissingParameter("table_name")
    )]
    #[case::no_family(
        "bigtable://i?project_id=p&table_name=t",
        ParamsError::MissingParameter("family_name")
    )]
    #[case::unknown(
        "bigtable://i?project_id=p&table_name=t&family_name=f&tabel=x",
        ParamsError::UnknownParameter("tabel".into())
    )]
    #[case::repeated(
        "bigtable://i?project_id=p&table_name=t&family_name=f&table_name=u",
        ParamsError::RepeatedParameter("table_name".into())
    )]
    #[case::channel_size_zero(
        "bigtable://i?project_id=p&table_name=t&family_name=f&channel_size=0",
        ParamsError::InvalidChannelSize("0".into())
    )]
    #[case::timeout_negative(
        "bigtable://i?project_id=p&table_name=t&family_name=f&timeout=-1",
        ParamsError::InvalidTimeout("-1".into())
    )]
    #[case::timeout_unit(
        "bigtable://i?project_id=p&table_name=t&family_name=f&timeout=10s",
        ParamsError::InvalidTimeout("10s".into())
    )]
    #[case::family_bad(
        "bigtable://i?project_id=p&table_name=t&family_name=a%2Fb",
        ParamsError::InvalidFamilyName("a/b".into())
    )]
    fn invalid(#[case] addr: &str, #[case] expected: ParamsError) {
        assert_eq!(Err(expected), parse(addr));
    }
}
