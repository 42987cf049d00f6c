//! The server every test of tests/incidents.rs shares: one database with the real
//! boundaries, the users of each role (the first nasional user made by the command
//! line, as an administrator would), and their tokens. Built once, on a thread of its
//! own, since every test runs on its own runtime; the server lives until the test
//! process ends.

use std::collections::HashMap;
use std::sync::OnceLock;

use sipks::auth::{hash_password, Role};
use sipks::region::RegionCode;
use sqlx::PgPool;

use crate::api::Api;
use crate::common::{imported_db, run_sipks, Server};

/// Every user's password.
pub const PASSWORD: &str = "rahasia-uji-12345";

/// nasional, made with `sipks users add`.
pub const NASIONAL: &str = "nasional.pusat";
/// kabupaten_kota of Kota Makassar (73.71), made with `sipks users add`.
pub const MAKASSAR: &str = "op.makassar";
/// provinsi of Sulawesi Selatan (73).
pub const SULSEL: &str = "op.sulsel";
/// analis (reads everything, writes nothing).
pub const ANALIS: &str = "analis.gis";

/// Users the tests log in themselves (each test its own, since they log out, fail,
/// expire or get disabled), all kabupaten_kota of 73.71.
pub const OWN_USERS: [&str; 4] = ["op.lockout", "op.logout", "op.expired", "op.disabled"];

pub struct Fixture {
    pub server: Server,
    pub database_url: String,
    tokens: HashMap<&'static str, String>,
}

impl Fixture {
    /// The token of one of the shared users.
    pub fn token(&self, user: &str) -> &str {
        self.tokens.get(user).unwrap_or_else(|| panic!("no shared user {user}"))
    }

    pub fn api(&self) -> Api {
        Api::new(&self.server.base)
    }

    /// A pool on this test's runtime.
    pub async fn pool(&self) -> PgPool {
        sipks::db::connect(&self.database_url, 2).await.expect("connect to the test database")
    }
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// The shared server, built by the first test that asks.
pub fn fixture() -> &'static Fixture {
    crate::common::shared(&FIXTURE, build)
}

async fn build() -> Fixture {
    let db = imported_db().await;
    for (user, args) in [
        (NASIONAL, &["--role", "nasional", "--name", "Direktorat Pusat"][..]),
        (MAKASSAR, &["--role", "kabupaten_kota", "--kode", "73.71", "--name", "Kesbangpol Kota Makassar"][..]),
    ] {
        let mut all = vec!["users", "add", user];
        all.extend_from_slice(args);
        let out = run_sipks(&db.url, &all, &[("SIPKS_PASSWORD", PASSWORD)]);
        assert!(out.status.success(), "sipks users add {user}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let code = |c: &str| c.parse::<RegionCode>().expect("code");
    let hash = hash_password(PASSWORD).expect("hash");
    let mut others = vec![(SULSEL, Role::Provinsi, Some(code("73"))), (ANALIS, Role::Analis, None)];
    others.extend(OWN_USERS.map(|u| (u, Role::KabupatenKota, Some(code("73.71")))));
    for (user, role, region) in others {
        sipks::db::users::create(&db.pool, user, "", &hash, role, region.as_ref()).await.expect("create user");
    }
    let server = Server::start_for_process(&db).await;
    db.pool.close().await;
    let api = Api::new(&server.base);
    let mut tokens = HashMap::new();
    for user in [NASIONAL, MAKASSAR, SULSEL, ANALIS] {
        tokens.insert(user, api.token(user, PASSWORD).await);
    }
    Fixture { server, database_url: db.url, tokens }
}
