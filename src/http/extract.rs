//! Extractors whose rejections are our problem+json errors rather than axum's plain
//! text.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Query string parameters, deserialised into `T`; a malformed query is a 400
/// problem naming what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// A query string deserialised into `T`, as [`Query`] does it.
pub(super) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let invalid = |detail: String| ApiError::InvalidParameter { param: "query".to_owned(), detail };
    check_escapes(query).map_err(invalid)?;
    serde_urlencoded::from_str(query).map_err(|e| invalid(e.to_string()))
}

/// Checks that a query string decodes to UTF-8 text without NUL characters (which
/// PostgreSQL cannot hold); serde_urlencoded would quietly
/// replace what does not (`%FF`) and keep a broken escape (`%G0`) as it is.
fn check_escapes(query: &str) -> Result<(), String> {
    let bytes = query.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            let byte = hex
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("malformed percent-escape at character {}", i + 1))?;
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    if decoded.contains(&0) {
        return Err("holds a NUL character (%00)".to_owned());
    }
    std::str::from_utf8(&decoded).map(|_| ()).map_err(|e| format!("not UTF-8 text once decoded ({e})"))
}

#[cfg(test)]
mod tests {
    use super::check_escapes;

    #[test]
    fn queries_must_decode_to_utf8_text() {
        assert!(check_escapes("q=lahan%20sawah&kode=73.71&x=%C3%A9+b").is_ok());
        assert!(check_escapes("").is_ok());
        for bad in ["q=%00", "q=a%00b", "q=%FF%FE", "q=%C0%AF", "q=%G0", "q=%", "q=%4", "q=%+F"] {
            assert!(check_escapes(bad).is_err(), "{bad}");
        }
    }
}
