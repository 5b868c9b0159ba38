//! Helpers shared by the cross-crate tests: fixtures, a raw request capture, a scripted
//! loopback server and a manual clock.

/// The workspace README's Rust examples, compiled as doctests so they stay true.
#[doc = include_str!("../README.md")]
mod readme {}

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use usage_client::{BoxFuture, Clock};

pub mod hostile;

/// The workspace root, for reading `spec/` and fixtures.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// A JSON fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> String {
    let path = workspace_root().join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A one-shot loopback server that records the raw request head and answers `body` with
/// `200`. httpmock matches on decoded paths; this shows the bytes the client put on the
/// wire.
pub struct RawCapture {
    pub base_url: String,
    head: tokio::task::JoinHandle<String>,
}

impl RawCapture {
    pub async fn start(body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let head = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            // A request head is a few hundred bytes; 64 KiB bounds the loop.
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65_536 {
                let n = socket.read(&mut chunk).await.expect("read");
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&buf).into_owned()
        });
        Self { base_url, head }
    }

    /// The request line, e.g. `GET /api/v2/usage/query/x/results HTTP/1.1`.
    pub async fn request_line(self) -> String {
        let head = self.head.await.expect("capture task");
        head.lines().next().unwrap_or_default().to_string()
    }
}

/// A request as the scripted server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What the scripted server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Wait this long (real time) before answering: a slow or hanging server.
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn json(status: u16, body: impl ToString) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
            delay: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

type Script = dyn Fn(&Seen, &[Seen]) -> Reply + Send + Sync;
type ScriptState = (Arc<Mutex<Vec<Seen>>>, Arc<Script>);

/// A client builder aimed at `fake`, with the credentials it accepts.
pub fn fake_client(fake: &usage_fake::FakeService) -> usage_client::ClientBuilder {
    usage_client::Client::builder()
        .base_url(&fake.base_url())
        .client_credentials(fake.client_id(), fake.client_secret())
}

/// Polls every `every`, for at most `max_wait`.
pub fn steady_polls(every: Duration, max_wait: Duration) -> usage_ext::PollPolicy {
    usage_ext::PollPolicy::default()
        .with_initial_delay(every)
        .with_factor(1.0)
        .with_max_delay(every)
        .with_max_wait(max_wait)
}

/// A loopback HTTP server whose answers a closure decides, given the request and every
/// earlier request. It records what it saw.
pub struct Scripted {
    pub base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    pub async fn start(script: impl Fn(&Seen, &[Seen]) -> Reply + Send + Sync + 'static) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let state = (seen.clone(), script);
        let app = axum::Router::new()
            .fallback(
                |axum::extract::State((seen, script)): axum::extract::State<ScriptState>,
                 method: Method,
                 uri: Uri,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let request = Seen {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                            })
                            .collect(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let reply = {
                        let mut seen = seen.lock().unwrap();
                        let reply = script(&request, &seen);
                        seen.push(request);
                        reply
                    };
                    if let Some(delay) = reply.delay {
                        tokio::time::sleep(delay).await;
                    }
                    let mut response =
                        axum::response::Response::new(axum::body::Body::from(reply.body));
                    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
                    for (name, value) in reply.headers {
                        response.headers_mut().insert(name, value.parse().unwrap());
                    }
                    response
                },
            )
            .with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            base_url,
            seen,
            task,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests hit `path`.
    pub fn count(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A clock whose sleeps return at once, advance `now`, and are recorded: backoff waits
/// can be asserted exactly while requests still go to a real loopback server.
#[derive(Debug)]
pub struct ManualClock {
    start: tokio::time::Instant,
    offset: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
    sleep_calls: AtomicUsize,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            offset: Mutex::default(),
            sleeps: Mutex::default(),
            sleep_calls: AtomicUsize::new(0),
        }
    }
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves time forward, as if the process had waited (at most a century in all, so
    /// that a test of huge waits cannot overflow the clock itself).
    pub fn advance(&self, by: Duration) {
        const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
        let mut offset = self.offset.lock().unwrap();
        *offset = offset.saturating_add(by).min(CENTURY);
    }

    /// Every wait the runtime asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }

    pub fn sleep_calls(&self) -> usize {
        self.sleep_calls.load(Ordering::Relaxed)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> tokio::time::Instant {
        self.start + *self.offset.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleep_calls.fetch_add(1, Ordering::Relaxed);
        self.sleeps.lock().unwrap().push(duration);
        self.advance(duration);
        Box::pin(async {})
    }
}

/// An interval of the last 30 whole days (UTC), as `YYYY-MM-DD/YYYY-MM-DD`: an aggregates
/// query job's interval may start at most a year ago, so tests do not hard-code dates.
pub fn recent_interval() -> String {
    let today = chrono::Utc::now().date_naive();
    let start = today - chrono::Days::new(31);
    let end = today - chrono::Days::new(1);
    format!("{}/{}", start.format("%Y-%m-%d"), end.format("%Y-%m-%d"))
}

/// A client on `base_url` with no token and no retries: every request is sent once, as is.
pub fn bare_client(base_url: &str) -> usage_client::Client {
    usage_client::Client::builder()
        .base_url(base_url)
        .retry_policy(usage_client::RetryPolicy::disabled())
        .no_proxy()
        .build()
        .expect("a loopback base URL builds")
}
