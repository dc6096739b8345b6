//! The `tvix` binary: evaluates Nix expressions.
//!
//! It will stay thin (flags, tracing, wiring of services); evaluation lives
//! in `tvix-eval` and `tvix-glue`. Until the evaluator exists it only says so.

fn main() -> std::process::ExitCode {
    eprintln!("tvix: the evaluator is not implemented yet; see README.md");
    std::process::ExitCode::FAILURE
}
