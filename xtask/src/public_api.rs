//! `cargo xtask public-api [--check]`: a committed listing of each published crate's public
//! API, so that a change a downstream crate would feel shows up as a diff in review and
//! fails CI until the listing is updated.
//!
//! The listing comes from rustdoc's JSON output, read by the `public-api` crate (the library
//! behind `cargo public-api`). rustdoc JSON is unstable: stable rustc writes it only with
//! `RUSTC_BOOTSTRAP=1`, and each rustc writes one format version, which one `public-api`
//! release reads. The pin in `xtask/Cargo.toml` matches the toolchain of these machines; a
//! toolchain that writes another format fails here with what to change.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The crates published for downstream use.
pub const CRATES: [&str; 5] = [
    "usage-models",
    "usage-client",
    "usage-ext",
    "usage-httpmock",
    "usage-fake",
];

/// The rustdoc JSON format `public-api` 0.52.1 reads (rustc 1.95 writes it).
const FORMAT_VERSION: u64 = 57;

/// Where a crate's listing is committed.
pub fn listing_path(krate: &str) -> String {
    format!("crates/{krate}/public-api.txt")
}

const HEADER: &str = "\
# The public API of this crate, written by `cargo xtask public-api`; CI fails when it is
# stale. A removed or changed line is a breaking change (a major version bump), an added
# line a minor one. Do not edit: run `cargo xtask public-api` and commit the result.
";

/// Builds rustdoc JSON for `krate` (in `target/public-api`, apart from the normal build)
/// and renders its public API.
fn listing(root: &Path, krate: &str) -> Result<String, Error> {
    let target = root.join("target/public-api");
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", &target)
        .args(["rustdoc", "--quiet", "--locked", "--lib", "-p", krate, "--"])
        .args(["-Z", "unstable-options", "--output-format", "json"])
        .output()
        .map_err(|e| Error::Io(PathBuf::from("cargo"), e))?;
    if !output.status.success() {
        return Err(Error::PublicApi(format!(
            "cargo rustdoc -p {krate} (JSON output) failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let json = target
        .join("doc")
        .join(format!("{}.json", krate.replace('-', "_")));
    let text = std::fs::read_to_string(&json).map_err(|e| Error::Io(json.clone(), e))?;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("format_version")?.as_u64());
    if version != Some(FORMAT_VERSION) {
        return Err(Error::PublicApi(format!(
            "{}: rustdoc JSON format {version:?}, but xtask reads format {FORMAT_VERSION} \
             (public-api 0.52.1, rustc 1.95): pin the public-api release that reads this \
             toolchain's format in xtask/Cargo.toml and update FORMAT_VERSION",
            json.display()
        )));
    }
    let api = public_api::Builder::from_rustdoc_json(&json)
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .build()
        .map_err(|e| Error::PublicApi(format!("{}: {e}", json.display())))?;
    Ok(format!("{HEADER}{api}"))
}

/// Every crate's listing: (path relative to the root, text).
pub fn listings(root: &Path) -> Result<Vec<(String, String)>, Error> {
    CRATES
        .iter()
        .map(|krate| Ok((listing_path(krate), listing(root, krate)?)))
        .collect()
}
