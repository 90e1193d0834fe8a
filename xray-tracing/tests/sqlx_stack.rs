//! xray-sqlx in the same subscriber as the layer, with sqlx's own statement logging raised to
//! INFO: every statement (SQLite) is one subsegment, under the `#[instrument]`ed function that
//! ran it, never two. Its own test binary, since it installs the process's subscriber.

use std::str::FromStr;

use serde_json::Value;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tracing::level_filters::LevelFilter;
use tracing::{Instrument, instrument};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use xray_core::TraceFutureExt;
use xray_core::test::Capture;
use xray_sqlx::{Options, TracedPool};

mod common;

use common::{Seen, tree};

#[instrument(skip_all, fields(xray.annotation.user = user))]
async fn create_user(db: &TracedPool<sqlx::Sqlite>, user: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("CREATE TABLE users (name TEXT)").execute(db).await?;
    sqlx::query("INSERT INTO users (name) VALUES (?)").bind(user).execute(db).await?;
    // A failing statement: recorded once, as a fault of its own subsegment.
    let missing = sqlx::query("SELECT * FROM no_such_table").fetch_all(db).await;
    assert!(missing.is_err());
    sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(db).await
}

#[tokio::test]
async fn sqlx_statements_through_xray_sqlx_are_one_subsegment_each() {
    // sqlx logs every statement as an INFO event here (DEBUG by default); the layer runs with
    // its defaults and then as permissive as it gets short of its exclusions (every level).
    let connect = SqliteConnectOptions::from_str("sqlite::memory:").unwrap().log_statements(log::LevelFilter::Info);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(connect).await.unwrap();
    let db = TracedPool::new(pool, Options::new().with_collect_queries(true));

    // The process's subscriber (sqlx's SQLite worker thread logs through the global one), with
    // the X-Ray layer behind a reload handle so that both of its settings run.
    let seen = Seen::default();
    let (xray, handle) = reload::Layer::new(xray_tracing::layer());
    tracing_subscriber::registry().with(seen.clone()).with(xray).init();

    for xray in [xray_tracing::layer(), xray_tracing::layer().with_max_level(LevelFilter::TRACE)] {
        handle.reload(xray).unwrap();
        seen.events.lock().unwrap().clear();
        let capture = Capture::new();
        sqlx::query("DROP TABLE IF EXISTS users").execute(db.inner()).await.unwrap();

        let segment = capture.recorder().new_segment("users");
        let count = async {
            let count = create_user(&db, "ada").await.unwrap();
            // The same pool from a spawned task that carries its own span.
            let db = db.clone();
            tokio::spawn(
                async move { sqlx::query("SELECT 1").execute(&db).await.unwrap() }
                    .instrument(tracing::info_span!("audit")),
            )
            .await
            .unwrap();
            count
        }
        .with_entity(segment.entity())
        .await;
        seen.wait_all_closed();
        segment.end();
        assert_eq!(count, 1);
        assert!(seen.events("sqlx::query") >= 5, "sqlx logged its statements in this subscriber");

        let (doc, subs) = tree(&capture);
        let shape: Vec<(&str, &str)> = subs
            .iter()
            .map(|(parent, s)| (parent.as_str(), s["sql"]["sanitized_query"].as_str().or(s["name"].as_str()).unwrap()))
            .collect();
        assert_eq!(
            shape,
            [
                ("users", "create_user"),
                ("create_user", "CREATE TABLE users (name TEXT)"),
                ("create_user", "INSERT INTO users (name) VALUES (?)"),
                ("create_user", "SELECT * FROM no_such_table"),
                ("create_user", "SELECT count(*) FROM users"),
                ("users", "audit"),
                ("audit", "SELECT 1"),
            ],
            "{doc:#}"
        );
        let statements: Vec<&Value> = subs.iter().map(|(_, s)| s).filter(|s| s.get("sql").is_some()).collect();
        assert_eq!(statements.len(), 5);
        assert!(statements.iter().all(|s| s["namespace"] == "remote" && s["name"] == ":memory:"));
        assert_eq!(statements[2]["fault"], true, "{:#}", statements[2]);
        assert_eq!(subs[0].1["annotations"]["user"], "ada");
        // The failed statement's error is its own subsegment's; sqlx logs no ERROR event for it
        // that would add it to the function's cause as well.
        assert!(subs[0].1.get("cause").is_none() && subs[0].1.get("fault").is_none(), "{:#}", subs[0].1);
    }
}
