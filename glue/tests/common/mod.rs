//! What the glue tests share: the fixture tree, and evaluating with a
//! store-backed evaluator over in-memory services.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::rc::Rc;

use tvix_eval::{EvalOptions, EvalRequest, Evaluator, Value};
use tvix_glue::TvixStoreIO;
use tvix_store::utils::{Services, construct_services};

/// The crate's `testdata` directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// A temporary directory holding the tree of `make-fixture.sh` as
/// `fixture` (the name is part of its store paths).
pub fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let status = std::process::Command::new("sh")
        .arg(testdata().join("make-fixture.sh"))
        .arg(dir.path())
        .status()
        .expect("sh runs");
    assert!(status.success(), "make-fixture.sh failed");
    dir
}

/// An in-memory store and the runtime its services run on.
pub struct TestStore {
    runtime: tokio::runtime::Runtime,
    services: Services,
}

impl TestStore {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        let addrs = tvix_glue::service_addrs(None, None, None);
        let services = runtime
            .block_on(construct_services(&addrs))
            .expect("in-memory services");
        TestStore { runtime, services }
    }

    /// The runtime the services run on, for servers a test starts.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Runs `f` with a TvixStoreIO over the store, on a thread of its own
    /// (outside the runtime, as the CLI's evaluator thread is).
    pub fn with_io<T: Send>(&self, f: impl FnOnce(Rc<TvixStoreIO>) -> T + Send) -> T {
        let services = self.services.clone();
        let handle = self.runtime.handle().clone();
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(scope, move || {
                    f(Rc::new(TvixStoreIO::new(services, handle)))
                })
                .expect("the evaluator thread starts")
                .join()
                .expect("the evaluator thread does not panic")
        })
    }

    /// Evaluates `expr` deeply with a store-backed evaluator and hands the
    /// result (or the error's message) and the store to `check`.
    pub fn eval<T: Send>(
        &self,
        expr: &str,
        options: EvalOptions,
        check: impl FnOnce(Result<Value, String>, &Evaluator, &TvixStoreIO) -> T + Send,
    ) -> T {
        self.with_io(|io| {
            let evaluator = tvix_glue::configure(Evaluator::builder(), io.clone())
                .options(options)
                .build();
            let request = EvalRequest {
                strict: true,
                ..EvalRequest::default()
            };
            let value = evaluator
                .eval_expr(expr, Path::new("/"), &request)
                .map_err(|e| e.kind.to_string());
            check(value, &evaluator, &io)
        })
    }
}
