//! `cargo xtask dist`: what operators install without a Rust toolchain. Builds the release
//! binary once, has it write its man page and its completions (so they can never disagree
//! with it), and makes from the same files:
//!
//! - `target/dist/genesys-usage_<version>-1_<arch>.deb` through `cargo deb` (cargo-deb,
//!   configured in `crates/usage-cli/Cargo.toml`): the binary in `/usr/bin`, the man page,
//!   the completions, the systemd units (pointing at `/usr/bin`), the alert rules and the
//!   dashboard, the docs;
//! - `target/dist/genesys-usage-<version>-<target>.tar.gz` and its `.sha256`: the same files
//!   in one directory, the units pointing at `/usr/local/bin` as for a hand install.
//!
//! The archive is reproducible: sorted, owned by root, dated by `SOURCE_DATE_EPOCH` (the
//! last commit's time when unset).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

fn fail(what: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Dist(format!("{what}: {e}"))
}

fn run(command: &mut Command, what: &str) -> Result<Vec<u8>, Error> {
    let out = command.output().map_err(fail(what))?;
    if !out.status.success() {
        return Err(Error::Dist(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out.stdout)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::Io(parent.to_path_buf(), e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::Io(path.to_path_buf(), e))
}

/// The workspace's version, from usage-cli's manifest as cargo resolves it.
fn version(root: &Path) -> Result<String, Error> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| Error::Io(root.join("Cargo.toml"), e))?;
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[workspace.package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_string())
        .ok_or_else(|| Error::Dist("no version in [workspace.package]".into()))
}

/// The host's target triple, as rustc says it.
fn host_target() -> Result<String, Error> {
    let out = run(Command::new("rustc").arg("-vV"), "rustc -vV")?;
    String::from_utf8_lossy(&out)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| Error::Dist("rustc -vV names no host".into()))
}

/// `SOURCE_DATE_EPOCH`, else the last commit's time, so that two builds of one commit give
/// the same archive.
fn source_date(root: &Path) -> Result<String, Error> {
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        return Ok(epoch);
    }
    let out = run(
        Command::new("git")
            .args(["log", "-1", "--format=%ct"])
            .current_dir(root),
        "git log",
    )?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// The files both the package and the archive hold, written under `staging`: the binary's
/// man page (gzipped) and completions, the units with `bin` as the binary's directory.
fn staged(root: &Path, binary: &Path, staging: &Path, bin: &str) -> Result<(), Error> {
    let man = run(Command::new(binary).arg("man"), "genesys-usage man")?;
    write(&staging.join("genesys-usage.1"), &man)?;
    run(
        Command::new("gzip")
            .args(["-9", "-n", "-f"])
            .arg(staging.join("genesys-usage.1")),
        "gzip the man page",
    )?;
    for (shell, name) in [
        ("bash", "genesys-usage"),
        ("zsh", "_genesys-usage"),
        ("fish", "genesys-usage.fish"),
    ] {
        let script = run(
            Command::new(binary).args(["completions", shell]),
            "genesys-usage completions",
        )?;
        write(&staging.join("completions").join(shell).join(name), &script)?;
    }
    let units = root.join("contrib/systemd");
    let entries = std::fs::read_dir(&units).map_err(|e| Error::Io(units.clone(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::Io(units.clone(), e))?.path();
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(path.clone(), e))?;
        let name = path.file_name().unwrap_or_default();
        write(
            &staging.join("systemd").join(name),
            text.replace(
                "/usr/local/bin/genesys-usage",
                &format!("{bin}/genesys-usage"),
            )
            .as_bytes(),
        )?;
    }
    Ok(())
}

/// What lintian may say of the package that does not apply, each with its reason.
const LINTIAN_OVERRIDES: &str = "\
# The package is not uploaded to Debian's archive: there is no ITP bug for its first
# version to close.
genesys-usage: initial-upload-closes-no-bugs
";

/// The package's copyright file, in Debian's machine-readable format, the licence by
/// reference to the copy every Debian system has (the Apache-2.0 text, whole, is an error
/// to lintian). The crates linked into the binary are listed, with their licences, by
/// `cargo tree --format {p} {l}` on the source.
const COPYRIGHT: &str = "\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: genesys-usage
Source: https://github.com/genesys-usage-rs/genesys-usage-rs

