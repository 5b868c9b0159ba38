//! A request as the fault rules would have it: each operation's normal answer, or the
//! fault assigned to it (a status, a redirect, a delay, a broken or altered body), and the
//! bearer token checked as the service checks it.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::errors::{self, Refusal};
use crate::respond::json_response;
use crate::state::{Fault, Operation, Shared, State};

/// Runs `normal` for a request to `operation`, with whatever fault the rules assign.
pub(crate) async fn serve(
    state: &Shared,
    operation: Operation,
    headers: &HeaderMap,
    normal: impl FnOnce() -> Response,
) -> Response {
    let fault = state.arrive(operation);
    match &fault {
        Some(Fault::Delay(d)) => tokio::time::sleep(*d).await,
        // Refused before acting, as a rate limiter or a failing front end would.
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let mut response = errors::for_status(*status, retry_after.as_deref()).render(state);
            if let Some(value) = retry_after
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(Fault::Redirect { status, location }) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() =
                StatusCode::from_u16(*status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
            if let Ok(value) = HeaderValue::from_str(location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            return response;
        }
        _ => {}
    }
    if operation != Operation::Token
        && let Some(refused) = check_bearer(state, headers)
    {
        state.count_unauthorized(operation);
        return refused;
    }
    let response = normal();
    match fault {
        Some(Fault::DropConnection) => drop_connection(response).await,
        Some(Fault::Truncated) => truncate(response).await,
        Some(Fault::Malformed) => json_response(
            state,
            200,
            b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        ),
        Some(Fault::UnknownValues) => add_unknown_values(response).await,
        Some(Fault::Oversized(bytes)) => pad(response, bytes).await,
        Some(Fault::ExpiresIn(value)) => replace_expires_in(response, &value).await,
        _ => response,
    }
}

async fn pad(response: Response, at_least: usize) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    let mut body = bytes.to_vec();
    body.resize(body.len().max(at_least), b' ');
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

async fn replace_expires_in(response: Response, value: &str) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    object.remove("expires_in");
    // Spliced in as text: `serde_json::Value` cannot hold every number a server may send.
    let text = Value::Object(object).to_string();
    let body = format!("{},\"expires_in\":{value}}}", &text[..text.len() - 1]);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn check_bearer(state: &State, headers: &HeaderMap) -> Option<Response> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(Refusal::new(401, "authentication.required").render(state));
    };
    match value.strip_prefix("Bearer ") {
        Some(token) if state.token_valid(token) => None,
        _ => Some(Refusal::new(401, "bad.credentials").render(state)),
    }
}

async fn body_bytes(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

async fn drop_connection(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    let half = bytes.slice(..bytes.len() / 2);
    // The declared length promises the whole body; the stream breaks off half way.
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "usage-fake drops the connection",
        )),
    ];
    Response::from_parts(parts, Body::from_stream(futures_util::stream::iter(chunks)))
}

async fn truncate(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

async fn add_unknown_values(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if object.contains_key("queryStatus") {
        object.insert("queryStatus".into(), json!("Queued"));
    }
    object.insert("estimatedCompletionSeconds".into(), json!(12));
    object.insert(
        "pagination".into(),
        json!({"pageSize": 100, "cursor": null}),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(Value::Object(object).to_string()))
}
