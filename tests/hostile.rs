//! A hostile HTTP/1.1 server for the fault suite: it answers each request with whatever
//! bytes a script decides, including answers no correct server gives (endless bodies,
//! redirects anywhere, closing mid-body, silence). It also serves as a forward proxy and
//! on other loopback addresses (127.0.0.2), and logs every request with the address it
//! reached, so a test can prove where a request and its headers did not go.
//!
//! Unlike `usage-fake`, it knows nothing of the protocol beyond framing: that is the point.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as it reached the server: the raw request line (absolute-form for a proxied
/// request, `CONNECT host:port` for a tunnel), the headers and the body.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The listening address it reached.
    pub at: SocketAddr,
    pub method: String,
    /// The request target: a path, an absolute URL (proxy) or `host:port` (CONNECT).
    pub target: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When its head and body had arrived.
    pub received: std::time::Instant,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path of the target, without the query.
    pub fn path(&self) -> &str {
        let target = self.target.as_str();
        let path = match target.find("://") {
            Some(i) => target[i + 3..]
                .find('/')
                .map_or("/", |j| &target[i + 3 + j..]),
            None => target,
        };
        path.split('?').next().unwrap_or(path)
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Act {
    /// An answer with `Content-Length`; the connection is kept.
    Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Exactly these bytes, then the connection is closed.
    Raw(Vec<u8>),
    /// Closes the connection without answering.
    Close,
    /// Never answers; the connection stays open until the client gives up.
    Stall,
    /// A head announcing `declared` bytes, `sent` of them, then the connection closes.
    CloseMidBody {
        status: u16,
        declared: usize,
        sent: Vec<u8>,
    },
    /// A chunked body that never ends (it stops when the client stops reading).
    EndlessChunked { status: u16 },
}

impl Act {
    pub fn json(status: u16, body: impl ToString) -> Self {
        Act::Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn redirect(status: u16, location: &str) -> Self {
        Act::Reply {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }

    /// Adds a header (only to `Reply`).
    pub fn with(mut self, name: &str, value: impl ToString) -> Self {
        if let Act::Reply { headers, .. } = &mut self {
            headers.push((name.into(), value.to_string()));
        }
        self
    }
}

type Script = dyn Fn(&Logged, &[Logged]) -> Act + Send + Sync;

/// The server. Dropping it stops it.
pub struct Hostile {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Logged>>>,
    written: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

/// The most a stalled connection is held, so no test can hang on the harness.
const STALL: Duration = Duration::from_secs(60);
/// Chunks of an endless body before the server gives up on its own (64 GiB).
const ENDLESS_CHUNKS: usize = 1 << 20;

impl Hostile {
    /// Listens on 127.0.0.1.
    pub async fn start(script: impl Fn(&Logged, &[Logged]) -> Act + Send + Sync + 'static) -> Self {
        Self::start_on("127.0.0.1", script).await
    }

    /// Listens on another loopback address, e.g. `127.0.0.2`: a second origin.
    pub async fn start_on(
        ip: &str,
        script: impl Fn(&Logged, &[Logged]) -> Act + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<Logged>>> = Arc::default();
        let written = Arc::new(AtomicU64::new(0));
        let script: Arc<Script> = Arc::new(script);
        let (log2, written2) = (log.clone(), written.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                // Head and body go out in separate writes: without this, Nagle's algorithm
                // and delayed ACKs add 40 ms stalls that timing tests would blame on the
                // client.
                let _ = socket.set_nodelay(true);
                let (log, written, script) = (log2.clone(), written2.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, addr, log, written, script).await;
                });
            }
        });
        Self {
            addr,
            log,
            written,
            task,
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// Requests whose path is `path`.
    pub fn count(&self, path: &str) -> usize {
        self.log().iter().filter(|l| l.path() == path).count()
    }

    /// Body bytes written to clients so far (endless bodies included).
    pub fn body_bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port on 127.0.0.1 with nothing listening.
pub async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

async fn serve(
    mut socket: TcpStream,
    at: SocketAddr,
    log: Arc<Mutex<Vec<Logged>>>,
    written: Arc<AtomicU64>,
    script: Arc<Script>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer, at).await? else {
            return Ok(());
        };
        let act = {
            let mut log = log.lock().unwrap();
            let act = script(&request, &log);
            log.push(request);
            act
        };
        match act {
            Act::Reply {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                for (name, value) in &headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                if !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                {
                    head.push_str(&format!("content-length: {}\r\n", body.len()));
                }
                head.push_str("\r\n");
                socket.write_all(head.as_bytes()).await?;
                socket.write_all(&body).await?;
                written.fetch_add(body.len() as u64, Ordering::Relaxed);
            }
            Act::Raw(bytes) => {
                socket.write_all(&bytes).await?;
                return socket.shutdown().await;
            }
            Act::Close => return Ok(()),
            Act::Stall => {
                tokio::time::sleep(STALL).await;
                return Ok(());
            }
            Act::CloseMidBody {
                status,
                declared,
                sent,
            } => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n",
                    reason(status)
                );
                socket.write_all(head.as_bytes()).await?;
                socket.write_all(&sent).await?;
                written.fetch_add(sent.len() as u64, Ordering::Relaxed);
                return socket.shutdown().await;
            }
            Act::EndlessChunked { status } => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
                    reason(status)
                );
                socket.write_all(head.as_bytes()).await?;
                let chunk = vec![b' '; 64 * 1024];
                let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                for _ in 0..ENDLESS_CHUNKS {
                    socket.write_all(&frame).await?;
                    written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                return Ok(());
            }
        }
    }
}

/// Reads one request (head and `Content-Length` body); `None` when the client closed.
async fn read_request(
    socket: &mut TcpStream,
    buffer: &mut Vec<u8>,
    at: SocketAddr,
) -> std::io::Result<Option<Logged>> {
    let mut chunk = [0u8; 8192];
    // A request head is a few hundred bytes; 64 KiB bounds the loop.
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buffer.len() > 65_536 {
            return Ok(None);
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(1 << 20);
    while buffer.len() < head_end + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Ok(Some(Logged {
        at,
        method,
        target,
        headers,
        body,
        received: std::time::Instant::now(),
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
