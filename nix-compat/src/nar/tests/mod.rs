//! Tests of the reader and writer together, each run against the sync and
//! the async implementations (see [harness::Impl]).

mod fixtures;
mod golden;
mod harness;
mod malformed;
mod misuse;
mod refusals;
mod roundtrip;
