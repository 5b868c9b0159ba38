//! The results of the original queries, decoded while the body arrives.
//!
//! The generated methods read a body whole and then decode it, so a large answer is held
//! twice at the peak: as its bytes and as its rows (a 100,000-row answer is about 35 MB of
//! JSON). These two methods send the same request through the same runtime (auth, retries,
//! caps, tracing, typed errors), but hand the success body, chunk by chunk, to the
//! streaming decoder (streaming.rs): the rows are held, the body never is.

use std::time::Instant;

use tracing::Instrument as _;
use usage_models::{ApiUsageQueryResult, ErrorBody};

use crate::error::UsageError;
use crate::path_segment::encode_path;
use crate::streaming::ResultDecoder;
use progenitor_client::ClientHooks as _;

use crate::{Client, ClientInfo as _};

impl Client {
    /// `getUsageQueryExecutionIdResults`, like
    /// [`get_usage_query_execution_id_results`](Client::get_usage_query_execution_id_results),
    /// with the rows decoded as the body arrives: the same result and errors, without
    /// holding the whole body. usage-ext polls with it.
    pub async fn usage_query_results(
        &self,
        execution_id: &str,
    ) -> Result<ApiUsageQueryResult, UsageError> {
        let url = format!(
            "{}/api/v2/usage/query/{}/results",
            self.baseurl(),
            encode_path(execution_id)
        );
        self.results(url, "get_usage_query_execution_id_results")
            .await
    }

    /// `getOauthClientUsageQueryResult`, like
    /// [`get_oauth_client_usage_query_result`](Client::get_oauth_client_usage_query_result),
    /// with the rows decoded as the body arrives.
    pub async fn oauth_client_usage_query_result(
        &self,
        client_id: &str,
        execution_id: &str,
    ) -> Result<ApiUsageQueryResult, UsageError> {
        let url = format!(
            "{}/api/v2/oauth/clients/{}/usage/query/results/{}",
            self.baseurl(),
            encode_path(client_id),
            encode_path(execution_id)
        );
        self.results(url, "get_oauth_client_usage_query_result")
            .await
    }

    async fn results(
        &self,
        url: String,
        operation: &'static str,
    ) -> Result<ApiUsageQueryResult, UsageError> {
        let mut request = self
            .client()
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("api-version", Self::api_version())
            .build()
            .map_err(|e| UsageError::InvalidRequest(e.to_string()))?;
        let info = progenitor_client::OperationInfo {
            operation_id: operation,
        };
        self.pre::<ErrorBody>(&mut request, &info)
            .await
            .map_err(UsageError::from)?;
        let span = crate::runtime::request_span(operation, "GET");
        let started = Instant::now();
        let response = self
            .inner()
            .run_unread(self.client(), request)
            .instrument(span)
            .await?;
        let status = response.status();
        match status.as_u16() {
            200 => decode(response, self.inner().max_response_bytes(), started).await,
            400..=599 => {
                // Read by the runtime already, under the error cap.
                let headers = response.headers().clone();
                let body = response.bytes().await.unwrap_or_default();
                let body: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
                Err(UsageError::from_answer(status.as_u16(), &headers, body))
            }
            other => Err(UsageError::UnexpectedStatus {
                status: other,
                correlation_id: response
                    .headers()
                    .get(crate::CORRELATION_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            }),
        }
    }
}

/// Reads the body chunk by chunk under `limit`, decoding as it goes.
async fn decode(
    mut response: reqwest::Response,
    limit: u64,
    started: Instant,
) -> Result<ApiUsageQueryResult, UsageError> {
    let status = response.status().as_u16();
    let mut decoder = ResultDecoder::new();
    let mut read = 0u64;
    let mut first = Vec::new();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            // The poller polls again after a transient failure: a GET is safe to repeat.
            Err(source) if source.is_timeout() => {
                return Err(UsageError::Timeout {
                    source,
                    attempts: 1,
                    elapsed: started.elapsed(),
                });
            }
            Err(source) => {
                return Err(UsageError::Network {
                    source,
                    attempts: 1,
                    elapsed: started.elapsed(),
                });
            }
        };
        read = read.saturating_add(chunk.len() as u64);
        if read > limit {
            return Err(UsageError::ResponseTooLarge {
                status,
                limit,
                declared: None,
            });
        }
        if first.len() < 120 {
            first.extend_from_slice(&chunk[..chunk.len().min(120 - first.len())]);
        }
        decoder.feed(&chunk).map_err(|e| UsageError::Decode {
            reason: e.to_string(),
            snippet: String::from_utf8_lossy(&first).into_owned(),
        })?;
    }
    decoder.finish().map_err(|e| UsageError::Decode {
        reason: e.to_string(),
        snippet: String::from_utf8_lossy(&first).into_owned(),
    })
}
