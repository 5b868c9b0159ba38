//! What an error answer says, in one line.

use crate::ErrorBody;

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

#[cfg(test)]
mod tests {
    use crate::ErrorBody;

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
