//! Raw HTTP for the tile tests: status, headers and body bytes exactly as sent.

use std::io::Read;

use serde_json::Value;

use super::Server;

/// A raw answer: status, headers and the body bytes as sent (never decompressed).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(&self) -> &str {
        self.header("etag").unwrap_or_else(|| panic!("no ETag ({} answer)", self.status))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One keep-alive client for a server (reqwest here neither sends Accept-Encoding nor
/// decompresses by itself).
pub struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    pub fn new(server: &Server) -> Http {
        Http { client: reqwest::Client::new(), base: server.base.clone() }
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        let mut request = self.client.get(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_else(|e| panic!("GET {url}: body: {e}")).to_vec();
        Reply { status, headers, body }
    }
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("a gzip body");
    out
}
