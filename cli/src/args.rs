//! The flags of `nix-instantiate`, as `tvix` takes them.
//!
//! Evaluation flags take effect. Flags for instantiating, building and the
//! store (`--add-root`, `--read-write-mode`, `--timeout`, `--max-jobs`, …)
//! are accepted and ignored: with `--eval` CppNix ignores them too.
//! `--option NAME VALUE` sets the evaluator settings it knows
//! (`max-call-depth`, `pure-eval`, `abort-on-warn`, `trace-verbose`,
//! `show-trace`) and ignores the rest.

use std::path::PathBuf;

use clap::Parser;
use tvix_eval::{AutoArg, EvalOptions, LintLevel, Lints, OutputFormat, SearchPathEntry};

#[derive(Parser, Debug)]
#[command(
    name = "tvix",
    version,
    // nix-instantiate takes a flag given twice; the last one counts.
    args_override_self = true,
    about = "Evaluate Nix expressions, as `nix-instantiate --eval` does",
    after_help = "Flags marked (ignored) are accepted so that scripts written for \
                  nix-instantiate run unchanged; they concern building and the store."
)]
pub struct Args {
    /// Evaluate and print the value; without it, the derivations the value
    /// holds are instantiated and their .drv paths printed.
    #[arg(long)]
    pub eval: bool,
    /// The same as --eval.
    #[arg(long)]
    pub eval_only: bool,
    /// Parse only, and print the syntax tree as a Nix expression.
    #[arg(long)]
    pub parse: bool,
    /// Look the arguments up in the search path and print where they are.
    #[arg(long)]
    pub find_file: bool,
    /// Evaluate the result deeply.
    #[arg(long)]
    pub strict: bool,
    /// Print the result (a string) as is: no quotes, escapes or newline.
    #[arg(long)]
    pub raw: bool,
    /// Print the result as JSON.
    #[arg(long, conflicts_with = "xml")]
    pub json: bool,
    /// Print the result as XML, as `builtins.toXML` does.
    #[arg(long)]
    pub xml: bool,
    /// Leave source positions out of the XML.
    #[arg(long)]
    pub no_location: bool,
    /// Print the call trace on errors.
    #[arg(long, overrides_with = "no_show_trace")]
    show_trace: bool,
    /// Do not print the call trace on errors (the default).
    #[arg(long, overrides_with = "show_trace")]
    no_show_trace: bool,
    /// Allow impure builtins (the default).
    #[arg(long, overrides_with = "pure_eval")]
    impure: bool,
    /// Pure evaluation: no environment, clock, host system or search path.
    #[arg(long, overrides_with = "impure")]
    pure_eval: bool,
    /// Print `builtins.traceVerbose` messages.
    #[arg(long)]
    pub trace_verbose: bool,
    /// Make `builtins.warn` an error.
    #[arg(long)]
    pub abort_on_warn: bool,
    /// How deeply nested values may be when walked whole (deepSeq,
    /// --strict, toJSON), as CppNix's call depth (default 10000); the
    /// frame stack of calls gets 100 frames per level, at least 1 million.
    #[arg(long, value_name = "N")]
    pub max_call_depth: Option<usize>,
    /// Features CppNix gates behind this flag (e.g. `pipe-operators`).
    #[arg(long, value_name = "FEATURES", action = clap::ArgAction::Append)]
    pub extra_experimental_features: Vec<String>,
    /// (see --extra-experimental-features)
    #[arg(long, value_name = "FEATURES", action = clap::ArgAction::Append)]
    pub experimental_features: Vec<String>,
    /// How to treat `/abs` and `~/home` path literals: allow, warn or fatal.
    #[arg(long, value_name = "LEVEL", value_parser = lint_level, default_value = "allow")]
    pub lint_absolute_path_literals: LintLevel,
    /// How to treat relative path literals without `./` or `../`.
    #[arg(long, value_name = "LEVEL", value_parser = lint_level, default_value = "allow")]
    pub lint_short_path_literals: LintLevel,
    /// How to treat unquoted URL literals.
    #[arg(long, value_name = "LEVEL", value_parser = lint_level, default_value = "allow")]
    pub lint_url_literals: LintLevel,
    /// The arguments are expressions, not files.
    #[arg(short = 'E', long = "expr")]
    pub expr: bool,
    /// `--arg NAME EXPR`: argument for a top-level function.
    #[arg(long = "arg", num_args = 2, value_names = ["NAME", "EXPR"], action = clap::ArgAction::Append)]
    arg: Vec<String>,
    /// `--argstr NAME STRING`: string argument for a top-level function.
    #[arg(long = "argstr", num_args = 2, value_names = ["NAME", "STRING"], action = clap::ArgAction::Append)]
    argstr: Vec<String>,
    /// Add a search path entry (`PATH` or `PREFIX=PATH`), before NIX_PATH.
    #[arg(short = 'I', long = "include", action = clap::ArgAction::Append)]
    include: Vec<String>,
    /// Select an attribute of the result.
    #[arg(short = 'A', long = "attr")]
    pub attr: Option<String>,
    /// `--option NAME VALUE`: set a Nix setting.
    #[arg(long = "option", num_args = 2, value_names = ["NAME", "VALUE"], action = clap::ArgAction::Append)]
    option: Vec<String>,
    /// Print rnix's syntax tree of each input to standard error first.
    #[arg(long)]
    pub display_ast: bool,
    /// Print the bytecode of everything compiled to standard error.
    #[arg(long)]
    pub dump_bytecode: bool,
    /// Print every instruction the VM runs to standard error: its depth in
    /// the frame stack, source position, the instruction and the top of the
    /// stack after it, and each code frame entered and builtin called.
    #[arg(long)]
    pub trace_runtime: bool,
    /// (ignored) Evaluate in read/write mode.
    #[arg(long)]
    read_write_mode: bool,
    /// (ignored) Evaluate in read-only mode.
    #[arg(long)]
    readonly_mode: bool,
    /// (ignored) Register a GC root: tvix's stores keep every path.
    #[arg(long, value_name = "PATH")]
    add_root: Option<PathBuf>,
    /// (ignored) Make --add-root an indirect root.
    #[arg(long)]
    indirect: bool,
    /// (ignored) Only show what would be done.
    #[arg(long)]
    dry_run: bool,
    /// (ignored) Build timeout in seconds.
    #[arg(long, value_name = "N")]
    timeout: Option<String>,
    /// (ignored) Build silence timeout in seconds.
    #[arg(long, value_name = "N")]
    max_silent_time: Option<String>,
    /// (ignored) Parallel builds.
    #[arg(short = 'j', long, value_name = "N")]
    max_jobs: Option<String>,
    /// (ignored) Cores per build.
    #[arg(long, value_name = "N")]
    cores: Option<String>,
    /// (ignored) Keep going after a failed build.
    #[arg(short = 'k', long)]
    keep_going: bool,
    /// (ignored) Keep the directories of failed builds.
    #[arg(short = 'K', long)]
    keep_failed: bool,
    /// (ignored) Build from source when substitution fails.
    #[arg(long)]
    fallback: bool,
    /// (ignored) Repair corrupted store paths.
    #[arg(long)]
    repair: bool,
    /// (ignored) Do not show build output.
    #[arg(short = 'Q', long)]
    no_build_output: bool,
    /// (ignored) More log output; repeat for more.
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// (ignored) Less log output.
    #[arg(long, action = clap::ArgAction::Count)]
    quiet: u8,
    /// (ignored) Log output format.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// (ignored) Do not warn about the garbage collector.
    #[arg(long)]
    no_gc_warning: bool,
    /// (ignored) Start the debugger on errors.
    #[arg(long)]
    debugger: bool,
    /// A TOML document composing the store's services (as tvix-store
    /// --config takes it), instead of the *-service-addr flags.
    #[arg(
        long,
        env = "TVIX_STORE_CONFIG",
        conflicts_with_all = ["blob_service_addr", "directory_service_addr", "path_info_service_addr"]
    )]
    pub config: Option<PathBuf>,
    /// Blob service URL (as tvix-store takes it); in memory by default.
    #[arg(long, env = "BLOB_SERVICE_ADDR")]
    pub blob_service_addr: Option<String>,
    /// Directory service URL (as tvix-store takes it); in memory by default.
    #[arg(long, env = "DIRECTORY_SERVICE_ADDR")]
    pub directory_service_addr: Option<String>,
    /// Path info service URL (as tvix-store takes it); in memory by default.
    #[arg(long, env = "PATH_INFO_SERVICE_ADDR")]
    pub path_info_service_addr: Option<String>,
    /// The store directory; only /nix/store, whose paths tvix computes, is
    /// supported.
    #[arg(long, value_name = "DIR", value_parser = store_dir, default_value = "/nix/store")]
    pub store_dir: PathBuf,
    /// Files to evaluate (`-` for standard input; default: ./default.nix),
    /// or expressions with -E. `tvix repl`, or `tvix` alone, starts the
    /// REPL.
    pub files: Vec<String>,
}

