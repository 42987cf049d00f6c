//! The `users` and `api_tokens` tables.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::auth::{Caller, Revocation, Role};
use crate::region::RegionCode;

/// A user as listed.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The user.
    pub caller: Caller,
    /// Full name.
    pub full_name: String,
    /// Whether the user may log in.
    pub disabled: bool,
    /// When the user was made.
    pub created_at: DateTime<Utc>,
}

fn caller_from(row: &sqlx::postgres::PgRow) -> Result<Caller, sqlx::Error> {
    let region: Option<String> = row.try_get("region_code")?;
    Ok(Caller {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: row.try_get("role")?,
        region: region.and_then(|c| c.parse::<RegionCode>().ok()),
    })
}

/// Makes a user; returns its id. A taken name is a unique violation.
pub async fn create(
    pool: &PgPool,
    username: &str,
    full_name: &str,
    password_hash: &str,
    role: Role,
    region: Option<&RegionCode>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into users (username, full_name, password_hash, role, region_code) values ($1, $2, $3, $4, $5)
         returning id",
    )
    .bind(username)
    .bind(full_name)
    .bind(password_hash)
    .bind(role)
    .bind(region.map(RegionCode::as_str))
    .fetch_one(pool)
    .await
}

/// Every user, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<UserRow>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, username, full_name, role, region_code, disabled, created_at from users order by username",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UserRow {
                caller: caller_from(row)?,
                full_name: row.try_get("full_name")?,
                disabled: row.try_get("disabled")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Tells every server (this one too) that tokens stopped working: sent with the
/// transaction that revoked them, so delivered when it commits.
async fn notify_revoked(tx: &mut sqlx::PgConnection, revoked: &Revocation) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_notify($1, $2)").bind(super::notify::CHANNEL).bind(revoked.notice()).execute(tx).await?;
    Ok(())
}

/// Disables (or enables) a user; disabling also revokes every token, at once on every
/// server. Returns whether the user exists.
pub async fn set_disabled(pool: &PgPool, username: &str, disabled: bool) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let id: Option<i64> = sqlx::query_scalar("update users set disabled = $2 where username = $1 returning id")
        .bind(username)
        .bind(disabled)
        .fetch_optional(&mut *tx)
        .await?;
    if let (Some(id), true) = (id, disabled) {
        sqlx::query("update api_tokens set revoked_at = now() where user_id = $1 and revoked_at is null")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        notify_revoked(&mut tx, &Revocation::User(id)).await?;
    }
    tx.commit().await?;
    Ok(id.is_some())
}

/// A user who may log in, with the stored password hash.
pub async fn for_login(pool: &PgPool, username: &str) -> Result<Option<(Caller, String)>, sqlx::Error> {
    let row = sqlx::query(
        "select id, username, role, region_code, password_hash from users where username = $1 and not disabled",
    )
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.map(|row| Ok((caller_from(&row)?, row.try_get("password_hash")?))).transpose()
}

/// Stores a token (its hash) for a user.
pub async fn create_token(
    pool: &PgPool,
    user: i64,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into api_tokens (token_hash, user_id, expires_at) values ($1, $2, $3)")
        .bind(token_hash)
        .bind(user)
        .bind(expires_at)
        .execute(pool)
        .await?;
    Ok(())
}

/// The user of a live token (not expired, not revoked, user not disabled) and when the
/// token expires.
pub async fn caller_for_token(
    pool: &PgPool,
    token_hash: &[u8],
) -> Result<Option<(Caller, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query(
        "select u.id, u.username, u.role, u.region_code, t.expires_at
         from api_tokens t join users u on u.id = t.user_id
         where t.token_hash = $1 and t.revoked_at is null and t.expires_at > now() and not u.disabled",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    row.map(|row| Ok((caller_from(&row)?, row.try_get("expires_at")?))).transpose()
}

/// Revokes a token, at once on every server; returns whether it was live.
pub async fn revoke_token(pool: &PgPool, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("update api_tokens set revoked_at = now() where token_hash = $1 and revoked_at is null")
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() > 0 {
        notify_revoked(&mut tx, &Revocation::Token(token_hash.to_vec())).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// How a login attempt is limited (see migration 0041): failures allowed without a wait
/// per name and per client address, and the quiet spell that ends a streak.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures per name before attempts wait.
    pub name_free: i32,
    /// Failures per client address (of names not at home there) before attempts wait.
    pub address_free: i32,
    /// A streak of failures ends after this long without one.
    pub streak: std::time::Duration,
}

/// Takes a login attempt for `username` from `address`, atomically and before its
/// password is verified: `Some(seconds)` to wait when a limit refuses it, `None` when
/// it may go ahead (and is counted as a failure until [`login_succeeded`]).
pub async fn login_attempt(
    pool: &PgPool,
    username: &str,
    address: std::net::IpAddr,
    limits: LoginLimits,
) -> Result<Option<u64>, sqlx::Error> {
    let wait: i32 = sqlx::query_scalar("select login_attempt($1, $2::inet, $3, $4, make_interval(secs => $5))")
        .bind(username)
        .bind(address.to_string())
        .bind(limits.name_free)
        .bind(limits.address_free)
        .bind(limits.streak.as_secs_f64())
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(wait).ok().filter(|w| *w > 0))
}

/// A counted attempt succeeded: the name's failures are forgotten, the address gets
/// its count back and becomes one of the user's own.
pub async fn login_succeeded(
    pool: &PgPool,
    caller: &Caller,
    address: std::net::IpAddr,
    limits: LoginLimits,
) -> Result<(), sqlx::Error> {
    sqlx::query("select login_succeeded($1, $2, $3::inet, $4)")
        .bind(&caller.username)
        .bind(caller.id)
        .bind(address.to_string())
        .bind(limits.address_free)
        .execute(pool)
        .await?;
    Ok(())
}
