//! Users, roles and region scopes; password hashing (argon2id) and bearer tokens.
//!
//! Roles: `nasional` reads and writes everything; `provinsi` reads and writes its
//! province's subtree; `kabupaten_kota` its regency or city; `analis` reads everything
//! and writes nothing (GIS teams). Without a token a client is anonymous: it sees the
//! risk of regions (aggregates) but no incident.

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::region::RegionCode;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "user_role", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Nasional,
    /// One province's subtree.
    Provinsi,
    /// One regency or city.
    KabupatenKota,
    /// Reads everything, writes nothing.
    Analis,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Nasional, Role::Provinsi, Role::KabupatenKota, Role::Analis];

    /// The name in the database, the API and the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Nasional => "nasional",
            Role::Provinsi => "provinsi",
            Role::KabupatenKota => "kabupaten_kota",
            Role::Analis => "analis",
        }
    }

    /// Whether users of this role work in one region (and need its code).
    pub fn is_regional(self) -> bool {
        matches!(self, Role::Provinsi | Role::KabupatenKota)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?} (expected one of: nasional, provinsi, kabupaten_kota, analis)"))
    }
}

/// What a caller may see of incidents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// No incident (anonymous).
    Nothing,
    /// Every incident.
    Everything,
    /// Incidents within this region (its whole subtree).
    Within(RegionCode),
}

impl Scope {
    /// Whether an incident assigned to these regions (district, regency, province; any
    /// may be missing) is in scope.
    pub fn covers(&self, codes: &[Option<&RegionCode>]) -> bool {
        match self {
            Scope::Nothing => false,
            Scope::Everything => true,
            Scope::Within(root) => codes.iter().flatten().any(|c| c.is_within(root)),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The region of a provinsi or kabupaten_kota user.
    pub region: Option<RegionCode>,
}

impl Caller {
    /// What this caller reads.
    pub fn read_scope(&self) -> Scope {
        match (&self.role, &self.region) {
            (Role::Nasional | Role::Analis, _) => Scope::Everything,
            (_, Some(region)) => Scope::Within(region.clone()),
            (_, None) => Scope::Nothing,
        }
    }

    /// What this caller may write (create in, edit, move into, delete from).
    pub fn write_scope(&self) -> Scope {
        match self.role {
            Role::Analis => Scope::Nothing,
            _ => self.read_scope(),
        }
    }
}

/// The read scope of an optional caller (anonymous: nothing).
pub fn read_scope(caller: Option<&Caller>) -> Scope {
    caller.map_or(Scope::Nothing, Caller::read_scope)
}

/// Hashes a password with argon2id (default parameters, random salt) into a PHC
/// string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Whether a password matches a stored PHC hash (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new bearer token: 32 random bytes, hex.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// What is stored of a token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Tokens that stopped working, as the servers on a database tell each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One token (by its stored hash): logged out.
    Token(Vec<u8>),
    /// Every token of a user: disabled.
    User(i64),
    /// Unknown: notices may have been missed (the connection to the database dropped);
    /// every token must be checked again.
    Unknown,
}

impl Revocation {
    /// Whether a token (its hash) of user `user` is among those revoked; `None` when
    /// that cannot be told without asking the database.
    pub fn covers(&self, hash: &[u8], user: i64) -> Option<bool> {
        match self {
            Revocation::Token(revoked) => Some(revoked == hash),
            Revocation::User(revoked) => Some(*revoked == user),
            Revocation::Unknown => None,
        }
    }

    /// The notice that tells the other servers (see [`Revocation::parse`]).
    pub fn notice(&self) -> String {
        match self {
            Revocation::Token(hash) => format!("revoke:token:{}", hex::encode(hash)),
            Revocation::User(id) => format!("revoke:user:{id}"),
            Revocation::Unknown => "revoke:unknown".to_owned(),
        }
    }

    /// A notice of [`Revocation::notice`]; `None` for another kind of notice.
    pub fn parse(notice: &str) -> Option<Revocation> {
        let what = notice.strip_prefix("revoke:")?;
        if let Some(hash) = what.strip_prefix("token:") {
            return hex::decode(hash).ok().map(Revocation::Token);
        }
        if let Some(id) = what.strip_prefix("user:") {
            return id.parse().ok().map(Revocation::User);
        }
        // Anything else that says "revoke" is taken as a reason to check every token.
        Some(Revocation::Unknown)
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("rahasia-sekali-123").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("rahasia-sekali-123", &hash));
        assert!(!verify_password("rahasia-sekali-124", &hash));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(hash, hash_password("rahasia-sekali-123").expect("hash"), "salted");
    }

    #[test]
    fn scopes_cover_their_subtree_only() {
        let code = |s: &str| s.parse::<RegionCode>().expect("code");
        let makassar = Scope::Within(code("73.71"));
        assert!(makassar.covers(&[Some(&code("73.71.01")), Some(&code("73.71")), Some(&code("73"))]));
        assert!(!makassar.covers(&[Some(&code("31.71.01")), Some(&code("31.71")), Some(&code("31"))]));
        assert!(Scope::Everything.covers(&[None]));
        assert!(!Scope::Nothing.covers(&[Some(&code("73.71"))]));
        let analis = Caller { id: 1, username: "gis".into(), role: Role::Analis, region: None };
        assert_eq!((analis.read_scope(), analis.write_scope()), (Scope::Everything, Scope::Nothing));
    }

    #[test]
    fn revocation_notices_read_back() {
        let hash = token_hash("abc");
        for revoked in [Revocation::Token(hash.clone()), Revocation::User(42), Revocation::Unknown] {
            assert_eq!(Revocation::parse(&revoked.notice()), Some(revoked.clone()));
        }
        assert_eq!(Revocation::parse("incident:1:ff"), None);
        assert_eq!(Revocation::Token(hash.clone()).covers(&hash, 1), Some(true));
        assert_eq!(Revocation::Token(hash.clone()).covers(&token_hash("x"), 1), Some(false));
        assert_eq!(Revocation::User(42).covers(&hash, 42), Some(true));
        assert_eq!(Revocation::Unknown.covers(&hash, 42), None);
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, b) = (new_token().expect("token"), new_token().expect("token"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
