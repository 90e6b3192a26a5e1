//! Bare HTTP/1.1 requests over a TCP socket: for checking exactly what the SSE and long-polling endpoints answer,
//! and for clients that misbehave (stop reading, vanish) as no library client would.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A complete response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The head (status line and headers), as text.
    pub head: String,
    /// The body.
    pub body: String,
}

impl Response {
    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends one request (with `Connection: close`) and reads the whole response, within 10 seconds.
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(head(method, path, headers, body).as_bytes()).await.expect("send request");
        stream.write_all(body.as_bytes()).await.expect("send body");
        let mut raw = Vec::new();
        // A connection dropped mid-response (on purpose, by the server) reads as what arrived.
        let _ = stream.read_to_end(&mut raw).await;
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), exchange).await.expect("a response within 10 s");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.into() };
    Response { status, head: head.to_owned(), body }
}

fn head(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        head.push_str("Host: 127.0.0.1\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    head
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// An open event stream, read event by event.
pub struct EventStream {
    reader: BufReader<TcpStream>,
    /// The response head.
    pub head: String,
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its `id`, if it had one.
    pub id: Option<String>,
    /// Its `data` lines, joined with `\n`.
    pub data: String,
}

impl EventStream {
    /// Opens `GET path` and reads the response head.
    pub async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> EventStream {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(head("GET", path, headers, "").as_bytes()).await.expect("send request");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("read the response head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        EventStream { reader, head }
    }

    /// The next event with data (comments and `retry:` skipped), within 5 seconds.
    pub async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(5), self.read_event()).await.expect("an event within 5 s")
    }

    async fn read_event(&mut self) -> Event {
        let (mut id, mut data): (Option<String>, Option<String>) = (None, None);
        loop {
            // The body is chunked: skip chunk-size lines (hex digits only) and read event lines.
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await.expect("read the stream");
            assert!(n > 0, "the stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let Some(data) = data.take() {
                    return Event { id: id.take(), data };
                }
                continue;
            }
            if let Some(value) = line.strip_prefix("id: ") {
                id = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("data: ") {
                data = Some(match data {
                    Some(previous) => format!("{previous}\n{value}"),
                    None => value.to_owned(),
                });
            }
        }
    }
}
