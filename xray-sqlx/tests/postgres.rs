//! The suite against PostgreSQL at `XRAY_TEST_POSTGRES_URL`. Built without the variable, its tests show as
//! ignored, naming it.

#![cfg(feature = "postgres")]

mod common;

use std::time::Duration;

use common::UrlParts;
use sqlx::postgres::PgPoolOptions;

type Db = sqlx::Postgres;

const VAR: &str = "XRAY_TEST_POSTGRES_URL";
const ERROR_TYPE: &str = "PgDatabaseError";
const SYNTAX_CODE: &str = "42601";
const UNIQUE_CODE: &str = "23505";
const VERSION_SQL: &str = "SHOW server_version";

fn dialect(sql: &str) -> String {
    sql.to_owned()
}

fn database_type(_version: &str) -> &'static str {
    "PostgreSQL"
}

async fn open() -> (sqlx::Pool<Db>, Expect) {
    let url = common::server_url(VAR);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{VAR} is set but PostgreSQL does not answer: {e}"));
    let parts = UrlParts::parse(&url);
    // Without a database name, PostgreSQL uses the user's.
    let database = parts.database.clone().unwrap_or_else(|| parts.user.clone());
    let port = parts.port.unwrap_or(5432);
    (
        pool,
        Expect {
            name: format!("{database}@{}", parts.host),
            url: format!("postgres://{}@{}:{port}/{database}", parts.user, parts.host),
            user: Some(parts.user),
            cleanup: None,
        },
    )
}

/// The configured password, or (trust authentication ignores it) one made up for the test.
async fn open_with_password() -> (sqlx::Pool<Db>, xray_sqlx::Options, String) {
    let parts = UrlParts::parse(&common::server_url(VAR));
    let password = parts.password.clone().unwrap_or_else(|| common::unique("s3cret"));
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy(&parts.with_password(&password))
        .expect("options parse");
    (pool, xray_sqlx::Options::new(), password)
}

include!("suite/mod.rs");

suite_tests!(unless xray_test_postgres, "set XRAY_TEST_POSTGRES_URL to run against PostgreSQL");
