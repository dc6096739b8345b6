//! The Nix language: parsing arbitrary source, evaluating it (pure, without
//! file access, interrupted after [EVAL_TIME_LIMIT]), and the builtins that
//! parse strings (`fromJSON`, `fromTOML`, `match`/`split`,
//! `parseFlakeRef`). Errors are fine; a panic is a finding.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tvix_eval::io::PureIO;
use tvix_eval::{AutoArg, EvalOptions, EvalRequest, Evaluator};

use super::split_line;

/// How long one evaluation may run before the VM is interrupted.
pub const EVAL_TIME_LIMIT: Duration = Duration::from_secs(1);

/// Source text: parsing, CppNix's parse-time checks, compiling and
/// `--parse`'s printing.
pub fn eval_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let evaluator = Evaluator::new(EvalOptions::default(), None);
    let _ = evaluator.parse_to_string(text, "«fuzz»", std::path::Path::new("/"));
}

/// Source text, evaluated deeply.
pub fn eval_source(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    eval_bounded(text, &[]);
}

/// `builtins.fromJSON` on any string.
pub fn eval_from_json(data: &[u8]) {
    eval_bounded("{ s }: builtins.fromJSON s", &[("s", data)]);
}

/// `builtins.fromTOML` on any string.
pub fn eval_from_toml(data: &[u8]) {
    eval_bounded("{ s }: builtins.fromTOML s", &[("s", data)]);
}

/// `builtins.match` and `builtins.split` with any pattern (the input up to
/// its first newline) on any string (the rest).
pub fn eval_regex(data: &[u8]) {
    let (pattern, string) = split_line(data);
    eval_bounded(
        "{ p, s }: [ (builtins.match p s) (builtins.split p s) ]",
        &[("p", pattern), ("s", string)],
    );
}

/// `builtins.parseFlakeRef` on any string.
pub fn eval_flake_ref(data: &[u8]) {
    eval_bounded("{ s }: builtins.parseFlakeRef s", &[("s", data)]);
}

/// Evaluates `expr` (a function of the named strings, if any are given)
/// deeply, in pure mode without file access, with a watchdog that
/// interrupts it after [EVAL_TIME_LIMIT].
fn eval_bounded(expr: &str, args: &[(&str, &[u8])]) {
    let options = EvalOptions {
        experimental_features: vec!["flakes".into()],
        pure: true,
        env: Some(Default::default()),
        system: Some("x86_64-linux".into()),
        max_frames: 100_000,
        ..EvalOptions::default()
    };
    let interrupt = Arc::new(AtomicBool::new(false));
    let evaluator = Evaluator::builder()
        .options(options)
        .io(Rc::new(PureIO))
        .interrupt(interrupt.clone())
        .build();
    let request = EvalRequest {
        strict: true,
        auto_args: args
            .iter()
            .map(|(name, bytes)| {
                let text = String::from_utf8_lossy(bytes).into_owned();
                (name.to_string(), AutoArg::Str(text))
            })
            .collect(),
        ..EvalRequest::default()
    };
    let (done, finished) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if finished.recv_timeout(EVAL_TIME_LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
                interrupt.store(true, Ordering::Relaxed);
            }
        });
        let _ = evaluator.eval_expr(expr, std::path::Path::new("/"), &request);
        drop(done);
    });
}
