//! The official `gc` CLI's profiles: `~/.gc/config.toml`, one table per org, the file
//! `gc profiles new` writes. `--profile NAME` (`-p`) picks one; `[DEFAULT]` is used when
//! none is named and no `GENESYSCLOUD_*` variable is set. Flags win over the environment,
//! the environment over the profile. A secret in a file that others can read gets a
//! warning, as ssh gives one; a value is never printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One profile's keys, as `gc` names them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    /// An API base domain (`mypurecloud.ie`) or a region name.
    pub environment: Option<String>,
    /// The OAuth client id.
    pub client_credentials: Option<String>,
    pub client_secret: Option<String>,
    pub access_token: Option<String>,
}

/// Where the file is: `--gc-config`, else `$HOME/.gc/config.toml`.
pub fn path(flag: Option<&Path>, vars: &[(String, String)]) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    let home = vars.iter().find(|(k, _)| k == "HOME").map(|(_, v)| v)?;
    Some(Path::new(home).join(".gc").join("config.toml"))
}

/// The profile to use: `name` (which must be in the file), else `[DEFAULT]` when
/// `use_default` and the file has one; `None` when there is nothing to use.
pub fn load(
    path: Option<&Path>,
    name: Option<&str>,
    use_default: bool,
) -> Result<Option<Profile>, String> {
    let Some(path) = path else {
        return match name {
            Some(name) => Err(format!(
                "--profile {name}: no gc configuration to read it from (set HOME or give --gc-config FILE)"
            )),
            None => Ok(None),
        };
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && name.is_none() => return Ok(None),
        Err(e) => {
            return Err(format!(
                "--profile {}: cannot read {}: {e}",
                name.unwrap_or("DEFAULT"),
                path.display()
            ));
        }
    };
    let profiles: BTreeMap<String, Profile> = toml::from_str(&text).map_err(|e| {
        // The message names the key and line, never a value: the file holds secrets.
        format!(
            "{} is not a gc configuration: {}",
            path.display(),
            e.message()
        )
    })?;
    let chosen = match name {
        Some(name) => Some(profiles.get(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = profiles.keys().map(String::as_str).collect();
            format!(
                "--profile {name}: {} has no such profile; it has {}",
                path.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?),
        None if use_default => profiles.get("DEFAULT").cloned(),
        None => None,
    };
    if let Some(profile) = &chosen
        && (profile.client_secret.is_some() || profile.access_token.is_some())
    {
        warn_if_readable_by_others(path);
    }
    Ok(chosen)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: {} holds a secret and others can read it (mode {mode:03o}); run chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}
