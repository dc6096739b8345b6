//! Evaluating an expression with fuzzer input as string arguments.

use tvix_eval::{AutoArg, EvalOptions, EvalRequest, Evaluator};

/// Evaluates `expr`, a function of the named strings, deeply; whatever it
/// gives (a value or an error) is fine, a panic is what the fuzzer finds.
pub fn eval_with_strings(expr: &str, args: &[(&str, &[u8])]) {
    let options = EvalOptions {
        experimental_features: vec!["flakes".into()],
        ..EvalOptions::default()
    };
    let evaluator = Evaluator::new(options, None);
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
    let _ = evaluator.eval_expr(expr, std::path::Path::new("/"), &request);
}