/// What `tvix` is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Eval,
    Parse,
    FindFile,
    /// `tvix repl`, or `tvix` with no file, no `-E` and no mode flag.
    Repl,
    /// Without `--eval`, as `nix-instantiate`: the derivations found in the
    /// value are written to the store and their `.drv` paths printed.
    Instantiate,
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

/// `--store-dir`: store paths are hashed with their directory, and tvix
/// computes them for `/nix/store` only.
fn store_dir(s: &str) -> Result<PathBuf, String> {
    let dir = tvix_eval::value::normalise_path(std::path::Path::new(s));
    if dir == std::path::Path::new(tvix_glue::STORE_DIR) {
        Ok(dir)
    } else {
        Err(format!(
            "only {} is supported as the store directory",
            tvix_glue::STORE_DIR
        ))
    }
}

fn truthy(value: &str) -> bool {
    matches!(value, "true" | "1" | "yes")
}

impl Args {
    /// The document composing the store: `--config`, or the one the
    /// service addresses stand for (in memory unless given).
    pub fn store_document(
        &self,
    ) -> Result<tvix_store::composition::CompositionDocument, tvix_store::utils::ServicesError>
    {
        match &self.config {
            Some(path) => tvix_store::utils::read_document(path),
            None => tvix_glue::service_addrs(
                self.blob_service_addr.clone(),
                self.directory_service_addr.clone(),
                self.path_info_service_addr.clone(),
            )
            .document(),
        }
    }

