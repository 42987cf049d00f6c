//! `/api/login`, `/api/logout`, `/api/me`, and the bearer-token extractor every handler
//! uses to know its caller.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::AppState;
use crate::auth::{self, Caller, Revocation, Role};
use crate::db;
use crate::region::RegionCode;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout)).routes(routes!(me))
}

/// The caller, from `Authorization: Bearer <token>`; `None` without the header. A
/// header with an unknown, expired or revoked token is refused (401), never taken as
/// anonymous. The second field is the token itself, for what outlives the request (an
/// event stream ends when its token stops working).
#[derive(Debug, Clone)]
pub struct Auth(pub Option<Caller>, pub Option<Token>);

/// A checked token.
#[derive(Debug, Clone)]
pub struct Token {
    /// Its stored hash.
    pub hash: Vec<u8>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

fn bearer(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| bad_token())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(bad_token)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() || token.len() > 256 {
        return Err(bad_token());
    }
    Ok(Some(token.trim()))
}

fn bad_token() -> ApiError {
    ApiError::unauthorized(
        "Token tidak valid, kedaluwarsa atau sudah dicabut; silakan masuk lagi.",
        "The token is invalid, expired or revoked; log in again.",
    )
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(&parts.headers)? else { return Ok(Auth(None, None)) };
        let hash = auth::token_hash(token);
        if let Some((caller, expires_at)) = state.tokens.get(&hash) {
            return Ok(Auth(Some(caller), Some(Token { hash, expires_at })));
        }
        let generation = state.tokens.generation();
        let (caller, expires_at) = db::users::caller_for_token(&state.pool, &hash).await?.ok_or_else(bad_token)?;
        state.tokens.put(hash.clone(), caller.clone(), expires_at, generation);
        Ok(Auth(Some(caller), Some(Token { hash, expires_at })))
    }
}

/// Recently checked tokens, so that a map's tile requests do not each ask the
/// database. A revocation (logout, a disabled user) reaches every server on the
/// database at once through a notice ([`TokenCache::revoke`]); an expired token is
/// refused at its expiry; and an entry is trusted at most [`TOKEN_CACHE_TTL`], in case
/// a token is revoked by hand in the database.
pub struct TokenCache {
    checked: Mutex<HashMap<Vec<u8>, Cached>>,
    /// Bumped by every revocation: a check begun before one is not cached after it.
    generation: std::sync::atomic::AtomicU64,
    /// Revocations as they arrive, for what outlives a request (event streams).
    revoked: tokio::sync::broadcast::Sender<Revocation>,
}

impl Default for TokenCache {
    fn default() -> TokenCache {
        TokenCache {
            checked: Mutex::default(),
            generation: std::sync::atomic::AtomicU64::new(0),
            revoked: tokio::sync::broadcast::channel(256).0,
        }
    }
}

struct Cached {
    caller: Caller,
    expires_at: DateTime<Utc>,
    checked: Instant,
}

/// How long a checked token is trusted without asking the database again.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Cached>> {
        crate::sync::lock(&self.checked)
    }

    fn get(&self, hash: &[u8]) -> Option<(Caller, DateTime<Utc>)> {
        let map = self.lock();
        let cached = map.get(hash)?;
        (cached.checked.elapsed() < TOKEN_CACHE_TTL && cached.expires_at > Utc::now())
            .then(|| (cached.caller.clone(), cached.expires_at))
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Keeps a token checked since `generation` (of [`TokenCache::generation`]), unless
    /// a revocation arrived meanwhile (the check may have read the token before it).
    fn put(&self, hash: Vec<u8>, caller: Caller, expires_at: DateTime<Utc>, generation: u64) {
        let mut map = self.lock();
        if self.generation() != generation {
            return;
        }
        if map.len() > 10_000 {
            map.retain(|_, cached| cached.checked.elapsed() < TOKEN_CACHE_TTL);
        }
        map.insert(hash, Cached { caller, expires_at, checked: Instant::now() });
    }

    /// Forgets the tokens revoked (all of them when that is unknown) and tells the
    /// event streams.
    pub fn revoke(&self, revoked: &Revocation) {
        let mut map = self.lock();
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        match revoked {
            Revocation::Token(hash) => {
                map.remove(hash);
            }
            Revocation::User(id) => map.retain(|_, cached| cached.caller.id != *id),
            Revocation::Unknown => map.clear(),
        }
        drop(map);
        let _ = self.revoked.send(revoked.clone());
    }

    /// Hears of every revocation from now on (a lagging receiver has missed some: take
    /// that as [`Revocation::Unknown`]).
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<Revocation> {
        self.revoked.subscribe()
    }
}

impl Auth {
    /// The caller, or 401.
    pub fn required(self) -> Result<Caller, ApiError> {
        self.0.ok_or_else(|| {
            ApiError::unauthorized(
                "Masuk dulu (POST /api/login) dan kirim token sebagai Authorization: Bearer.",
                "Log in first (POST /api/login) and send the token as Authorization: Bearer.",
            )
        })
    }
}

