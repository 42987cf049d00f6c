//! What the handlers that send bytes made once (tiles, the web map's files, the risk
//! list) ask of the request: whether the client takes gzip, and whether its
//! `If-None-Match` already names the current entity tag.

use axum::body::Bytes;
use axum::http::{header, HeaderMap};

/// Whether the client takes gzip: `Accept-Encoding` lists `gzip` (or `*`) without `q=0`.
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.trim().parse::<f64>().ok()).unwrap_or(1.0);
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
        },
    )
}

/// Whether `If-None-Match` names this tag (or `*`); weak comparison, as RFC 9110
/// asks for `If-None-Match`.
pub(super) fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        },
    )
}

/// The gzip encoding of `bytes`, at the fastest level: what is compressed here is
/// compressed again after every change it shows, and the fastest level makes tiles and
/// JSON about a tenth larger in a third of the time. Blocking work: call it off the
/// request threads for anything larger than a few kilobytes.
pub(super) fn gzip(bytes: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    Bytes::from(encoder.finish().unwrap_or_default())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A header map with one header, for the tests of the handlers.
    pub(in crate::http) fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        assert!(accepts_gzip(&headers(header::ACCEPT_ENCODING, "gzip, deflate, br")));
        assert!(accepts_gzip(&headers(header::ACCEPT_ENCODING, "br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(&headers(header::ACCEPT_ENCODING, "*")));
        assert!(!accepts_gzip(&headers(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!accepts_gzip(&headers(header::ACCEPT_ENCODING, "gzip;q=0.0")));
        assert!(!accepts_gzip(&headers(header::ACCEPT_ENCODING, "br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn entity_tags_match_weakly_and_in_lists() {
        let tag = "\"00000000000000ab\"";
        assert!(matches(&headers(header::IF_NONE_MATCH, "\"x\", \"00000000000000ab\""), tag));
        assert!(matches(&headers(header::IF_NONE_MATCH, "W/\"00000000000000ab\""), tag));
        assert!(matches(&headers(header::IF_NONE_MATCH, "*"), tag));
        assert!(!matches(&headers(header::IF_NONE_MATCH, "\"00000000000000ac\""), tag));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let text = b"kabupaten_kota".repeat(100);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&text)[..]).read_to_end(&mut out).expect("gzip");
        assert_eq!(out, text);
    }
}
