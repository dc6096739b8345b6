//! The golden tables of tvix-eval (`eval/tests/builtins/`) for the
//! builtins that need a store, run with tvix-glue's: in pure tvix-eval
//! they can only say "needs a store" (and are listed as failing there).
//! `builtins-known-failing.txt` lists the cases still wrong here, checked
//! both ways as in tvix-eval (`UPDATE_KNOWN_FAILING=1` rewrites it).

#[path = "../../eval/tests/golden/mod.rs"]
mod golden;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use rstest::rstest;
use tvix_eval::Evaluator;
use tvix_glue::TvixStoreIO;
use tvix_store::utils::construct_services;

use golden::{KnownFailing, Table};

fn tables_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../eval/tests/builtins")
}

#[rstest]
#[case::derivation("derivation")]
#[case::derivation_strict("derivationStrict")]
#[case::to_file("toFile")]
#[case::path("path")]
#[case::filter_source("filterSource")]
#[case::store_path("storePath")]
#[case::placeholder("placeholder")]
#[case::fetchurl("fetchurl")]
#[case::fetch_tarball("fetchTarball")]
#[case::fetch_git("fetchGit")]
#[case::fetch_mercurial("fetchMercurial")]
fn store_builtin_table(#[case] name: &str) {
    let dir = tables_dir();
    let table = Table::read(&dir.join(format!("{name}.txt")));
    let known = KnownFailing::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/builtins-known-failing.txt"),
    );
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let addrs = tvix_glue::service_addrs(None, None, None);
    let services = runtime
        .block_on(construct_services(&addrs))
        .expect("in-memory services");
    // A fresh evaluator over the same in-memory store per evaluation,
    // as the CLI makes one per run.
    let make = || {
        let io = Rc::new(TvixStoreIO::new(services.clone(), runtime.handle().clone()));
        tvix_glue::configure(Evaluator::builder(), io).build()
    };
    table.check(&make, &dir, &known);
}
