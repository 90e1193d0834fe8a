//! The suite against SQLite (always).

#![cfg(feature = "sqlite")]

mod common;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

type Db = sqlx::Sqlite;

const ERROR_TYPE: &str = "SqliteError";
/// SQLITE_ERROR.
const SYNTAX_CODE: &str = "1";
/// SQLITE_CONSTRAINT_UNIQUE.
const UNIQUE_CODE: &str = "2067";
const VERSION_SQL: &str = "SELECT sqlite_version()";

fn dialect(sql: &str) -> String {
    sql.to_owned()
}

fn database_type(_version: &str) -> &'static str {
    "SQLite"
}

/// A fresh database file.
async fn open() -> (sqlx::Pool<Db>, Expect) {
    let file_name = format!("{}.db", common::unique("xray-sqlx"));
    let path = std::env::temp_dir().join(&file_name);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(SqliteConnectOptions::new().filename(&path).create_if_missing(true))
        .await
        .expect("open SQLite file");
    (pool, Expect { name: file_name, url: format!("sqlite://{}", path.display()), user: None, cleanup: Some(path) })
}

/// SQLite has no password; the URL the application records may still carry secrets.
async fn open_with_password() -> (sqlx::Pool<Db>, xray_sqlx::Options, String) {
    let password = common::unique("s3cret");
    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    let options = xray_sqlx::Options::new()
        .with_url(&format!("sqlite://admin:{password}@/var/data/app.db?token={password}&mode=ro"));
    (pool, options, password)
}

include!("suite/mod.rs");

suite_tests!(always);

#[tokio::test]
async fn in_memory_database_and_name_override() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    let version: String = sqlx::query_scalar(VERSION_SQL).fetch_one(&pool).await.unwrap();
    let default = TracedPool::new(pool.clone(), Options::new());
    let named = TracedPool::new(pool, Options::new().with_name("sessions"));
    let (_, doc) = Capture::new()
        .run(async {
            sqlx::query("SELECT 1").execute(&default).await.unwrap();
            sqlx::query("SELECT 1").execute(&named).await.unwrap();
        })
        .await;
    let sql = json!({
        "url": "sqlite::memory:",
        "database_type": "SQLite",
        "database_version": version,
        "driver_version": "sqlx-0.9",
        "preparation": "statement",
    });
    let expected = |name: &str| {
        json!({"name": name, "id": "<id>", "start_time": "<start_time>", "end_time": "<end_time>",
            "namespace": "remote", "sql": sql})
    };
    let masked: Vec<Value> = subsegments(&doc).iter().map(xray_tests::mask).collect();
    assert_eq!(masked, [expected(":memory:"), expected("sessions")]);
}

#[tokio::test]
async fn concurrent_statements_all_carry_the_version() {
    use xray_core::TraceFutureExt;

    let db = Setup::new().await;
    let pool = db.traced(Options::new());
    let (sums, doc) = Capture::new()
        .run(async {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..8_i64 {
                let pool = pool.clone();
                tasks.spawn(
                    async move { sqlx::query_scalar::<_, i64>("SELECT $1 + 1").bind(i).fetch_one(&pool).await.unwrap() }
                        .in_current_trace(),
                );
            }
            let mut sums = tasks.join_all().await;
            sums.sort();
            sums
        })
        .await;
    assert_eq!(sums, (1..=8).collect::<Vec<i64>>());
    let masked: Vec<Value> = subsegments(&doc).iter().map(xray_tests::mask).collect();
    assert_eq!(masked, vec![db.expected("statement", None); 8]);
    db.finish().await;
}
