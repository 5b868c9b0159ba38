//! Error answers in the service's words: upstream's `x-inin-error-codes` templates for the
//! Usage API, each `%s` filled from a named parameter. `message` carries the filled text,
//! `messageWithParams` the template with `{name}` where each `%s` stood, and
//! `messageParams` the values by name: the shape Genesys error bodies take (for example
//! `"messageWithParams": "session {sessionId} is inactive for command {type}"`). Upstream
//! does not publish the parameter names of these templates; the names here are the fake's.

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::respond::json_response;
use crate::state::State;

/// `(code, template)` for every code upstream lists on the Usage API's operations.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "bad.request",
        "The request could not be understood by the server due to malformed syntax.",
    ),
    (
        "response.entity.too.large",
        "The response is over the size limit. Reduce pageSize or expand list to reduce response size if applicable",
    ),
    (
        "invalid.date",
        "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ",
    ),
    (
        "invalid.query.param.value",
        "Value [%s] is not valid for parameter [%s]. Allowable values are: %s",
    ),
    (
        "invalid.property",
        "Value [%s] is not a valid property for object [%s]",
    ),
    ("constraint.validation", "%s"),
    (
        "invalid.value",
        "Value [%s] is not valid for field type [%s]. Allowable values are: %s",
    ),
    (
        "authentication.required",
        "No authentication bearer token specified in authorization header.",
    ),
    ("bad.credentials", "Invalid login credentials."),
    ("not.found", "The requested resource was not found."),
    (
        "client.timeout",
        "The client did not produce a request within the server timeout limit. This can be caused by a slow network connection and/or large payloads.",
    ),
    (
        "request.conflict",
        "The request conflicts with the current state of the target resource.",
    ),
    (
        "request.entity.too.large",
        "The request is over the size limit. Maximum bytes: %s",
    ),
    (
        "unsupported.media.type",
        "Unsupported Media Type - Unsupported or incorrect media type, such as an incorrect Content-Type value in the header.",
    ),
    (
        "too.many.requests.retry.after",
        "Rate limit exceeded the maximum. Retry the request in [%s] seconds",
    ),
    (
        "too.many.requests",
        "Rate limit exceeded the maximum [%s] requests within [%s] seconds",
    ),
    (
        "internal.server.error",
        "The server encountered an unexpected condition which prevented it from fulfilling the request.",
    ),
    (
        "service.unavailable",
        "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance).",
    ),
    ("request.timeout", "The request timed out."),
];

/// Returns `invalid.value` from the enclosing function for the first of `$values` (an
/// iterator of references to an open enum of usage-models) that upstream does not list.
macro_rules! refuse_unlisted {
    ($field:literal, $values:expr, $enum:ty) => {
        if let Some(v) = $values.into_iter().find(|v| v.is_unknown()) {
            return Err($crate::errors::Refusal::invalid_value(
                $field,
                v.as_str(),
                <$enum>::VALUES,
            ));
        }
    };
}
pub(crate) use refuse_unlisted;

/// An error answer: a status, one of upstream's codes, and the values of its template's
/// `%s`, in order.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: u16,
    code: &'static str,
    params: Vec<(&'static str, String)>,
}

impl Refusal {
    /// `code` must be one of [`TEMPLATES`]; give as many `param`s as its template has `%s`.
    pub(crate) fn new(status: u16, code: &'static str) -> Self {
        Self {
            status,
            code,
            params: Vec::new(),
        }
    }

