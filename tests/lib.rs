//! Helpers shared by the cross-crate tests.

use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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
