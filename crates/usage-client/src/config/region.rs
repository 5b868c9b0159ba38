//! Genesys Cloud regions and the base URLs derived from them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::{ConfigError, UnknownRegion};

macro_rules! regions {
    ($($variant:ident => $name:literal, $domain:literal;)*) => {
        /// A Genesys Cloud region. Parses from its name (`us_east_1` or `us-east-1`, any
        /// case) or its domain (`mypurecloud.com`, also `api.`/`login.` hosts).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Region {
            $(
                #[doc = concat!("`", $name, "`: `", $domain, "`")]
                $variant,
            )*
        }

        impl Region {
            /// Every region, in the order Genesys lists them.
            pub const ALL: &'static [Region] = &[$(Region::$variant),*];

            /// The region's name with underscores, as the official SDKs spell it.
            pub fn name(self) -> &'static str {
                match self { $(Region::$variant => $name,)* }
            }

            /// The region's domain; the API is at `api.<domain>`, login at `login.<domain>`.
            pub fn domain(self) -> &'static str {
                match self { $(Region::$variant => $domain,)* }
            }
        }
    };
}

regions! {
    UsEast1 => "us_east_1", "mypurecloud.com";
    UsEast2 => "us_east_2", "use2.us-gov-pure.cloud";
    UsWest2 => "us_west_2", "usw2.pure.cloud";
    CaCentral1 => "ca_central_1", "cac1.pure.cloud";
    SaEast1 => "sa_east_1", "sae1.pure.cloud";
    MxCentral1 => "mx_central_1", "mxc1.pure.cloud";
    EuWest1 => "eu_west_1", "mypurecloud.ie";
    EuWest2 => "eu_west_2", "euw2.pure.cloud";
    EuCentral1 => "eu_central_1", "mypurecloud.de";
    EuCentral2 => "eu_central_2", "euc2.pure.cloud";
    EuscDeEast1 => "eusc_de_east_1", "edee1.eusc-pure.cloud";
    MeCentral1 => "me_central_1", "mec1.pure.cloud";
    ApSouth1 => "ap_south_1", "aps1.pure.cloud";
    ApSoutheast1 => "ap_southeast_1", "apse1.pure.cloud";
    ApSoutheast2 => "ap_southeast_2", "mypurecloud.com.au";
    ApNortheast1 => "ap_northeast_1", "mypurecloud.jp";
    ApNortheast2 => "ap_northeast_2", "apne2.pure.cloud";
    ApNortheast3 => "ap_northeast_3", "apne3.pure.cloud";
}

impl Region {
    /// `https://api.<domain>`
    pub fn api_base_url(self) -> String {
        format!("https://api.{}", self.domain())
    }

    /// `https://login.<domain>`, where OAuth tokens are issued.
    pub fn login_base_url(self) -> String {
        format!("https://login.{}", self.domain())
    }
}

/// Displays as `us-east-1`, the spelling of `GENESYSCLOUD_REGION`.
impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().replace('_', "-"))
    }
}

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim().to_ascii_lowercase();
        let name = s.replace('-', "_");
        let host = s
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .trim_start_matches("api.")
            .trim_start_matches("login.");
        Region::ALL
            .iter()
            .copied()
            .find(|r| r.name() == name || r.domain() == host)
            .ok_or_else(|| UnknownRegion {
                input: input.to_string(),
            })
    }
}

/// Where the client sends API calls and token requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub(crate) api: String,
    pub(crate) login: String,
}

impl Endpoints {
    /// The API and login hosts of a region.
    pub fn region(region: Region) -> Self {
        Self {
            api: region.api_base_url(),
            login: region.login_base_url(),
        }
    }

    /// Custom base URLs (a proxy, a test server). Each must be `https://`, or `http://` to
    /// a loopback host only, so a token never crosses a network in clear text.
    pub fn custom(api: &str, login: &str) -> Result<Self, ConfigError> {
        Ok(Self {
            api: checked_base_url(api)?,
            login: checked_base_url(login)?,
        })
    }