    pub(crate) fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.params.push((name, value.into()));
        self
    }

    /// `invalid.value` for a body field's value that is not one of `allowed`.
    pub(crate) fn invalid_value(field: &str, value: &str, allowed: &[&str]) -> Self {
        Self::new(400, "invalid.value")
            .param("value", value)
            .param("field", field)
            .param("allowed", allowed.join(", "))
    }

    /// `invalid.query.param.value` for a query parameter.
    pub(crate) fn invalid_param(parameter: &str, value: &str, allowed: &str) -> Self {
        Self::new(400, "invalid.query.param.value")
            .param("value", value)
            .param("parameter", parameter)
            .param("allowed", allowed)
    }

    /// `constraint.validation` with the service's sentence.
    pub(crate) fn constraint(sentence: &str) -> Self {
        Self::new(400, "constraint.validation").param("message", sentence)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(404, "not.found")
    }

    /// The `ErrorBody`, its `contextId` the answer's correlation id.
    pub(crate) fn body(&self, context_id: &str) -> Value {
        let template = TEMPLATES
            .iter()
            .find(|(code, _)| *code == self.code)
            .map_or("%s", |(_, t)| t);
        let mut message = String::new();
        let mut with_params = String::new();
        let mut params = self.params.iter();
        let mut pieces = template.split("%s").peekable();
        while let Some(piece) = pieces.next() {
            message.push_str(piece);
            with_params.push_str(piece);
            if pieces.peek().is_some() {
                match params.next() {
                    Some((name, value)) => {
                        message.push_str(value);
                        with_params.push_str(&format!("{{{name}}}"));
                    }
                    None => {
                        message.push_str("%s");
                        with_params.push_str("%s");
                    }
                }
            }
        }
        let mut body = json!({
            "message": message,
            "code": self.code,
            "status": self.status,
            "contextId": context_id,
            "details": [],
            "errors": [],
        });
        if !self.params.is_empty() {
            let values: Map<String, Value> = self
                .params
                .iter()
                .map(|(name, value)| ((*name).to_string(), Value::from(value.as_str())))
                .collect();
            body["messageWithParams"] = Value::from(with_params);
            body["messageParams"] = Value::Object(values);
        }
        body
    }

    pub(crate) fn render(self, state: &State) -> Response {
        let mut response = json_response(state, self.status, Vec::new());
        let context_id = response
            .headers()
            .get("inin-correlation-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        *response.body_mut() = axum::body::Body::from(self.body(&context_id).to_string());
        response
    }
}

/// The code upstream gives an injected status, and its template's values.
pub(crate) fn for_status(status: u16, retry_after: Option<&str>) -> Refusal {
    match (status, retry_after) {
        (429, Some(seconds)) => {
            Refusal::new(429, "too.many.requests.retry.after").param("seconds", seconds)
        }
        (429, None) => Refusal::new(429, "too.many.requests")
            .param("limit", "300")
            .param("seconds", "60"),
        (400, _) => Refusal::new(400, "bad.request"),
        (401, _) => Refusal::new(401, "bad.credentials"),
        (404, _) => Refusal::not_found(),
        (408, _) => Refusal::new(408, "client.timeout"),
        (409, _) => Refusal::new(409, "request.conflict"),
        (413, _) => Refusal::new(413, "request.entity.too.large").param("maxBytes", "10485760"),
        (415, _) => Refusal::new(415, "unsupported.media.type"),
        (503, _) => Refusal::new(503, "service.unavailable"),
        (504, _) => Refusal::new(504, "request.timeout"),
        _ => Refusal::new(status, "internal.server.error"),
    }
}

/// The service's 404, in upstream's words (`x-inin-error-codes`).
pub(crate) fn unknown_client(state: &State) -> Response {
    Refusal::not_found().render(state)
}

/// A JSON body as `T`. A field sent as `null` counts as absent, for every field alike (the
/// fake accepted `granularity: null` but refused `metrics: null`).
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    let malformed = |_: serde_json::Error| Refusal::new(400, "bad.request");
    let mut value: Value = serde_json::from_slice(body).map_err(malformed)?;
    if let Value::Object(fields) = &mut value {
        fields.retain(|_, v| !v.is_null());
    }
    serde_json::from_value(value).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_and_named() {
        let body = Refusal::invalid_param("pageSize", "0", "1 to 1000").body("ctx");
        assert_eq!(
            body["message"],
            "Value [0] is not valid for parameter [pageSize]. Allowable values are: 1 to 1000"
        );
        assert_eq!(
            body["messageWithParams"],
            "Value [{value}] is not valid for parameter [{parameter}]. Allowable values are: {allowed}"
        );
        assert_eq!(body["messageParams"]["parameter"], "pageSize");
        let plain = Refusal::not_found().body("ctx");
        assert_eq!(plain["message"], "The requested resource was not found.");
        assert!(plain.get("messageWithParams").is_none());
    }

    #[test]
    fn every_code_has_as_many_params_as_its_template_holds() {
        for status in [400, 401, 404, 408, 409, 413, 415, 429, 500, 503, 504] {
            for retry in [None, Some("7")] {
                let body = for_status(status, retry).body("");
                let message = body["message"].as_str().unwrap();
                assert!(!message.contains("%s"), "{status}: {message}");
                assert_eq!(body["status"], status);
            }
        }
    }
}
