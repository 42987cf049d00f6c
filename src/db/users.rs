//! The `users` and `api_tokens` tables.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use crate::auth::{Caller, Role};
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

/// Disables (or enables) a user; disabling also revokes every token. Returns whether
/// the user exists.
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

/// The user of a live token: not expired, not revoked, user not disabled.
pub async fn caller_for_token(pool: &PgPool, token_hash: &[u8]) -> Result<Option<Caller>, sqlx::Error> {
    let row = sqlx::query(
        "select u.id, u.username, u.role, u.region_code
         from api_tokens t join users u on u.id = t.user_id
         where t.token_hash = $1 and t.revoked_at is null and t.expires_at > now() and not u.disabled",
    )
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(caller_from).transpose()
}

/// Revokes a token; returns whether it was live.
pub async fn revoke_token(pool: &PgPool, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("update api_tokens set revoked_at = now() where token_hash = $1 and revoked_at is null")
        .bind(token_hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
