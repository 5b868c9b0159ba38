//! The code generator behind `cargo xtask generate`.
//!
//! The spec is the single source: the models crate gets serde types (typify, through
//! progenitor, with string enums replaced by forward-compatible enums emitted here), and
//! the client crate gets a progenitor client whose every schema is replaced by the models
//! crate's type, so there is exactly one copy of each type.

#![forbid(unsafe_code)]

mod check;
mod client;
pub mod dist;
mod docs;
mod enums;
mod format;
pub mod import;
mod models;
pub mod public_api;
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
    /// `cargo xtask import` could not convert upstream's document.
    Import(String),
    /// `cargo xtask public-api` could not list a crate's public API.
    PublicApi(String),
    /// `cargo xtask public-api --check`: a listing is stale; the string is the diff.
    ApiChanged(String),
    /// `--check` found stale files; the string is the unified diff.
    Stale(String),
    /// `cargo xtask dist` could not build the package or the archive.
    Dist(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Spec(m) => write!(f, "{SPEC_PATH}: {m}"),
            Error::Generate(m) => write!(f, "generation failed: {m}"),
            Error::Import(m) => write!(f, "import failed: {m}"),
            Error::PublicApi(m) => write!(f, "public API listing failed: {m}"),
            Error::ApiChanged(diff) => write!(
                f,
                "{diff}\nthe public API changed: lines marked - are removed or changed items (a \
                 breaking change: bump the major version), lines marked + are additions (a minor \
                 bump). If that is intended, run `cargo xtask public-api` and commit the listings."
            ),
            Error::Dist(m) => write!(f, "dist: {m}"),
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
    let [client, operations, api] = client::generate(&spec)?;
    Ok(vec![
        GeneratedFile {
            path: "crates/usage-models/src/generated.rs",
            contents: models::generate(&spec)?,
        },
        GeneratedFile {
            path: "crates/usage-client/src/generated.rs",
            contents: client,
        },
        GeneratedFile {
            path: "crates/usage-client/src/operations.rs",
            contents: operations,
        },
        GeneratedFile {
            path: "crates/usage-client/src/api.rs",
            contents: api,
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

/// The fragment `cargo xtask import` makes from the upstream document at `upstream`, with
/// the committed operation list and rules.
pub fn import_spec(root: &Path, upstream: &[&Path]) -> Result<String, Error> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::Io(p.to_path_buf(), e));
    let documents = upstream
        .iter()
        .map(|path| import::parse_upstream(&read(path)?))
        .collect::<Result<Vec<_>, _>>()?;
    let document = import::merge(documents)?;
    let operations = import::parse_operations(&read(&root.join(import::OPERATIONS_PATH))?)?;
    import::import(
        &document,
        &operations,
        &read(&root.join(import::RULES_PATH))?,
    )
}

/// `cargo xtask import FILE`: writes `spec/usage-api.yaml` when it changed.
pub fn write_import(root: &Path, upstream: &[&Path]) -> Result<Vec<PathBuf>, Error> {
    let text = import_spec(root, upstream)?;
    let path = root.join(SPEC_PATH);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(Vec::new());
    }
    std::fs::write(&path, text).map_err(|e| Error::Io(path.clone(), e))?;
    Ok(vec![path])
}

/// `cargo xtask import-speed FILE [COPIES]`: how long importing takes from a document the
/// size of Genesys's whole platform file. Upstream's Usage file is copied `COPIES` times
/// under other names (paths and definitions) into one JSON document, then parsed and
/// imported as `cargo xtask import` would. Returns the JSON size in bytes and the seconds.
pub fn import_speed(root: &Path, upstream: &Path, copies: usize) -> Result<(usize, f64), Error> {
    use serde_yaml::Value;
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::Io(p.to_path_buf(), e));
    let mut document = import::parse_upstream(&read(upstream)?)?;
    let Value::Mapping(doc) = &mut document else {
        return Err(Error::Import("upstream is not a mapping".into()));
    };
    for key in ["paths", "definitions"] {
        let Some(Value::Mapping(original)) = doc.get(key).cloned() else {
            continue;
        };
        let mut grown = original.clone();
        for i in 0..copies {
            for (name, value) in &original {
                let name = format!("{}Copy{i}", name.as_str().unwrap_or_default());
                let mut value = value.clone();
                // Copied operations get ids of their own, so the listed ones stay unique.
                if let Value::Mapping(item) = &mut value {
                    for (_, op) in item.iter_mut() {
                        if let Some(Value::String(id)) = op.get_mut("operationId") {
                            id.push_str(&format!("Copy{i}"));
                        }
                    }
                }
                grown.insert(Value::String(name), value);
            }
        }
        doc.insert(Value::String(key.into()), Value::Mapping(grown));
    }
    let json = serde_json::to_string(&document).map_err(|e| Error::Import(e.to_string()))?;
    let operations = read(&root.join(import::OPERATIONS_PATH))?;
    let rules = read(&root.join(import::RULES_PATH))?;
    let started = std::time::Instant::now();
    let parsed = import::parse_upstream(&json)?;
    import::import(&parsed, &import::parse_operations(&operations)?, &rules)?;
    Ok((json.len(), started.elapsed().as_secs_f64()))
}

/// `cargo xtask public-api`: rewrites the listings that changed.
pub fn write_public_api(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    for (path, text) in public_api::listings(root)? {
        let path = root.join(path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, &text).map_err(|e| Error::Io(path.clone(), e))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// `cargo xtask public-api --check`: fails with a diff when a committed listing is stale.
pub fn check_public_api(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut diff = String::new();
    for (path, text) in public_api::listings(root)? {
        let committed = std::fs::read_to_string(root.join(&path)).unwrap_or_default();
        if committed != text {
            diff.push_str(&unified_diff(&path, &committed, &text));
        }
    }
    if diff.is_empty() {
        Ok(Vec::new())
    } else {
        Err(Error::ApiChanged(diff))
    }
}
