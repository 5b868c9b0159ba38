//! The bridge to progenitor's generated client, on top of the pipeline: progenitor turns an
//! operation's typed arguments into a `reqwest::Request` (path, query, headers, JSON body),
//! and its `pre` hook takes that request out, into the [`Slot`] the generated client
//! carries, and stops the generated method there. Nothing the generated method would do
//! after it (send, status dispatch, decoding) ever runs: the pipeline does all of that, the
//! same way for every operation, so no generated arm has to exist for an error to arrive.

use progenitor_client::{ClientHooks, OperationInfo};

use crate::client::Client;
use crate::error::UsageError;
use crate::generated;
use crate::slot::Slot;

/// The text of the error that stops a generated method once its request is taken.
const TAKEN: &str = "request taken by the pipeline";

impl ClientHooks<Slot> for generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let placeholder = reqwest::Request::new(reqwest::Method::GET, request.url().clone());
        let taken = std::mem::replace(request, placeholder);
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(taken);
        Err(progenitor_client::Error::Custom(TAKEN.into()))
    }
}

/// A generated client for one call, on the client's connection pool and base URL.
pub(crate) struct Raw(generated::Client);

impl Raw {
    pub(crate) fn new(client: &Client) -> Self {
        let shared = client.pipeline().shared();
        Self(generated::Client {
            baseurl: shared.api_base.clone(),
            client: shared.http.clone(),
            inner: Slot::default(),
        })
    }

    pub(crate) fn client(&self) -> &generated::Client {
        &self.0
    }

    /// Runs a generated method up to its `pre` hook and returns the request it built; a
    /// request progenitor could not build (a header value it refused) is `InvalidRequest`.
    pub(crate) async fn capture<T, E: std::fmt::Debug>(
        &self,
        build: impl Future<Output = Result<T, progenitor_client::Error<E>>>,
    ) -> Result<reqwest::Request, UsageError> {
        let built = build.await;
        if let Some(request) = self
            .0
            .inner
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return Ok(request);
        }
        Err(UsageError::InvalidRequest(match built {
            Err(e) => e.to_string(),
            Ok(_) => "the generated method sent its request itself".into(),
        }))
    }
}
