//! The `tvix` binary: evaluates Nix expressions like
//! `nix-instantiate --eval`.
//!
//! It stays thin: flags are parsed here, evaluation lives in `tvix-eval`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tvix_eval::{AutoArg, EvalOptions, EvalRequest, Evaluator, OutputFormat, SearchPathEntry};

/// Evaluation allocates and frees many small, short-lived objects (thunks,
/// sets, upvalue arrays); mimalloc serves those markedly faster than the
/// system allocator and keeps less memory resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "tvix", about = "Evaluate Nix expressions")]
struct Args {
    /// Accepted for nix-instantiate compatibility; evaluation is the only mode.
    #[arg(long)]
    eval: bool,
    /// Evaluate the result deeply.
    #[arg(long)]
    strict: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Print the result as XML (not supported yet).
    #[arg(long)]
    xml: bool,
    /// Accepted with --xml; locations are never printed.
    #[arg(long)]
    no_location: bool,
    /// Print the call trace on errors.
    #[arg(long)]
    show_trace: bool,
    /// Evaluate EXPR instead of a file.
    #[arg(short = 'E', long = "expr")]
    expr: Option<String>,
    /// `--arg NAME EXPR`: argument for a top-level function.
    #[arg(long = "arg", num_args = 2, value_names = ["NAME", "EXPR"], action = clap::ArgAction::Append)]
    arg: Vec<String>,
    /// `--argstr NAME STRING`: string argument for a top-level function.
    #[arg(long = "argstr", num_args = 2, value_names = ["NAME", "STRING"], action = clap::ArgAction::Append)]
    argstr: Vec<String>,
    /// Add a search path entry (`PATH` or `PREFIX=PATH`).
    #[arg(short = 'I', action = clap::ArgAction::Append)]
    include: Vec<String>,
    /// Select an attribute of the result.
    #[arg(short = 'A', long = "attr")]
    attr: Option<String>,
    /// The file to evaluate (default: ./default.nix).
    file: Option<PathBuf>,
}

fn search_path(includes: &[String]) -> Vec<SearchPathEntry> {
    let mut entries: Vec<SearchPathEntry> =
        includes.iter().map(|s| SearchPathEntry::parse(s)).collect();
    if let Ok(nix_path) = std::env::var("NIX_PATH") {
        entries.extend(
            nix_path
                .split(':')
                .filter(|s| !s.is_empty())
                .map(SearchPathEntry::parse),
        );
    }
    entries
}

/// Evaluation runs on a thread with a large stack: the VM itself does not
/// recurse, but the parser and compiler recurse over the syntax tree.
const STACK_SIZE: usize = 256 << 20;

fn main() -> ExitCode {
    let args = Args::parse();
    match std::thread::Builder::new()
        .stack_size(STACK_SIZE)
        .spawn(move || run(args))
    {
        Ok(handle) => handle.join().unwrap_or(ExitCode::FAILURE),
        Err(e) => {
            eprintln!("error: cannot start the evaluator thread: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> ExitCode {
    if args.xml {
        eprintln!("error: --xml output is not implemented yet");
        return ExitCode::FAILURE;
    }
    let options = EvalOptions {
        search_path: search_path(&args.include),
        home: std::env::var_os("HOME").map(PathBuf::from),
        ..EvalOptions::default()
    };
    let mut auto_args = Vec::new();
    for pair in args.arg.chunks(2) {
        if let [name, expr] = pair {
            auto_args.push((name.clone(), AutoArg::Expr(expr.clone())));
        }
    }
    for pair in args.argstr.chunks(2) {
        if let [name, s] = pair {
            auto_args.push((name.clone(), AutoArg::Str(s.clone())));
        }
    }
    let request = EvalRequest {
        strict: args.strict,
        output: if args.json {
            OutputFormat::Json
        } else {
            OutputFormat::Nix
        },
        auto_args,
        attr_path: args.attr.clone(),
    };
    let evaluator = Evaluator::new(options, None);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let result = match &args.expr {
        Some(expr) => evaluator.eval_expr(expr, &cwd, &request),
        None => {
            let file = args
                .file
                .clone()
                .unwrap_or_else(|| PathBuf::from("default.nix"));
            evaluator.eval_file(&cwd.join(file), &request)
        }
    };
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{}", e.render(evaluator.sources(), args.show_trace));
            ExitCode::FAILURE
        }
    }
}
