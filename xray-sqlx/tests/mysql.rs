//! The suite against MySQL or MariaDB at `XRAY_TEST_MYSQL_URL`. Built without the variable, its tests show as
//! ignored, naming it.

#![cfg(feature = "mysql")]

mod common;

use std::time::Duration;

use common::UrlParts;
use sqlx::mysql::MySqlPoolOptions;

type Db = sqlx::MySql;

const VAR: &str = "XRAY_TEST_MYSQL_URL";
const ERROR_TYPE: &str = "MySqlDatabaseError";
/// The SQLSTATE of ER_PARSE_ERROR (1064).
const SYNTAX_CODE: &str = "42000";
/// The SQLSTATE of ER_DUP_ENTRY (1062).
const UNIQUE_CODE: &str = "23000";
const VERSION_SQL: &str = "SELECT @@version";

/// MySQL's placeholders are `?`.
fn dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn database_type(version: &str) -> &'static str {
    if version.contains("MariaDB") { "MariaDB" } else { "MySQL" }
}

async fn open() -> (sqlx::Pool<Db>, Expect) {
    let url = common::server_url(VAR);
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{VAR} is set but MySQL/MariaDB does not answer: {e}"));
    let parts = UrlParts::parse(&url);
    let port = parts.port.unwrap_or(3306);
    let (name, path) = match &parts.database {
        Some(database) => (format!("{database}@{}", parts.host), format!("/{database}")),
        None => (parts.host.clone(), String::new()),
    };
    (
        pool,
        Expect {
            name,
            url: format!("mysql://{}@{}:{port}{path}", parts.user, parts.host),
            user: Some(parts.user),
            cleanup: None,
        },
    )
}

/// The configured password, or one made up for the test (the server then refuses the
/// connection, which must not leak the password either).
async fn open_with_password() -> (sqlx::Pool<Db>, xray_sqlx::Options, String) {
    let parts = UrlParts::parse(&common::server_url(VAR));
    let password = parts.password.clone().unwrap_or_else(|| common::unique("s3cret"));
    let pool = MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy(&parts.with_password(&password))
        .expect("options parse");
    (pool, xray_sqlx::Options::new(), password)
}

#[test]
fn placeholders_become_question_marks() {
    assert_eq!(dialect("UPDATE t SET a = $1 WHERE b = $12"), "UPDATE t SET a = ? WHERE b = ?");
    assert_eq!(dialect("SELECT '$' || x"), "SELECT '$' || x");
}

include!("suite/mod.rs");

suite_tests!(unless xray_test_mysql, "set XRAY_TEST_MYSQL_URL to run against MySQL/MariaDB");