    pub fn mode(&self) -> Mode {
        let repl_word = self.files.len() == 1 && self.files[0] == "repl" && !self.expr;
        let bare = self.files.is_empty()
            && !(self.expr || self.eval || self.eval_only || self.parse || self.strict)
            && !(self.json || self.xml || self.raw || self.find_file)
            && self.attr.is_none();
        if repl_word || bare {
            Mode::Repl
        } else if self.find_file {
            Mode::FindFile
        } else if self.parse {
            Mode::Parse
        } else if self.eval || self.eval_only {
            Mode::Eval
        } else {
            Mode::Instantiate
        }
    }

    /// `--option NAME VALUE` pairs.
    fn options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.option.chunks(2).filter_map(|pair| match pair {
            [name, value] => Some((name.as_str(), value.as_str())),
            _ => None,
        })
    }

    fn option_set(&self, name: &str) -> Option<bool> {
        self.options()
            .filter(|(n, _)| *n == name)
            .last()
            .map(|(_, v)| truthy(v))
    }

    pub fn show_trace(&self) -> bool {
        self.show_trace || self.option_set("show-trace").unwrap_or(false)
    }

    pub fn output_format(&self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else if self.xml {
            OutputFormat::Xml {
                locations: !self.no_location,
            }
        } else {
            OutputFormat::Nix
        }
    }

    /// `--arg` and `--argstr`, in the order given.
    pub fn auto_args(&self) -> Vec<(String, AutoArg)> {
        let exprs = self.arg.chunks(2).filter_map(|pair| match pair {
            [name, expr] => Some((name.clone(), AutoArg::Expr(expr.clone()))),
            _ => None,
        });
        let strs = self.argstr.chunks(2).filter_map(|pair| match pair {
            [name, s] => Some((name.clone(), AutoArg::Str(s.clone()))),
            _ => None,
        });
        exprs.chain(strs).collect()
    }

    /// `-I` entries, then `NIX_PATH`'s.
    fn search_path(&self) -> Vec<SearchPathEntry> {
        let mut entries: Vec<SearchPathEntry> = self
            .include
            .iter()
            .map(|s| SearchPathEntry::parse(s))
            .collect();
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

    pub fn eval_options(&self) -> EvalOptions {
        let defaults = EvalOptions::default();
        let option_depth = self
            .options()
            .filter(|(n, _)| *n == "max-call-depth")
            .last()
            .and_then(|(_, v)| v.parse().ok());
        let depth: Option<usize> = self.max_call_depth.or(option_depth);
        let pure = self.option_set("pure-eval").unwrap_or(false) || self.pure_eval;
        EvalOptions {
            search_path: self.search_path(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            lints: Lints {
                absolute_paths: self.lint_absolute_path_literals,
                short_paths: self.lint_short_path_literals,
                url_literals: self.lint_url_literals,
            },
            // CppNix's one depth bound is the nesting bound here; the frame
            // stack, which costs no native stack, is allowed a hundred
            // frames per level (a call is a few frames) and never less than
            // its default.
            max_call_depth: depth.unwrap_or(defaults.max_call_depth),
            max_frames: depth.map_or(defaults.max_frames, |d| {
                defaults.max_frames.max(d.saturating_mul(100))
            }),
            trace_verbose: self.trace_verbose || self.option_set("trace-verbose").unwrap_or(false),
            abort_on_warn: self.abort_on_warn
                || self.option_set("abort-on-warn").unwrap_or(false)
                || std::env::var_os("NIX_ABORT_ON_WARN").is_some(),
            pure: pure && !self.impure,
            dump_bytecode: self.dump_bytecode,
            trace_runtime: self.trace_runtime,
            experimental_features: self
                .experimental_features
                .iter()
                .chain(&self.extra_experimental_features)
                .flat_map(|f| f.split_whitespace())
                .map(String::from)
                .collect(),
            ..defaults
        }
    }
}
