//! `nix-instantiate --parse`: the syntax tree printed as CppNix shows it.
//!
//! FUTUREWORK: CppNix's normalised form (parenthesised operators, sorted
//! attributes); the source text is printed until then.

use std::path::Path;

/// The expression `text` as CppNix's `--parse` prints it.
pub fn show(text: &str, _dir: &Path) -> String {
    text.trim_end().to_string()
}
