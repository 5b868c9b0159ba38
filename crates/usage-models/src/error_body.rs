//! What an error answer says, in one line, and the limit it names.

use crate::{ErrorBody, Limit};

impl ErrorBody {
    /// `code: message`, or whichever of the two the service sent; `None` when it sent
    /// neither. Errors quote it after their own sentence.
    pub fn summary(&self) -> Option<String> {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => Some(format!("{code}: {message}")),
            (None, Some(message)) => Some(message.clone()),
            (Some(code), None) => Some(code.clone()),
            (None, None) => None,
        }
    }
}

impl Limit {
    /// `client.credentials.token.rate.per.minute (platform.api) = 300`, or what of it the
    /// service sent; `None` when it sent none of the three. A 429's limit is the one that
    /// was hit: its key is what to ask Genesys to raise, its value the ceiling.
    pub fn describe(&self) -> Option<String> {
        let key = self.key.as_deref().filter(|k| !k.is_empty());
        let namespace = self.namespace.as_ref().map(|n| n.as_str());
        let mut text = match (key, namespace) {
            (Some(key), Some(namespace)) => format!("{key} ({namespace})"),
            (Some(key), None) => key.to_string(),
            (None, Some(namespace)) => format!("a limit of {namespace}"),
            (None, None) if self.value.is_some() => "a limit".to_string(),
            (None, None) => return None,
        };
        if let Some(value) = self.value {
            text.push_str(&format!(" = {value}"));
        }
        Some(text)
    }
}

impl ErrorBody {
    /// The limit the answer names (on a 429, the one that was hit), when it names one.
    pub fn named_limit(&self) -> Option<&Limit> {
        self.limit.as_ref().filter(|l| l.describe().is_some())
    }
}

#[cfg(test)]
mod tests {
    use crate::{ErrorBody, Limit, LimitNamespace};

    #[test]
    fn a_limit_says_its_key_namespace_and_value() {
        let limit = |key: Option<&str>, namespace: Option<&str>, value: Option<i64>| Limit {
            key: key.map(Into::into),
            namespace: namespace.map(LimitNamespace::from),
            value,
        };
        assert_eq!(
            limit(
                Some("client.credentials.token.rate.per.minute"),
                Some("platform.api"),
                Some(300)
            )
            .describe()
            .as_deref(),
            Some("client.credentials.token.rate.per.minute (platform.api) = 300")
        );
        assert_eq!(
            limit(Some("k"), None, None).describe().as_deref(),
            Some("k")
        );
        assert_eq!(
            limit(None, Some("a.new.namespace"), Some(i64::MIN))
                .describe()
                .as_deref(),
            Some("a limit of a.new.namespace = -9223372036854775808")
        );
        assert_eq!(limit(Some(""), None, None).describe(), None);
        let body = ErrorBody {
            limit: Some(limit(None, None, None)),
            ..ErrorBody::default()
        };
        assert!(body.named_limit().is_none(), "an empty limit names none");
    }

    #[test]
    fn summary_quotes_what_the_service_sent() {
        let body = |code: Option<&str>, message: Option<&str>| ErrorBody {
            code: code.map(Into::into),
            message: message.map(Into::into),
            ..ErrorBody::default()
        };
        assert_eq!(
            body(Some("c"), Some("m")).summary().as_deref(),
            Some("c: m")
        );
        assert_eq!(body(None, Some("m")).summary().as_deref(), Some("m"));
        assert_eq!(body(Some("c"), None).summary().as_deref(), Some("c"));
        assert_eq!(body(None, None).summary(), None);
    }
}