/// Login limits (shared by every server through PostgreSQL, migration 0041): three
/// failures per user name, twenty per client address (for names not at home there),
/// then each attempt waits twice as long as the one before (1 s ... 5 min); a streak
/// ends after 15 minutes without a failure.
pub const LOGIN_LIMITS: db::users::LoginLimits =
    db::users::LoginLimits { name_free: 3, address_free: 20, streak: Duration::from_secs(15 * 60) };

/// The client's address: the connection's peer (no peer, as in-process: unspecified).
fn client_address(peer: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    peer.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip().to_canonical())
}

fn too_many_logins(seconds: u64) -> Response {
    let mut response = ApiError::client(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-logins",
        ("Terlalu banyak percobaan masuk", "Too many login attempts"),
        (
            format!("Terlalu banyak percobaan gagal; coba lagi dalam {seconds} detik."),
            format!("Too many failed attempts; try again in {seconds} seconds."),
        ),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// A login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    /// User name.
    #[schema(example = "operator.makassar")]
    username: String,
    /// Password.
    #[schema(example = "rahasia-sekali-123")]
    password: String,
}

/// A token and who it is for.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct LoginAnswer {
    /// Bearer token: send as `Authorization: Bearer <token>`.
    token: String,
    /// When it expires.
    #[schema(format = DateTime)]
    expires_at: String,
    /// The user.
    user: UserAnswer,
}

/// A user as the API shows it.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct UserAnswer {
    /// User id.
    id: i64,
    /// User name.
    #[schema(example = "operator.makassar")]
    username: String,
    role: Role,
    /// The region of a provinsi or kabupaten_kota user; null for the others.
    #[schema(required = true)]
    kode: Option<RegionCode>,
}

fn user_json(caller: &Caller) -> Value {
    json!({
        "id": caller.id,
        "username": caller.username,
        "role": caller.role,
        "kode": caller.region.as_ref().map(|r| r.as_str()),
    })
}

/// Log in
///
/// Exchanges a user name and password for a bearer token with an expiry. Repeated
/// failures are slowed down, on every server alike: after three for a name, or twenty
/// from one client address, each attempt waits twice as long as the one before (429
/// with Retry-After), the right password too. From an address where the user logged
/// in before, the name has a limit of its own, so that failures elsewhere do not lock
/// the owner out.
#[utoipa::path(
    post,
    path = "/api/login",
    operation_id = "login",
    tag = "auth",
    request_body(content = LoginBody, content_type = "application/json"),
    responses(
        (status = 200, description = "A token.", body = LoginAnswer),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "Wrong name or password.", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A field is missing or of the wrong type.", body = Problem, content_type = PROBLEM_JSON),
        (status = 429, description = "Too many failures; wait Retry-After seconds.", body = Problem, content_type = PROBLEM_JSON,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn login(
    State(state): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: LoginBody = super::incidents::json_body(&body)?;
    let address = client_address(peer.as_deref());
    // Checked and counted before the password is verified, in one step shared by every
    // server: parallel attempts cannot all pass.
    if let Some(seconds) = db::users::login_attempt(&state.pool, &body.username, address, LOGIN_LIMITS).await? {
        return Ok(too_many_logins(seconds));
    }
    let found = db::users::for_login(&state.pool, &body.username).await?;
    // Verify against some hash even for an unknown name, so that timing does not tell
    // which names exist.
    let (caller, hash) = match found {
        Some((caller, hash)) => (Some(caller), hash),
        None => (None, DUMMY_HASH.clone()),
    };
    let password = body.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(|_| ApiError::Internal("password check failed".into()))?;
    let Some(caller) = caller.filter(|_| ok) else {
        return Err(ApiError::unauthorized("Nama pengguna atau kata sandi salah.", "Wrong user name or password."));
    };
    db::users::login_succeeded(&state.pool, &caller, address, LOGIN_LIMITS).await?;
    let token = auth::new_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires_at = chrono::Utc::now() + state.token_ttl;
    db::users::create_token(&state.pool, caller.id, &auth::token_hash(&token), expires_at).await?;
    tracing::info!(user = %caller.username, "login");
    Ok(Json(json!({
        "token": token,
        "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "user": user_json(&caller),
    }))
    .into_response())
}

/// A hash checked for unknown user names (of a password nobody has).
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| auth::hash_password("tidak-ada-pengguna-ini").unwrap_or_default());

/// Log out
///
/// Revokes the token the request carries.
#[utoipa::path(
    post,
    path = "/api/logout",
    operation_id = "logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token is revoked."),
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn logout(State(state): State<AppState>, parts: axum::http::HeaderMap) -> Result<StatusCode, ApiError> {
    let hash = auth::token_hash(bearer(&parts)?.ok_or_else(bad_token)?);
    state.tokens.revoke(&Revocation::Token(hash.clone()));
    if db::users::revoke_token(&state.pool, &hash).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(bad_token())
    }
}

/// Who am I
///
/// The user of the token, with role and region.
#[utoipa::path(
    get,
    path = "/api/me",
    operation_id = "me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user.", body = UserAnswer),
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn me(auth: Auth) -> Result<Json<Value>, ApiError> {
    Ok(Json(user_json(&auth.required()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_valid_argon2_hash() {
        assert!(argon2::password_hash::PasswordHash::new(&DUMMY_HASH).is_ok());
    }
}
