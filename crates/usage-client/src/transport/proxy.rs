//! Which requests may go through a proxy.
//!
//! A proxy sees everything an `http://` request carries, the client's Basic credentials
//! and bearer tokens included, so plain-http requests never use one: they are allowed only
//! to loopback hosts (see `ClientBuilder::base_urls`), which a proxy cannot reach anyway.
//! An `https://` request may go through an HTTPS proxy, by `CONNECT`, which keeps TLS end
//! to end. Loopback hosts are never proxied, and `NO_PROXY` is honoured.
//!
//! reqwest's own reading of the environment is switched off: it would send `http://`
//! requests through `HTTP_PROXY`.

use std::fmt;
use std::net::IpAddr;

use crate::secret::Secret;

/// Where the proxy setting comes from.
#[derive(Clone)]
pub(crate) enum ProxyChoice {
    /// `HTTPS_PROXY` (or `ALL_PROXY`) and `NO_PROXY`, read when the builder was made.
    Env {
        proxy: Option<Secret>,
        no_proxy: Option<String>,
    },
    /// The proxy given to `ClientBuilder::proxy`.
    Url(Secret),
    /// No proxy at all.
    Off,
}

impl fmt::Debug for ProxyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A proxy URL may hold a user and password: shown redacted, like every secret.
        match self {
            ProxyChoice::Env { proxy, no_proxy } => f
                .debug_struct("Env")
                .field("proxy", proxy)
                .field("no_proxy", no_proxy)
                .finish(),
            ProxyChoice::Url(url) => f.debug_tuple("Url").field(url).finish(),
            ProxyChoice::Off => f.write_str("Off"),
        }
    }
}

impl ProxyChoice {
    /// Reads the proxy variables through `lookup` (upper case first, as curl does).
    pub(crate) fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()))
        };
        ProxyChoice::Env {
            proxy: get(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]).map(Secret::new),
            no_proxy: get(&["NO_PROXY", "no_proxy"]),
        }
    }

    /// The reqwest proxy, if any request may use one; `Err` names what is wrong with a
    /// proxy URL, without quoting it (it may hold a password).
    pub(crate) fn build(&self) -> Result<Option<reqwest::Proxy>, String> {
        let (url, no_proxy) = match self {
            ProxyChoice::Off | ProxyChoice::Env { proxy: None, .. } => return Ok(None),
            ProxyChoice::Env {
                proxy: Some(url),
                no_proxy,
            } => (url, no_proxy.clone()),
            ProxyChoice::Url(url) => (url, None),
        };
        let proxy_url = reqwest::Url::parse(url.expose())
            .map_err(|e| format!("the proxy URL does not parse: {e}"))?;
        if !matches!(proxy_url.scheme(), "http" | "https") {
            return Err(format!(
                "the proxy URL's scheme {:?} is not http or https",
                proxy_url.scheme()
            ));
        }
        let proxy = reqwest::Proxy::custom(move |target| {
            (target.scheme() == "https" && !is_loopback(target)).then(|| proxy_url.clone())
        });
        Ok(Some(proxy.no_proxy(
            no_proxy.and_then(|list| reqwest::NoProxy::from_string(&list)),
        )))
    }
}

/// `localhost`, `127.0.0.0/8` and `::1`.
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://127.0.0.1:8080/",
            "http://127.0.0.2/",
            "https://localhost/",
            "http://[::1]:9/",
            "http://a.localhost/",
        ] {
            assert!(is_loopback(&url(u)), "{u}");
        }
        for u in [
            "https://api.mypurecloud.com/",
            "http://10.0.0.1/",
            "http://[::2]/",
        ] {
            assert!(!is_loopback(&url(u)), "{u}");
        }
    }

    #[test]
    fn env_reads_https_then_all_proxy_and_ignores_http_proxy() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            ProxyChoice::from_env_with(move |n| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            })
        };
        let only_http = env(&[("HTTP_PROXY", "http://127.0.0.1:3128")]);
        assert!(matches!(only_http, ProxyChoice::Env { proxy: None, .. }));
        assert!(only_http.build().unwrap().is_none());
        let all = env(&[("ALL_PROXY", "http://127.0.0.1:3128")]);
        assert!(matches!(all, ProxyChoice::Env { proxy: Some(_), .. }));
        assert!(all.build().unwrap().is_some());
    }

    #[test]
    fn a_bad_proxy_url_is_refused_without_quoting_it() {
        let bad = ProxyChoice::Url(Secret::new("ftp://user:hunter2@proxy:21"));
        let err = bad.build().unwrap_err();
        assert!(err.contains("ftp") && !err.contains("hunter2"), "{err}");
        let debug = format!("{bad:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
