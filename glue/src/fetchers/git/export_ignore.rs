//! The `export-ignore` attribute, which CppNix's `fetchGit` honours by
//! default (`exportIgnore = true`) as `git archive` does: a path it is set
//! on is left out, and a directory with everything in it.
//!
//! The attributes come from the `.gitattributes` files of the tree being
//! read (a commit's, or for a working tree those in the index, as CppNix
//! asks libgit2 for), deeper files before shallower ones, and from
//! `$GIT_DIR/info/attributes` before all; within a file, the last line
//! that matches wins. Global and system attribute files are not read.

use std::path::{Path, PathBuf};

use gix::bstr::{BStr, BString, ByteSlice};
use gix_attributes::search::{MetadataCollection, Outcome};
use gix_attributes::{Search, StateRef};

const ATTRIBUTE: &str = "export-ignore";

/// The paths `export-ignore` leaves out of a tree.
pub(super) struct ExportIgnore {
    search: Search,
    outcome: Outcome,
}

impl ExportIgnore {
    /// From the `.gitattributes` files of a tree, each given by the
    /// directory holding it (relative to the root, `""` for the root) and
    /// its contents, and the repository's `info/attributes`.
    pub fn new(
        mut files: Vec<(BString, Vec<u8>)>,
        info: Option<Vec<u8>>,
    ) -> std::io::Result<ExportIgnore> {
        // Later lists take precedence: shallow directories first.
        files.sort_by_key(|(dir, _)| dir.find_iter("/").count() + usize::from(!dir.is_empty()));
        let mut search = Search::default();
        let mut collection = MetadataCollection::default();
        let root = Path::new("/");
        for (dir, contents) in &files {
            let mut source = PathBuf::from("/");
            source.push(dir.to_path().map_err(std::io::Error::other)?);
            source.push(".gitattributes");
            // Macros may only be defined at the top.
            let allow_macros = dir.is_empty();
            search.add_patterns_buffer(
                contents,
                source,
                Some(root),
                &mut collection,
                allow_macros,
            )?;
        }
        if let Some(info) = info {
            let source = PathBuf::from("/info/attributes");
            search.add_patterns_buffer(&info, source, None, &mut collection, true)?;
        }
        let mut outcome = Outcome::default();
        outcome.initialize_with_selection(&collection, [ATTRIBUTE]);
        Ok(ExportIgnore { search, outcome })
    }

    /// Whether `path` (relative to the root) is left out, itself; what
    /// is below a directory left out is the caller's to leave out.
    pub fn ignores(&mut self, path: &BStr, is_dir: bool) -> bool {
        self.outcome.reset();
        self.search.pattern_matching_relative_path(
            path,
            gix::glob::pattern::Case::Sensitive,
            Some(is_dir),
            &mut self.outcome,
        );
        // Only a plain `export-ignore` counts; git ignores values.
        self.outcome
            .iter_selected()
            .any(|m| m.assignment.state == StateRef::Set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn attributes(files: &[(&str, &str)], info: Option<&str>) -> ExportIgnore {
        let files = files
            .iter()
            .map(|(dir, text)| (BString::from(*dir), text.as_bytes().to_vec()))
            .collect();
        ExportIgnore::new(files, info.map(|i| i.as_bytes().to_vec())).expect("valid attributes")
    }

    // What `git archive HEAD` leaves out of a repository with these
    // attributes (`.gitattributes` at the root, `sub/.gitattributes`,
    // `.git/info/attributes`), checked with git 2.47.
    #[rstest]
    #[case::by_name_at_any_depth("secret", false, true)]
    #[case::by_name_deep("a/b/secret", false, true)]
    #[case::glob("x.log", false, true)]
    #[case::glob_deep("sub/y.log", false, true)]
    #[case::directory("docs", true, true)]
    #[case::anchored_only_at_the_top("sub/docs", true, false)]
    #[case::kept("keep", false, false)]
    #[case::nested_file_rules("sub/keep.txt", false, true)]
    #[case::nested_rules_stay_below("keep.txt", false, false)]
    #[case::unset_by_deeper_file("sub/secret", false, false)]
    #[case::value_does_not_count("valued", false, false)]
    #[case::info_wins("sub/z.log", false, false)]
    #[case::later_line_wins("readme.log", false, false)]
    fn export_ignore(#[case] path: &str, #[case] is_dir: bool, #[case] ignored: bool) {
        let mut attrs = attributes(
            &[
                (
                    "",
                    "secret export-ignore\n*.log export-ignore\n/docs export-ignore\nvalued export-ignore=yes\nreadme.log -export-ignore\n",
                ),
                ("sub", "keep.txt export-ignore\nsecret -export-ignore\n"),
            ],
            Some("z.log -export-ignore\n"),
        );
        assert_eq!(attrs.ignores(BStr::new(path), is_dir), ignored);
    }
}
