//! The floors: plain hand-written structs of the same fields, decoded by serde_json, and a
//! job done with plain reqwest. What the SDK is compared against.

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PlainRow {
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub organization_id: Option<String>,
    pub user_id: Option<String>,
    pub template_uri: Option<String>,
    pub http_method: Option<String>,
    pub status200: Option<i64>,
    pub status300: Option<i64>,
    pub status400: Option<i64>,
    pub status500: Option<i64>,
    pub status429: Option<i64>,
    pub requests: Option<i64>,
    pub date: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PlainResult {
    #[serde(default)]
    pub results: Vec<PlainRow>,
    pub query_status: Option<String>,
}

/// `{id, name}` of a job row's client.
#[derive(Deserialize)]
#[allow(dead_code)]
pub struct PlainRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// A job row, as a plain struct.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PlainJobRow {
    pub date: Option<String>,
    pub http_method: Option<String>,
    pub oauth_client: Option<PlainRef>,
    pub template_uri: Option<String>,
    pub request_count: Option<i64>,
    pub status200: Option<i64>,
    pub status300: Option<i64>,
    pub status400: Option<i64>,
    pub status429: Option<i64>,
    pub status500: Option<i64>,
}

/// A job's answer: its status and a page of rows.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlainJobPage {
    #[serde(default)]
    pub entities: Vec<PlainJobRow>,
    pub next_uri: Option<String>,
    pub query_status: Option<String>,
}

/// The floors' token: client credentials against the fake's login, by hand. Returns the
/// `Authorization` value.
pub async fn bearer(
    http: &reqwest::Client,
    url: &str,
    config: &usage_fake::FakeConfig,
) -> Result<String, Box<dyn std::error::Error>> {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", config.client_id, config.client_secret));
    let token: serde_json::Value = http
        .post(format!("{url}/oauth/token"))
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await?
        .json()
        .await?;
    Ok(format!(
        "Bearer {}",
        token["access_token"].as_str().unwrap_or_default()
    ))
}