Files: *
Copyright: 2026 genesys-usage-rs contributors
License: Apache-2.0

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the \"License\"); you may not
 use this file except in compliance with the License. You may obtain a copy of
 the License at https://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an \"AS IS\" BASIS, WITHOUT
 WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
 License for the specific language governing permissions and limitations under
 the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0 can be
 found in \"/usr/share/common-licenses/Apache-2.0\".
";

/// A Debian changelog for the package (lintian wants one): this version, pointing at the
/// project's changelog, dated by the source date.
fn debian_changelog(version: &str, epoch: &str) -> Result<String, Error> {
    let out = run(
        Command::new("date")
            .args(["-u", "-R", "-d"])
            .arg(format!("@{epoch}")),
        "date -R",
    )?;
    let date = String::from_utf8_lossy(&out).trim().to_string();
    Ok(format!(
        "genesys-usage ({version}-1) unstable; urgency=medium\n\n  \
         * Release {version}: see changelog.gz in this directory.\n\n \
         -- genesys-usage-rs maintainers <maintainers@genesys-usage-rs.org>  {date}\n"
    ))
}

pub fn dist(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let version = version(root)?;
    let target = host_target()?;
    let epoch = source_date(root)?;
    run(
        Command::new("cargo")
            .args(["build", "--release", "--locked", "-p", "usage-cli"])
            .current_dir(root),
        "cargo build --release",
    )?;
    let binary = root.join("target/release/genesys-usage");
    let dist = root.join("target/dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).map_err(|e| Error::Io(dist.clone(), e))?;
    }

    // The package: cargo-deb takes these staged files by the paths in usage-cli's manifest.
    let staging = dist.join("deb");
    staged(root, &binary, &staging, "/usr/bin")?;
    let changelog = debian_changelog(&version, &epoch)?;
    write(&staging.join("changelog"), changelog.as_bytes())?;
    run(
        Command::new("gzip")
            .args(["-9", "-n", "-c"])
            .arg(root.join("CHANGELOG.md"))
            .stdout(
                std::fs::File::create(staging.join("changelog.gz"))
                    .map_err(fail("changelog.gz"))?,
            ),
        "gzip the changelog",
    )?;
    write(
        &staging.join("lintian-overrides"),
        LINTIAN_OVERRIDES.as_bytes(),
    )?;
    write(&staging.join("copyright"), COPYRIGHT.as_bytes())?;
    let out = run(
        Command::new("cargo")
            .args([
                "deb",
                "--locked",
                "--no-build",
                "-p",
                "usage-cli",
                "--output",
            ])
            .arg(&dist)
            .env("SOURCE_DATE_EPOCH", &epoch)
            .current_dir(root),
        "cargo deb (install it with `cargo install --locked cargo-deb`)",
    )?;
    let deb = PathBuf::from(
        String::from_utf8_lossy(&out)
            .trim()
            .lines()
            .last()
            .unwrap_or_default(),
    );

    // The archive: one directory, the units for a binary in /usr/local/bin.
    let name = format!("genesys-usage-{version}-{target}");
    let tree = dist.join(&name);
    staged(root, &binary, &tree, "/usr/local/bin")?;
    for (from, to) in [
        (binary.clone(), tree.join("genesys-usage")),
        (root.join("README.md"), tree.join("README.md")),
        (root.join("LICENSE"), tree.join("LICENSE")),
        (root.join("CHANGELOG.md"), tree.join("CHANGELOG.md")),
        (
            root.join("contrib/prometheus/alerts.yml"),
            tree.join("contrib/alerts.yml"),
        ),
        (
            root.join("contrib/grafana/dashboard.json"),
            tree.join("contrib/dashboard.json"),
        ),
    ] {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::Io(parent.to_path_buf(), e))?;
        }
        std::fs::copy(&from, &to).map_err(|e| Error::Io(from.clone(), e))?;
    }
    run(
        Command::new("strip").arg(tree.join("genesys-usage")),
        "strip the binary",
    )?;
    let archive = dist.join(format!("{name}.tar.gz"));
    run(
        Command::new("tar")
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                &format!("--mtime=@{epoch}"),
                "--use-compress-program=gzip -9 -n",
                "-cf",
            ])
            .arg(&archive)
            .arg(&name)
            .current_dir(&dist),
        "tar",
    )?;
    let sum = run(
        Command::new("sha256sum")
            .arg(format!("{name}.tar.gz"))
            .current_dir(&dist),
        "sha256sum",
    )?;
    let sum_path = dist.join(format!("{name}.tar.gz.sha256"));
    write(&sum_path, &sum)?;
    Ok(vec![deb, archive, sum_path])
}
