//! `--check`: compare what would be generated with what is committed.

use std::path::Path;

use crate::{Error, GeneratedFile};

/// A unified diff from `old` (committed) to `new` (generated), headed by the path.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{path} (committed)"),
            &format!("b/{path} (generated)"),
        )
        .to_string()
}

/// Fails with the diffs of every file whose committed text differs from `files`.
pub fn check_files(root: &Path, files: &[GeneratedFile]) -> Result<(), Error> {
    let mut diffs = String::new();
    for file in files {
        let committed = std::fs::read_to_string(root.join(file.path)).unwrap_or_default();
        if committed != file.contents {
            if committed.is_empty() {
                diffs.push_str(&format!("{}: missing\n", file.path));
            } else {
                diffs.push_str(&unified_diff(file.path, &committed, &file.contents));
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(Error::Stale(diffs))
    }
}
