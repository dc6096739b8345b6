//! The `tvix` binary: evaluates Nix expressions like
//! `nix-instantiate --eval`.
//!
//! It stays thin: flags are parsed here, evaluation lives in `tvix-eval`,
//! and the store it evaluates against (in memory unless addresses are
//! given) is joined to it by `tvix-glue`.
//! Every flag `nix-instantiate` takes is accepted, so that scripts can call
//! `tvix` in its place; the ones that only matter for building or the
//! store are ignored, as they are by `nix-instantiate --eval`.

mod args;
mod repl;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use tvix_eval::{Diagnostic, EvalRequest, Evaluator, OutputFormat, SourceMap};
use tvix_glue::TvixStoreIO;
use tvix_store::composition::StoreComposition;
use tvix_store::utils::compose_services;

use args::{Args, Mode};

/// Evaluation allocates and frees many small, short-lived objects (thunks,
/// sets, upvalue arrays); mimalloc serves those markedly faster than the
/// system allocator and keeps less memory resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Evaluation runs on a thread with a large stack: the VM itself does not
/// recurse, but the parser and compiler recurse over the syntax tree.
const STACK_SIZE: usize = 256 << 20;

/// Turns transparent huge pages off for this process. mimalloc asks for
/// them (`MADV_HUGEPAGE`) on the regions it maps, and the kernel then
/// backs each with 2 MiB pages that it zeroes whole: evaluating a package
/// set of 10 000 derivations kept 16 MiB more resident (149 against
/// 133 MiB), for no measurable gain in time.
#[cfg(target_os = "linux")]
fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes
    // nothing but the process's own page policy; it cannot fail in a way
    // that matters (without it, pages are merely larger).
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn no_huge_pages() {}

fn main() -> ExitCode {
    no_huge_pages();
    let args = Args::parse();
    // Logs (the store's, mostly) go to standard error, warnings and worse
    // unless RUST_LOG asks for more.
    tvix_store::utils::init_logging(tracing::Level::WARN);
    // The store's services run on this runtime; evaluation blocks on it
    // from a thread of its own.
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the store's runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let services = match runtime
        .block_on(async { compose_services(&StoreComposition::new(args.store_document()?)?).await })
    {
        Ok(services) => services,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handle = runtime.handle().clone();
    match std::thread::Builder::new()
        .stack_size(STACK_SIZE)
        .spawn(move || run(args, Rc::new(TvixStoreIO::new(services, handle))))
    {
        Ok(handle) => handle.join().unwrap_or(ExitCode::FAILURE),
        Err(e) => {
            eprintln!("error: cannot start the evaluator thread: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What to evaluate: files (`-` is standard input) or expressions.
enum Input {
    File(PathBuf),
    Stdin,
    Expr(String),
}

fn inputs(args: &Args) -> Vec<Input> {
    if args.expr {
        return args.files.iter().map(|e| Input::Expr(e.clone())).collect();
    }
    if args.files.is_empty() {
        return vec![Input::File(PathBuf::from("default.nix"))];
    }
    args.files
        .iter()
        .map(|f| match f.as_str() {
            "-" => Input::Stdin,
            f => Input::File(PathBuf::from(f)),
        })
        .collect()
}

fn run(args: Args, store: Rc<TvixStoreIO>) -> ExitCode {
    let options = args.eval_options();
    let mode = args.mode();
    let diagnostics: tvix_eval::DiagnosticSink = Rc::new(|d: &Diagnostic, s: &SourceMap| {
        eprint!("{}", d.render(s));
    });
    let interrupt = Arc::new(AtomicBool::new(false));
    let evaluator = tvix_glue::configure(Evaluator::builder(), store)
        .options(options)
        .on_diagnostic(diagnostics)
        .interrupt(interrupt.clone())
        .build();
    if mode == Mode::Repl {
        return repl::run(evaluator, interrupt);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if mode == Mode::FindFile {
        return find_files(&evaluator, &args.files);
    }
    // `None` when instantiating.
    let format = (mode != Mode::Instantiate).then(|| args.output_format());
    let request = EvalRequest {
        strict: args.strict,
        auto_args: args.auto_args(),
        attr_path: args.attr.clone(),
        speculate: args.strict || args.json,
    };
    for input in inputs(&args) {
        if args.display_ast {
            let text = match &input {
                Input::Expr(text) => Ok(text.clone()),
                Input::Stdin => read_stdin(),
                Input::File(f) => std::fs::read_to_string(cwd.join(f)).map_err(|e| io_error(f, e)),
            };
            if let Ok(text) = text {
                eprint!("{}", Evaluator::syntax_tree(&text));
            }
        }
        let result = match (&input, mode) {
            (Input::Expr(text), Mode::Parse) => evaluator.parse_to_string(text, "«string»", &cwd),
            (Input::Stdin, Mode::Parse) => {
                read_stdin().and_then(|text| evaluator.parse_to_string(&text, "«stdin»", &cwd))
            }
            (Input::File(f), Mode::Parse) => std::fs::read_to_string(cwd.join(f))
                .map_err(|e| io_error(f, e))
                .and_then(|text| {
                    evaluator.parse_to_string(&text, &cwd.join(f).display().to_string(), &cwd)
                }),
            (Input::Expr(text), _) => evaluate(&evaluator, &request, format, args.raw, || {
                evaluator.eval_expr(text, &cwd, &request)
            }),
            (Input::Stdin, _) => read_stdin().and_then(|text| {
                evaluate(&evaluator, &request, format, args.raw, || {
                    evaluator.eval_source(&text, "«stdin»", &cwd, &request)
                })
            }),
            (Input::File(f), _) => evaluate(&evaluator, &request, format, args.raw, || {
                evaluator.eval_file(&cwd.join(f), &request)
            }),
        };
        match result {
            Ok(out) => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout
                    .write_all(out.as_bytes())
                    .and_then(|()| stdout.flush());
            }
            Err(e) => {
                eprint!("{}", e.render(evaluator.sources(), args.show_trace()));
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Evaluates and renders a value as nix-instantiate prints it: a newline
/// after Nix syntax; none after JSON, raw strings or XML (which ends in
/// one of its own).
fn evaluate(
    evaluator: &Evaluator,
    request: &EvalRequest,
    format: Option<OutputFormat>,
    raw: bool,
    eval: impl FnOnce() -> Result<tvix_eval::Value, tvix_eval::Error>,
) -> Result<String, tvix_eval::Error> {
    let value = eval()?;
    // Instantiation: the .drv paths, one a line.
    let Some(format) = format else {
        return Ok(evaluator
            .derivation_paths(&value, request)?
            .into_iter()
            .map(|p| p + "\n")
            .collect());
    };
    if raw {
        return Ok(value.as_string()?.to_string());
    }
    let text = evaluator.print(&value, format)?;
    Ok(match format {
        OutputFormat::Nix => text + "\n",
        _ => text,
    })
}

fn read_stdin() -> Result<String, tvix_eval::Error> {
    std::io::read_to_string(std::io::stdin()).map_err(|e| io_error(Path::new("«stdin»"), e))
}

fn io_error(path: &Path, e: std::io::Error) -> tvix_eval::Error {
    tvix_eval::ErrorKind::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
    .into()
}

/// `--find-file`: prints where each name is found in the search path.
fn find_files(evaluator: &Evaluator, names: &[String]) -> ExitCode {
    for name in names {
        match evaluator.find_file(name) {
            Ok(path) => println!("{}", path.display()),
            Err(e) => {
                eprint!("{}", e.render(evaluator.sources(), false));
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
