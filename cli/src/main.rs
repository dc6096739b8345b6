//! The `tvix` binary: evaluates Nix expressions like
//! `nix-instantiate --eval`.
//!
//! It stays thin: flags are parsed here, evaluation lives in `tvix-eval`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tvix_eval::{
    AutoArg, EvalOptions, EvalRequest, Evaluator, LintLevel, Lints, OutputFormat, SearchPathEntry,
};

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
    /// Print the result as XML, as `builtins.toXML` does.
    #[arg(long, conflicts_with = "json")]
    xml: bool,
    /// Leave source positions out of the XML. Required with --xml for now:
    /// attribute sets do not record where their attributes were defined.
    #[arg(long)]
    no_location: bool,
    /// Print the call trace on errors.
    #[arg(long, overrides_with = "no_show_trace")]
    show_trace: bool,
    /// Do not print the call trace on errors (the default).
    #[arg(long, overrides_with = "show_trace")]
    no_show_trace: bool,
    /// Accepted for nix-instantiate compatibility: nothing here is
    /// restricted to pure evaluation yet.
    #[arg(long)]
    impure: bool,
    /// Bound on the depth of the evaluator's frame stack.
    #[arg(long, value_name = "N")]
    max_call_depth: Option<usize>,
    /// Accepted for nix-instantiate compatibility; the features this flag
    /// enables in CppNix (e.g. `parse-toml-timestamps`) are not gated here.
    #[arg(long, value_name = "FEATURES", action = clap::ArgAction::Append)]
    extra_experimental_features: Vec<String>,
    /// How to treat `/abs` and `~/home` path literals.
    #[arg(long, value_name = "LEVEL", value_parser = lint_level, default_value = "allow")]
    lint_absolute_path_literals: LintLevel,
    /// How to treat relative path literals without `./` or `../`.
    #[arg(long, value_name = "LEVEL", value_parser = lint_level, default_value = "allow")]
    lint_short_path_literals: LintLevel,
    /// How to treat unquoted URL literals.
    #[arg(long, value_name = "LEVEL", value_parser = lint_level, default_value = "allow")]
    lint_url_literals: LintLevel,
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

/// The levels of CppNix's `--lint-*` flags.
fn lint_level(s: &str) -> Result<LintLevel, String> {
    match s {
        "allow" | "ignore" => Ok(LintLevel::Allow),
        "warn" => Ok(LintLevel::Warn),
        "fatal" => Ok(LintLevel::Fatal),
        _ => Err(format!("expected allow, warn or fatal, not '{s}'")),
    }
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
    if args.xml && !args.no_location {
        eprintln!("error: --xml needs --no-location: attribute positions are not recorded yet");
        return ExitCode::FAILURE;
    }
    let defaults = EvalOptions::default();
    let options = EvalOptions {
        search_path: search_path(&args.include),
        home: std::env::var_os("HOME").map(PathBuf::from),
        lints: Lints {
            absolute_paths: args.lint_absolute_path_literals,
            short_paths: args.lint_short_path_literals,
            url_literals: args.lint_url_literals,
        },
        max_frames: args.max_call_depth.unwrap_or(defaults.max_frames),
        ..defaults
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
        } else if args.xml {
            OutputFormat::Xml
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
        // As nix-instantiate does: no newline after JSON, and none added to
        // the XML document, which ends in one of its own.
        Ok(out) if args.xml || args.json => {
            print!("{out}");
            ExitCode::SUCCESS
        }
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