    /// The API base URL, without a trailing slash.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// The login base URL, without a trailing slash.
    pub fn login(&self) -> &str {
        &self.login
    }
}

fn checked_base_url(raw: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(raw).map_err(|e| ConfigError::InvalidUrl {
        url: raw.to_string(),
        reason: e.to_string(),
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(ConfigError::InsecureUrl {
                url: raw.to_string(),
            });
        }
        other => {
            return Err(ConfigError::InvalidUrl {
                url: raw.to_string(),
                reason: format!("scheme {other:?} is not http(s)"),
            });
        }
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::InvalidUrl {
            url: raw.to_string(),
            reason: "a base URL takes no query, fragment or credentials".into(),
        });
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_parses_from_name_and_domain() {
        assert_eq!(Region::ALL.len(), 18);
        for &r in Region::ALL {
            assert_eq!(r.name().parse::<Region>(), Ok(r));
            assert_eq!(r.to_string().parse::<Region>(), Ok(r));
            assert_eq!(r.name().to_uppercase().parse::<Region>(), Ok(r));
            assert_eq!(r.domain().parse::<Region>(), Ok(r));
            assert_eq!(r.api_base_url().parse::<Region>(), Ok(r));
            assert_eq!(format!("login.{}", r.domain()).parse::<Region>(), Ok(r));
        }
    }

    #[test]
    fn table_of_names_domains_and_urls() {
        let cases = [
            (
                "us-east-1",
                Region::UsEast1,
                "https://api.mypurecloud.com",
                "https://login.mypurecloud.com",
            ),
            (
                "eu_west_1",
                Region::EuWest1,
                "https://api.mypurecloud.ie",
                "https://login.mypurecloud.ie",
            ),
            (
                "mypurecloud.com.au",
                Region::ApSoutheast2,
                "https://api.mypurecloud.com.au",
                "https://login.mypurecloud.com.au",
            ),
            (
                "eusc-de-east-1",
                Region::EuscDeEast1,
                "https://api.edee1.eusc-pure.cloud",
                "https://login.edee1.eusc-pure.cloud",
            ),
            (
                "use2.us-gov-pure.cloud",
                Region::UsEast2,
                "https://api.use2.us-gov-pure.cloud",
                "https://login.use2.us-gov-pure.cloud",
            ),
        ];
        for (input, region, api, login) in cases {
            let parsed: Region = input.parse().unwrap();
            assert_eq!(parsed, region, "{input}");
            assert_eq!(parsed.api_base_url(), api);
            assert_eq!(parsed.login_base_url(), login);
        }
        assert_eq!(Region::ApNortheast3.to_string(), "ap-northeast-3");
    }

    #[test]
    fn unknown_regions_are_refused_with_a_hint() {
        for bad in ["", "us-east-9", "pure.cloud", "mypurecloud.co"] {
            let err = bad.parse::<Region>().unwrap_err();
            assert!(err.to_string().contains("us-east-1"), "{err}");
        }
    }

    #[test]
    fn custom_urls_must_be_https_unless_loopback() {
        for ok in [
            "https://proxy.example.com/genesys/",
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://[::1]:9000",
            "http://localhost:3000",
        ] {
            assert!(checked_base_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            checked_base_url("https://x.example/a/").unwrap(),
            "https://x.example/a"
        );
        for insecure in [
            "http://api.mypurecloud.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
        ] {
            assert!(
                matches!(
                    checked_base_url(insecure),
                    Err(ConfigError::InsecureUrl { .. })
                ),
                "{insecure}"
            );
        }
        for invalid in [
            "ftp://x",
            "not a url",
            "https://u:p@x.example",
            "https://x.example?a=1",
        ] {
            assert!(
                matches!(
                    checked_base_url(invalid),
                    Err(ConfigError::InvalidUrl { .. })
                ),
                "{invalid}"
            );
        }
    }
}
