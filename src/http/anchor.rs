//! The anchor of the tile benchmark (`scripts/bench-tiles`): what serving tiles from
//! memory costs on this machine at best. The tile bytes our server sent, read from a
//! directory (`{z}/{x}/{y}.mvt`, as the benchmark saved them), served from a `HashMap`
//! by a minimal handler (a bare service under `axum::serve`) on the same serving
//! threads as the server ([`super::workers`]), without router, layers, cache
//! bookkeeping, tags or negotiation. `sipks bench-anchor` (hidden) runs it.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_service::Service;

/// Tile bytes by request path.
type Tiles = Arc<HashMap<String, Bytes>>;

/// Reads every `*.mvt` under `dir` as the tile at `{prefix}/{its path without .mvt}`.
pub fn load(dir: &Path, prefix: &str) -> io::Result<HashMap<String, Bytes>> {
    let mut tiles = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "mvt") {
                let relative = path.strip_prefix(dir).map_err(io::Error::other)?.with_extension("");
                let relative = relative.to_str().ok_or_else(|| io::Error::other("a path that is not UTF-8"))?;
                tiles
                    .insert(format!("{}/{relative}", prefix.trim_end_matches('/')), Bytes::from(std::fs::read(&path)?));
            }
        }
    }
    Ok(tiles)
}

/// The handler: the tile at the request's path (204 for an empty one), or 404. A bare
/// service, without even a router: the least an HTTP answer from memory costs here.
#[derive(Clone)]
pub struct Anchor(Tiles);

impl Service<Request> for Anchor {
    type Response = Response;
    type Error = Infallible;
    type Future = Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        ready(Ok(match self.0.get(request.uri().path()) {
            Some(bytes) if bytes.is_empty() => StatusCode::NO_CONTENT.into_response(),
            Some(bytes) => {
                let mut response = bytes.clone().into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(super::tiles::MVT));
                response
            }
            None => StatusCode::NOT_FOUND.into_response(),
        }))
    }
}

/// The anchor over these tiles.
pub fn app(tiles: HashMap<String, Bytes>) -> Anchor {
    Anchor(Arc::new(tiles))
}

/// Serves the tiles under `dir` at `prefix` on `listen` until Ctrl-C or SIGTERM.
pub async fn serve(dir: &Path, prefix: &str, listen: SocketAddr) -> io::Result<()> {
    let tiles = load(dir, prefix)?;
    tracing::info!(tiles = tiles.len(), dir = %dir.display(), "anchor tiles loaded");
    let anchor = app(tiles);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "serving the anchor");
    // One per worker, as the server's.
    super::workers::serve(
        listener,
        move || Anchor(Arc::new((*anchor.0).clone())),
        super::workers::Limits::default(),
        super::shutdown_signal(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_the_saved_tiles_by_path() {
        let dir = std::env::temp_dir().join(format!("sipks-anchor-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("5/25")).expect("dir");
        std::fs::write(dir.join("5/25/16.mvt"), b"tile bytes").expect("write");
        std::fs::write(dir.join("5/25/17.mvt"), b"").expect("write");
        let tiles = load(&dir, "/tiles/kabupaten_kota").expect("load");
        std::fs::remove_dir_all(&dir).expect("clean up");
        let mut app = app(tiles);
        let get = |path: &str| Request::builder().uri(path).body(axum::body::Body::empty()).expect("request");
        let full = app.call(get("/tiles/kabupaten_kota/5/25/16")).await.expect("infallible");
        assert_eq!(full.status(), StatusCode::OK);
        assert_eq!(full.headers()[header::CONTENT_TYPE], super::super::tiles::MVT);
        let body = axum::body::to_bytes(full.into_body(), 1 << 20).await.expect("body");
        assert_eq!(&body[..], b"tile bytes");
        let empty = app.call(get("/tiles/kabupaten_kota/5/25/17")).await.expect("infallible");
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
        let none = app.call(get("/tiles/kabupaten_kota/5/25/18")).await.expect("infallible");
        assert_eq!(none.status(), StatusCode::NOT_FOUND);
    }
}
