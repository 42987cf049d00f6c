//! HTTP/1.1 over a plain TCP connection, byte for byte: request targets and header
//! values that no client library lets through (invalid UTF-8, `..` segments kept as
//! they are, control characters), and bodies the server may stop reading.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request exactly as it goes on the wire (Connection: close, Content-Length and,
/// unless given, Host are added).
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: &'static str,
    pub target: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// An answer: status, headers (names in lower case) and the body, de-chunked.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// How long one request may take, answer included: longer is a hang.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Sends one request on a connection of its own (`addr`: `127.0.0.1:PORT`). The body is
/// written while the answer is read, so that a server refusing it early (413) is heard.
pub async fn send(addr: &str, request: &RawRequest) -> Result<RawAnswer, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let (mut reader, mut writer) = stream.into_split();
    let mut head = Vec::new();
    head.extend_from_slice(request.method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(&request.target);
    head.extend_from_slice(b" HTTP/1.1\r\nconnection: close\r\n");
    if !request.headers.iter().any(|(name, _)| name == "host") {
        head.extend_from_slice(format!("host: {addr}\r\n").as_bytes());
    }
    for (name, value) in &request.headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    if !request.body.is_empty() || matches!(request.method, "POST" | "PATCH" | "PUT") {
        head.extend_from_slice(format!("content-length: {}\r\n", request.body.len()).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let body = request.body.clone();
    // Write errors are expected when the server answers before reading everything.
    let writing = tokio::spawn(async move {
        if writer.write_all(&head).await.is_ok() && writer.write_all(&body).await.is_ok() {
            let _ = writer.flush().await;
        }
        writer
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, async {
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) => return Ok::<(), String>(()),
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
                // A reset after the answer (the server closed with our body unread).
                Err(_) if !answer.is_empty() => return Ok(()),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    })
    .await;
    writing.abort();
    read.map_err(|_| format!("no complete answer within {TIMEOUT:?} (hang)"))??;
    parse(&answer)
}

fn parse(bytes: &[u8]) -> Result<RawAnswer, String> {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {:?}", String::from_utf8_lossy(bytes)))?;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &bytes[end + 4..];
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    Ok(RawAnswer { status, headers, body })
}

fn dechunk(mut bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size")?;
        let size = String::from_utf8_lossy(&bytes[..line_end]);
        let size = usize::from_str_radix(size.split(';').next().unwrap_or_default().trim(), 16)
            .map_err(|e| format!("bad chunk size {size:?}: {e}"))?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = bytes.get(..size).ok_or("truncated chunk")?;
        body.extend_from_slice(chunk);
        bytes = bytes.get(size + 2..).unwrap_or_default();
    }
}
