//! The token source a client asks before each request, and the fixed token.

use std::fmt;

use reqwest::header::HeaderValue;

use crate::clock::BoxFuture;
use crate::error::AuthError;
use crate::secret::Secret;

/// Something that hands the client a bearer token before each request.
///
/// The client calls [`token`](Self::token) before every request and, when the API answers
/// 401, [`refresh`](Self::refresh) once with the token that was refused, then replays the
/// request once.
pub trait TokenSource: Send + Sync + fmt::Debug + 'static {
    /// A token that is valid now (cached or fetched).
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>>;

    /// The API refused `rejected`: a different valid token, if one can be had.
    fn refresh<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, AuthError>>;
}

/// A fixed access token (`GENESYSCLOUD_ACCESS_TOKEN`): used as is, never refreshed.
#[derive(Debug, Clone)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// Uses `token` for every request.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self(token.into())
    }
}

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }

    fn refresh<'a>(&'a self, _rejected: &'a Secret) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async { Err(AuthError::TokenRejected) })
    }
}

/// `Bearer <token>` as a header value, marked sensitive. A token that a header cannot
/// carry (CR, LF, other control bytes) is refused: sent without it, the request would go
/// out unauthenticated and the failure would look like a 401.
pub(crate) fn bearer_value(token: &Secret) -> Result<HeaderValue, AuthError> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
        .map_err(|_| AuthError::InvalidToken)?;
    value.set_sensitive(true);
    Ok(value)
}
