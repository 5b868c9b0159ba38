//! The answer every route gives its body in: JSON, with a correlation id as the service
//! sends one.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::state::State;

pub(crate) fn json_response(state: &State, status: u16, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(id) = HeaderValue::from_str(&state.next_id()) {
        headers.insert("inin-correlation-id", id);
    }
    response
}
