//! The fast path of cached tiles. A request for a tile that is in the cache is answered
//! here, before the router and the layers around it: one cache lookup, the tile's bytes
//! and entity tag as they are stored (`Bytes`, nothing copied or formatted), the
//! headers the layers would add, and the request counted in `/metrics` under the
//! tile route. Anything else, and any tile request this path does not take exactly as
//! the router would (another method, an unusual path, a token, a miss, CORS turned on,
//! request logging at debug level), goes through the router unchanged.
//!
//! What the layers do to a tile hit, and how it is done here: the request id is kept
//! when sane, else made ([`security`]); the security headers are added; the tracing
//! span would log nothing at the default levels (the request's own lines are at debug,
//! which sends every request through the router); the metrics layer counts the answer
//! by route template; problem rendering, the timeout and the refusal of writes touch
//! no 2xx or 304 answer to a GET. The answer itself is [`tiles::tile_response`], the
//! handler's own.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::response::Response;
use axum::Router;
use futures::future::Either;
use tower_service::Service;

use super::metrics::RouteStats;
use super::negotiate::accepts_gzip;
use super::security::{self, new_request_id, sane_request_id, X_REQUEST_ID};
use super::tiles::{self, TileQuery};
use super::{extract, risk, AppState};
use crate::auth::Scope;
use crate::tiles::{Source, Tiles};

/// The route template tile requests are counted under (the router's, as `/metrics`
/// shows it).
pub(super) const TILE_ROUTE: &str = "/tiles/{source}/{z}/{x}/{y}";

/// The application with the fast path of cached tiles in front of it. Each HTTP worker
/// has its own (see [`super::workers`]), so that the clone made for every request
/// counts references on a line of that worker's alone.
#[derive(Clone)]
pub struct FastTiles(Arc<Inner>);

struct Inner {
    app: Router,
    tiles: Arc<Tiles>,
    stats: Arc<RouteStats>,
    /// Off when CORS is configured (its layer adds headers to every answer).
    on: bool,
}

impl FastTiles {
    /// `app` (the whole application, [`super::app`] of `state`) behind the fast path.
    pub fn new(app: Router, state: &AppState) -> FastTiles {
        FastTiles(Arc::new(Inner {
            app,
            tiles: Arc::clone(&state.tiles),
            stats: state.metrics.route_stats(TILE_ROUTE, &Method::GET),
            on: state.http.cors_origins.is_empty(),
        }))
    }
}

impl Service<Request> for FastTiles {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, <Router as Service<Request>>::Future>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        match self.0.hit(&request) {
            Some(response) => {
                self.0.stats.record(response.status().as_u16(), started.elapsed().as_secs_f64());
                Either::Left(ready(Ok(response)))
            }
            None => Either::Right(self.0.app.clone().call(request)),
        }
    }
}

impl Inner {
    /// The answer to `request` when it asks for a cached tile, as the router would give
    /// it; `None` for the router to answer.
    fn hit(&self, request: &Request) -> Option<Response> {
        if !self.on || request.method() != Method::GET {
            return None;
        }
        let mut segments = request.uri().path().strip_prefix("/tiles/")?.split('/');
        let (name, z, x, y) = (segments.next()?, segments.next()?, segments.next()?, segments.next()?);
        if segments.next().is_some() {
            return None;
        }
        let source = Source::parse(name)?;
        let coord = tiles::tile_coord(source, z, x, y).ok()?;
        let (window, at) = match request.uri().query() {
            None => (None, None),
            Some(query) => {
                let query: TileQuery = extract::parse_query(query).ok()?;
                (risk::parse_days("window", query.window.as_deref()).ok()?, risk::parse_at(query.at.as_deref()).ok()?)
            }
        };
        let headers = request.headers();
        // A token's scope is the router's to check; without one, a caller sees no
        // incidents.
        if headers.contains_key(header::AUTHORIZATION) || logs_requests() {
            return None;
        }
        let gzip = accepts_gzip(headers);
        let tile = self.tiles.find_cached(source, coord, window, at, &Scope::Nothing)?;
        if gzip && !tile.has_gzip() {
            return None;
        }
        self.tiles.count_lookup(true);
        let mut response = tiles::tile_response(&tile, gzip, headers);
        let h = response.headers_mut();
        for (name, value) in security::RESPONSE_HEADERS {
            h.entry(name).or_insert(HeaderValue::from_static(value));
        }
        let id = headers.get(X_REQUEST_ID).filter(|id| sane_request_id(id)).cloned();
        h.insert(X_REQUEST_ID, id.unwrap_or_else(new_request_id));
        Some(response)
    }
}

/// Whether the tracing layer writes a line for each request (`RUST_LOG` at debug for
/// `tower_http`): then every request goes through it.
fn logs_requests() -> bool {
    tracing::enabled!(target: "tower_http::trace::on_request", tracing::Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_response", tracing::Level::DEBUG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::Layer;

    #[test]
    fn the_sources_with_incidents_are_those_with_the_incident_layer() {
        for source in Source::ALL {
            let layered = source.layers().iter().any(|(layer, _)| *layer == Layer::Incidents);
            assert_eq!(source.has_incidents(), layered, "{source:?}");
        }
    }

    #[test]
    fn request_ids_are_sixteen_hex_digits_and_differ() {
        let (a, b) = (new_request_id(), new_request_id());
        for id in [&a, &b] {
            assert!(id.len() == 16 && id.as_bytes().iter().all(u8::is_ascii_hexdigit), "{id:?}");
            assert!(sane_request_id(id));
        }
        assert_ne!(a, b);
    }
}
