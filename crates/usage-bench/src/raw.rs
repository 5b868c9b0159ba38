//! The raw-socket floor: what a hand-written client costs with no HTTP library at all.
//! HTTP/1.1 with keep-alive over one plain `std::net::TcpStream`, each answer's head read
//! through a small buffer and its body read by `Content-Length` into one buffer allocated
//! once at that size, decoded by serde_json into the plain structs of `floor.rs`. It
//! handles what usage-fake sends (`Content-Length` bodies) and nothing else: a floor, not a
//! client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

type Error = Box<dyn std::error::Error>;

pub struct Raw {
    host: String,
    reader: BufReader<TcpStream>,
}

impl Raw {
    /// Connects to `url` (`http://host:port`).
    pub fn connect(url: &str) -> Result<Self, Error> {
        let host = url
            .strip_prefix("http://")
            .ok_or("http URLs only")?
            .to_string();
        let stream = TcpStream::connect(&host)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            host,
            reader: BufReader::with_capacity(8 * 1024, stream),
        })
    }

    /// Sends one request and returns the status and the body.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Error> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
            self.host,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;

        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .ok_or("no status line")?
            .parse()?;
        let mut length = None;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = Some(value.trim().parse::<usize>()?);
            }
        }
        let length = length.ok_or("no Content-Length (the floor reads no other framing)")?;
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}
