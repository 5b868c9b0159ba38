//! Alerts delivered where people are (`--notify URL`): one JSON POST per alert to a
//! webhook, in the shape its receiver takes ([`message`]: a generic document, Slack's
//! incoming webhooks, a Microsoft Teams workflow). A POST is retried within a budget on a
//! 5xx, a 429 (after its Retry-After) and a failed connection; anything else is the answer.
//! The URL is a secret (Slack's and Teams' carry their key in it): it is never printed,
//! only its host, and reqwest's errors are said without it.

pub mod message;

use std::time::Duration;

pub use message::{Alert, Shape};

/// POSTs per alert, the first included.
const ATTEMPTS: u32 = 4;
/// The longest wait between two, whatever a Retry-After asks: an alert late by minutes is
/// worth less than the exit code it would hold up.
const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// Each POST's own deadline.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A webhook to send alerts to.
#[derive(Clone)]
pub struct Webhook {
    url: reqwest::Url,
    shape: Shape,
    http: reqwest::Client,
}

impl Webhook {
    /// `--notify URL`, in `shape` or the one its host says; refused (with the flag, never
    /// the URL) when it is not http(s), or plain http to another host than this machine.
    pub fn parse(url: &str, shape: Option<Shape>) -> Result<Self, String> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| format!("--notify: not a URL ({e}); give the webhook's https:// URL"))?;
        let host = url.host_str().unwrap_or_default().to_string();
        let plain = match url.scheme() {
            "https" => false,
            "http" if is_loopback(&host) => true,
            "http" => {
                return Err(format!(
                    "--notify: the webhook at {host} is plain http; an alert (and the URL's \
                     key) goes to another host over https only"
                ));
            }
            other => return Err(format!("--notify: a {other}: URL; give an https:// one")),
        };
        if host.is_empty() {
            return Err("--notify: the URL names no host".into());
        }
        let http = usage_ext::client::outbound_http(plain)
            .map_err(|e| format!("--notify: {e}"))?
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| format!("--notify: {}", e.without_url()))?;
        Ok(Self {
            shape: shape.unwrap_or_else(|| Shape::of_host(&host)),
            url,
            http,
        })
    }

    /// Where alerts go, as it may be said: the host alone.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// POSTs `alert`, retried within the budget; `Err` says why it was not taken, never
    /// with the URL.
    pub async fn deliver(&self, alert: &Alert) -> Result<(), String> {
        let body = self.shape.body(alert);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let wait = match self.http.post(self.url.clone()).json(&body).send().await {
                Ok(answer) if answer.status().is_success() => return Ok(()),
                Ok(answer) => {
                    let status = answer.status();
                    last = format!("it answered {status}");
                    let again = status.is_server_error()
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                    if !again {
                        return Err(last);
                    }
                    usage_ext::client::retry_after(answer.headers())
                        .unwrap_or_else(|| backoff(attempt))
                }
                Err(e) => {
                    last = e.without_url().to_string();
                    backoff(attempt)
                }
            };
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait.min(LONGEST_WAIT)).await;
            }
        }
        Err(format!("{last}, {ATTEMPTS} times"))
    }
}

/// 1 s, 2 s, 4 s: the receiver's hiccup, not its outage.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << (attempt - 1).min(5))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_is_https_or_this_machines_and_its_url_is_never_said() {
        let secret = "https://hooks.slack.com/services/T000/B000/s3cr3t";
        let hook = Webhook::parse(secret, None).unwrap();
        assert_eq!(hook.host(), "hooks.slack.com");
        assert_eq!(hook.shape, Shape::Slack);
        assert!(Webhook::parse("http://127.0.0.1:9/x", None).is_ok());
        for refused in [
            "http://alerts.example.com/k3y",
            "ftp://alerts.example.com/k3y",
            "not a url",
        ] {
            let why = Webhook::parse(refused, None).err().unwrap();
            assert!(!why.contains("k3y"), "{why}");
            assert!(why.starts_with("--notify"), "{why}");
        }
    }
}
