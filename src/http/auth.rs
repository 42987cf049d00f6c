//! `/api/login`, `/api/logout`, `/api/me`, and the bearer-token extractor every handler
//! uses to know its caller.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::AppState;
use crate::auth::{self, Caller, Role};
use crate::db;
use crate::region::RegionCode;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout)).routes(routes!(me))
}

/// The caller, from `Authorization: Bearer <token>`; `None` without the header. A
/// header with an unknown, expired or revoked token is refused (401), never taken as
/// anonymous.
#[derive(Debug, Clone)]
pub struct Auth(pub Option<Caller>);

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
        let Some(token) = bearer(&parts.headers)? else { return Ok(Auth(None)) };
        let hash = auth::token_hash(token);
        if let Some(caller) = state.tokens.get(&hash) {
            return Ok(Auth(Some(caller)));
        }
        let caller = db::users::caller_for_token(&state.pool, &hash).await?.ok_or_else(bad_token)?;
        state.tokens.put(hash, caller.clone());
        Ok(Auth(Some(caller)))
    }
}

/// Recently checked tokens, so that a map's tile requests do not each ask the
/// database. An entry lives [`TOKEN_CACHE_TTL`]: a token revoked on another server, or
/// a user disabled from the command line, stops working within that time (at once on
/// the server that logged it out).
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<Vec<u8>, (Caller, Instant)>>);

/// How long a checked token is trusted without asking the database again.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (Caller, Instant)>> {
        crate::sync::lock(&self.0)
    }

    fn get(&self, hash: &[u8]) -> Option<Caller> {
        let map = self.lock();
        let (caller, at) = map.get(hash)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| caller.clone())
    }

    fn put(&self, hash: Vec<u8>, caller: Caller) {
        let mut map = self.lock();
        if map.len() > 10_000 {
            map.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
        }
        map.insert(hash, (caller, Instant::now()));
    }

    fn forget(&self, hash: &[u8]) {
        self.lock().remove(hash);
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

/// Failed logins per user name: after [`FREE_FAILURES`], each further attempt must wait
/// twice as long as the one before (1 s, 2 s, 4 s ... at most 5 min).
#[derive(Default)]
pub struct Logins(Mutex<HashMap<String, (u32, Instant)>>);

const FREE_FAILURES: u32 = 3;

impl Logins {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        crate::sync::lock(&self.0)
    }

    /// How long the name must still wait, if at all.
    fn wait(&self, username: &str) -> Option<Duration> {
        let (failures, last) = *self.lock().get(username)?;
        let delay = Self::delay(failures)?;
        delay.checked_sub(last.elapsed()).filter(|d| !d.is_zero())
    }

    fn delay(failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(FREE_FAILURES)?;
        Some(Duration::from_secs(1u64 << over.min(9)).min(Duration::from_secs(300)))
    }

    fn failed(&self, username: &str) {
        let mut map = self.lock();
        if map.len() > 100_000 {
            map.retain(|_, (_, last)| last.elapsed() < Duration::from_secs(3600));
        }
        let entry = map.entry(username.to_owned()).or_insert((0, Instant::now()));
        *entry = (entry.0 + 1, Instant::now());
    }

    fn succeeded(&self, username: &str) {
        self.lock().remove(username);
    }
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
/// failures for a name are slowed down: after three, each attempt waits twice as long
/// as the one before (429 with Retry-After).
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
async fn login(State(state): State<AppState>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let body: LoginBody = super::incidents::json_body(&body)?;
    if let Some(wait) = state.logins.wait(&body.username) {
        let seconds = wait.as_secs().max(1);
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
        return Ok(response);
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
        state.logins.failed(&body.username);
        return Err(ApiError::unauthorized("Nama pengguna atau kata sandi salah.", "Wrong user name or password."));
    };
    state.logins.succeeded(&body.username);
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
    state.tokens.forget(&hash);
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
    fn failures_beyond_three_wait_twice_as_long_each_time() {
        assert_eq!(Logins::delay(3), Some(Duration::from_secs(1)));
        assert_eq!(Logins::delay(5), Some(Duration::from_secs(4)));
        assert_eq!(Logins::delay(2), None);
        assert_eq!(Logins::delay(40), Some(Duration::from_secs(300)));
        let logins = Logins::default();
        for _ in 0..4 {
            logins.failed("x");
        }
        assert!(logins.wait("x").is_some());
        assert!(logins.wait("y").is_none());
        logins.succeeded("x");
        assert!(logins.wait("x").is_none());
    }

    #[test]
    fn the_dummy_hash_is_a_valid_argon2_hash() {
        assert!(argon2::password_hash::PasswordHash::new(&DUMMY_HASH).is_ok());
    }
}
