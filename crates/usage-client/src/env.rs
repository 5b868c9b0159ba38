//! The environment variables Genesys tooling uses.

/// OAuth client id (client credentials grant).
pub const CLIENT_ID: &str = "GENESYSCLOUD_OAUTHCLIENT_ID";
/// OAuth client secret.
pub const CLIENT_SECRET: &str = "GENESYSCLOUD_OAUTHCLIENT_SECRET";
/// Region name (`us-east-1`, `eu_west_1`) or domain (`mypurecloud.ie`).
pub const REGION: &str = "GENESYSCLOUD_REGION";
/// A ready access token; used as is, instead of client credentials.
pub const ACCESS_TOKEN: &str = "GENESYSCLOUD_ACCESS_TOKEN";
