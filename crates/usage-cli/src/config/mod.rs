//! Where the tool gets its credentials, and what it says when they are incomplete. It never
//! falls back to the fake on its own: a CI job with a misspelled variable must fail, not
//! pass on generated numbers.

use usage_ext::client::env;
use usage_ext::{Client, ClientBuilder};

pub mod profile;

/// The variables the tool reads.
const KNOWN: [&str; 4] = [
    env::CLIENT_ID,
    env::CLIENT_SECRET,
    env::REGION,
    env::ACCESS_TOKEN,
];

/// Prefixes under which a misspelled variable is looked for.
const PREFIXES: [&str; 4] = ["GENESYSCLOUD_", "GENESYS_", "PURECLOUD_", "GC_"];

/// Variables of other Genesys tools that are not misspellings of ours.
const OTHERS: [&str; 3] = [
    "GENESYSCLOUD_SDK_DEBUG",
    "GENESYSCLOUD_API_REGION",
    "GC_PROFILE",
];

/// A configuration the tool cannot run with; the message says what to set.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigProblem(pub String);

/// The variable a likely misspelling stands for.
fn meant(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if KNOWN.contains(&upper.as_str()) && upper != name {
        // The right name in the wrong case.
        return KNOWN.iter().copied().find(|k| *k == upper);
    }
    let rest = PREFIXES.iter().find_map(|p| upper.strip_prefix(p))?;
    if KNOWN.contains(&name) || OTHERS.contains(&upper.as_str()) {
        return None;
    }
    let compact: String = rest.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if compact.contains("SECRET") {
        Some(env::CLIENT_SECRET)
    } else if compact.contains("TOKEN") {
        Some(env::ACCESS_TOKEN)
    } else if compact.contains("CLIENTID") || compact == "ID" || compact.contains("OAUTHID") {
        Some(env::CLIENT_ID)
    } else if compact.contains("REGION") || compact.contains("ENVIRONMENT") {
        Some(env::REGION)
    } else {
        None
    }
}

/// How to reach the Usage API, as the global flags say it (the environment and the gc
/// profile fill in the rest).
#[derive(Debug, Clone, Default)]
pub struct Login {
    /// The built-in fake instead of an org.
    pub demo: bool,
    pub client_id: Option<String>,
    /// The secret is the first line of stdin.
    pub client_secret_stdin: bool,
    pub region: Option<String>,
    pub base_url: Option<String>,
    /// The gc profile (one: several are served one session each).
    pub profile: Option<String>,
    pub gc_config: Option<std::path::PathBuf>,
    /// The longest wait for a query or job.
    pub max_wait: std::time::Duration,
}

/// The client for the org the environment and flags name, or what is missing.
pub fn org_client(
    global: &Login,
    vars: &[(String, String)],
    secret_from_stdin: Option<String>,
) -> Result<Client, ConfigProblem> {
    let var = |name: &str| {
        vars.iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.clone())
    };
    // Flags, then the environment, then the gc profile, key by key; a profile's token is
    // taken only when no client id or secret came from elsewhere, so that two kinds of
    // credentials are never mixed.
    let any_variable = KNOWN.iter().any(|k| var(k).is_some());
    let profile = profile::load(
        profile::path(global.gc_config.as_deref(), vars).as_deref(),
        global.profile.as_deref(),
        !any_variable,
    )
    .map_err(ConfigProblem)?
    .unwrap_or_default();
    let id = global.client_id.clone().or_else(|| var(env::CLIENT_ID));
    let secret = secret_from_stdin.or_else(|| var(env::CLIENT_SECRET));
    let token = var(env::ACCESS_TOKEN).or_else(|| {
        if id.is_none() && secret.is_none() {
            profile.access_token.clone()
        } else {
            None
        }
    });
    let id = id.or(profile.client_credentials);
    let secret = secret.or(profile.client_secret);
    let region = global
        .region
        .clone()
        .or_else(|| var(env::REGION))
        .or(profile.environment);
    let reaches_org = region.is_some() || global.base_url.is_some();

    // Sorted: the environment's order is the process's, and the message must not move with it.
    let mut misspelled: Vec<String> = vars
        .iter()
        .filter_map(|(name, _)| meant(name).map(|m| format!("{name} is set: did you mean {m}?")))
        .collect();
    misspelled.sort();
    let mut missing = Vec::new();
    if token.is_none() {
        match (&id, &secret) {
            (Some(_), Some(_)) => {}
            (Some(_), None) => {
                missing.push(format!("{} (or --client-secret-stdin)", env::CLIENT_SECRET))
            }
            (None, Some(_)) => missing.push(format!("{} (or --client-id)", env::CLIENT_ID)),
            (None, None) => missing.push(format!(
                "{} and {} (or {})",
                env::CLIENT_ID,
                env::CLIENT_SECRET,
                env::ACCESS_TOKEN
            )),
        }
    }
    if !reaches_org {
        missing.push(format!(
            "{} (or --region; `genesys-usage regions` lists them)",
            env::REGION
        ));
    }
    if !missing.is_empty() {
        let anything_set = vars.iter().any(|(k, _)| KNOWN.contains(&k.as_str()))
            || !misspelled.is_empty()
            || global.region.is_some()
            || global.client_id.is_some();
        let mut text = if anything_set {
            format!("incomplete configuration: missing {}", missing.join("; "))
        } else {
            format!(
                "no credentials: set {}, {} and {} (or {} and {}), or run with --demo to try the tool on the built-in fake",
                env::CLIENT_ID,
                env::CLIENT_SECRET,
                env::REGION,
                env::ACCESS_TOKEN,
                env::REGION
            )
        };
        for line in &misspelled {
            text.push_str("\n  ");
            text.push_str(line);
        }
        if anything_set {
            text.push_str("\n  (--demo runs against the built-in fake instead)");
        }
        return Err(ConfigProblem(text));
    }

    let lookup = |name: &str| match name {
        n if n == env::CLIENT_ID => id.clone(),
        n if n == env::CLIENT_SECRET => secret.clone(),
        n if n == env::REGION => region.clone(),
        n if n == env::ACCESS_TOKEN => token.clone(),
        other => var(other),
    };
    let mut builder =
        ClientBuilder::from_env_with(lookup).map_err(|e| ConfigProblem(e.to_string()))?;
    if let Some(url) = &global.base_url {
        builder = builder.base_url(url);
    }
    builder.build().map_err(|e| ConfigProblem(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::meant;

    #[test]
    fn likely_misspellings() {
        assert_eq!(
            meant("GENESYSCLOUD_CLIENT_ID"),
            Some("GENESYSCLOUD_OAUTHCLIENT_ID")
        );
        assert_eq!(
            meant("GENESYS_CLIENT_ID"),
            Some("GENESYSCLOUD_OAUTHCLIENT_ID")
        );
        assert_eq!(
            meant("GENESYSCLOUD_CLIENT_SECRET"),
            Some("GENESYSCLOUD_OAUTHCLIENT_SECRET")
        );
        assert_eq!(meant("genesyscloud_region"), Some("GENESYSCLOUD_REGION"));
        assert_eq!(meant("GENESYS_TOKEN"), Some("GENESYSCLOUD_ACCESS_TOKEN"));
        assert_eq!(meant("GENESYSCLOUD_OAUTHCLIENT_ID"), None);
        assert_eq!(meant("GENESYSCLOUD_SDK_DEBUG"), None);
        assert_eq!(meant("HOME"), None);
    }
}
