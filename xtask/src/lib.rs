//! The code generator behind `cargo xtask generate`.
//!
//! The spec is the single source: the models crate gets serde types (typify, through
//! progenitor, with string enums replaced by forward-compatible enums emitted here), and
//! the client crate gets a progenitor client whose every schema is replaced by the models
//! crate's type, so there is exactly one copy of each type.

#![forbid(unsafe_code)]

mod check;
mod client;
mod enums;
mod format;
mod models;
mod spec;

use std::path::{Path, PathBuf};

pub use check::{check_files, unified_diff};

/// The spec, relative to the workspace root.
pub const SPEC_PATH: &str = "spec/usage-api.yaml";

/// Everything that can stop generation; each says which file or step failed.
#[derive(Debug)]
pub enum Error {
    Io(PathBuf, std::io::Error),
    Spec(String),
    Generate(String),
    /// `--check` found stale files; the string is the unified diff.
    Stale(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Spec(m) => write!(f, "{SPEC_PATH}: {m}"),
            Error::Generate(m) => write!(f, "generation failed: {m}"),
            Error::Stale(diff) => write!(
                f,
                "{diff}\ngenerated files are stale: run `cargo xtask generate` and commit the result"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// One generated file: where it goes (relative to the workspace root) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: &'static str,
    pub contents: String,
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Generates every file from the spec's text, in memory.
pub fn generate(spec_text: &str) -> Result<Vec<GeneratedFile>, Error> {
    let spec = spec::parse(spec_text)?;
    Ok(vec![
        GeneratedFile {
            path: "crates/usage-models/src/generated.rs",
            contents: models::generate(&spec)?,
        },
        GeneratedFile {
            path: "crates/usage-client/src/generated.rs",
            contents: client::generate(&spec)?,
        },
        GeneratedFile {
            path: "crates/usage-httpmock/src/generated.rs",
            contents: client::generate_httpmock(&spec)?,
        },
    ])
}

fn read_spec(root: &Path) -> Result<String, Error> {
    let path = root.join(SPEC_PATH);
    std::fs::read_to_string(&path).map_err(|e| Error::Io(path, e))
}

/// `cargo xtask generate`: writes the files that changed and returns their paths.
pub fn write_all(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    for file in generate(&read_spec(root)?)? {
        let path = root.join(file.path);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() != Some(file.contents.as_str()) {
            std::fs::write(&path, &file.contents).map_err(|e| Error::Io(path.clone(), e))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// `cargo xtask generate --check`: regenerates in memory and fails with a diff if any
/// committed file differs.
pub fn check_all(root: &Path) -> Result<Vec<PathBuf>, Error> {
    check_files(root, &generate(&read_spec(root)?)?)?;
    Ok(Vec::new())
}
