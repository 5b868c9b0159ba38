//! Secrets (client secret, access tokens) that cannot be printed by accident.

use std::fmt;

/// A secret string: `Debug` shows `[redacted]`, there is no `Display`, and the value is
/// reachable only inside this crate, where it goes onto the wire and nowhere else.
///
/// Two secrets are equal when their text is. A token fetched by [`ClientCredentials`]
/// also remembers which fetch issued it, so that a token the API refused is told apart
/// from a later one with the same text.
///
/// [`ClientCredentials`]: crate::ClientCredentials
#[derive(Clone)]
pub struct Secret {
    value: Box<str>,
    issue: u64,
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Secret {}

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self::issued(value, 0)
    }

    /// A token from fetch number `issue` of a token source.
    pub(crate) fn issued(value: impl Into<String>, issue: u64) -> Self {
        Self {
            value: value.into().into_boxed_str(),
            issue,
        }
    }

    pub(crate) fn issue(&self) -> u64 {
        self.issue
    }

    pub(crate) fn expose(&self) -> &str {
        &self.value
    }

    /// Whether the secret is empty (an unset variable, a blank line in a file).
    pub fn is_empty(&self) -> bool {
        self.value.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}
