// The tests every database runs. Each `tests/<database>.rs` defines `Db`, the dialect
// (`dialect`, `ERROR_TYPE`, `SYNTAX_CODE`, `UNIQUE_CODE`, `VERSION_SQL`, `database_type`),
// `open()` and `open_with_password()`, includes this file, then declares the tests with
// `suite_tests!`: `always` (SQLite), or `unless CFG, "REASON"` for a server database, whose tests
// show as ignored with REASON unless build.rs set CFG (the server's URL variable was set).

use futures_core::Stream;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Executor, Pool, Row};
use xray_sqlx::{Options, TracedPool};

use common::{Capture, ended_subsegments, queries, run_unsampled, subsegments, unique};

/// What the subsegments of this database must say, and a fresh table to work in.
struct Setup {
    raw: Pool<Db>,
    table: String,
    name: String,
    url: String,
    user: Option<String>,
    version: String,
    database_type: String,
    cleanup: Option<std::path::PathBuf>,
}

/// What `open()` knows about the target before any query.
struct Expect {
    name: String,
    url: String,
    user: Option<String>,
    cleanup: Option<std::path::PathBuf>,
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Person {
    id: i64,
    name: String,
}

impl Setup {
    /// A fresh table in this run's database.
    async fn new() -> Self {
        let (raw, expect) = open().await;
        let version: String = sqlx::query_scalar(VERSION_SQL).fetch_one(&raw).await.expect("version query");
        let table = unique("xray");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE)"
        )))
        .execute(&raw)
        .await
        .expect("create table");
        Self {
            raw,
            table,
            name: expect.name,
            url: expect.url,
            user: expect.user,
            database_type: database_type(&version).to_owned(),
            version,
            cleanup: expect.cleanup,
        }
    }

    fn traced(&self, options: Options) -> TracedPool<Db> {
        TracedPool::new(self.raw.clone(), options)
    }

    fn sql(&self, text: &str) -> String {
        dialect(&text.replace("{t}", &self.table))
    }

    async fn insert(&self, id: i64, name: &str) {
        sqlx::query(AssertSqlSafe(self.sql("INSERT INTO {t} (id, name) VALUES ($1, $2)")))
            .bind(id)
            .bind(name)
            .execute(&self.raw)
            .await
            .expect("insert");
    }

    async fn names(&self) -> Vec<String> {
        sqlx::query_scalar(AssertSqlSafe(self.sql("SELECT name FROM {t} ORDER BY id")))
            .fetch_all(&self.raw)
            .await
            .expect("select names")
    }

    /// The subsegment a successful statement must produce, masked.
    fn expected(&self, preparation: &str, query: Option<&str>) -> Value {
        let mut sql = json!({
            "url": self.url,
            "database_type": self.database_type,
            "database_version": self.version,
            "driver_version": "sqlx-0.9",
            "preparation": preparation,
        });
        if let Some(user) = &self.user {
            sql["user"] = json!(user);
        }
        if let Some(query) = query {
            sql["sanitized_query"] = json!(query);
        }
        json!({
            "name": self.name,
            "id": "<id>",
            "start_time": "<start_time>",
            "end_time": "<end_time>",
            "namespace": "remote",
            "sql": sql,
        })
    }

    async fn finish(self) {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {}", self.table))).execute(&self.raw).await.expect("drop table");
        self.raw.close().await;
        if let Some(file) = self.cleanup {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Checks a failed statement's subsegment and returns its one exception.
fn assert_fault(sub: &Value, code: &str) -> Value {
    assert_eq!(sub["fault"], true, "{sub:#}");
    assert_eq!(sub["namespace"], "remote");
    assert!(sub.get("error").is_none() && sub.get("throttle").is_none(), "{sub:#}");
    let exceptions = sub["cause"]["exceptions"].as_array().expect("cause with exceptions");
    assert_eq!(exceptions.len(), 1, "{sub:#}");
    let ex = exceptions[0].clone();
    assert_eq!(ex["type"], ERROR_TYPE);
    assert_eq!(ex["remote"], true);
    let message = ex["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{code}: ")) && message.len() > code.len() + 2, "{message}");
    ex
}

/// The suite's test bodies, each run by the test of the same name that `suite_tests!` declares.
mod cases {
    use super::*;

    include!("statements.rs");
    include!("connections.rs");
    include!("errors.rs");
}

/// Declares one `#[tokio::test]` per function of `cases`: `always` runs them; `unless CFG,
/// "REASON"` marks them ignored, with REASON, when CFG is not set.
macro_rules! suite_tests {
    (always) => {
        suite_tests!(@each all(), "");
    };
    (unless $configured:meta, $reason:literal) => {
        suite_tests!(@each $configured, $reason);
    };
    (@each $configured:meta, $reason:literal) => {
        suite_tests!(@tests $configured, $reason, [
            select_insert_update_have_exact_fields,
            text_statements_are_calls_and_prepared_ones_statements,
            syntax_error_is_a_remote_fault_with_the_database_code,
            constraint_violation_is_a_remote_fault,
            row_not_found_is_not_a_fault,
            typed_queries_run_unchanged,
            query_text_only_when_opted_in_and_binds_never,
            no_password_in_any_document,
            outside_a_trace_and_unsampled_statements_go_straight_through,
            transaction_commit_traces_every_statement_on_the_transaction,
            transaction_rollback_and_savepoints,
            acquired_connection_is_traced,
            stream_ends_its_subsegment_when_consumed,
            stream_ends_its_subsegment_when_dropped,
            unique_violation_records_the_code_but_not_the_value,
            check_violation_records_the_code_but_not_the_value,
            unconvertible_value_records_the_code_but_not_the_value,
        ]);
    };
    (@tests $configured:meta, $reason:literal, [$($name:ident),* $(,)?]) => {
        $(
            #[tokio::test]
            #[cfg_attr(not($configured), ignore = $reason)]
            async fn $name() {
                cases::$name().await;
            }
        )*
    };
}
