//! # xray-sqlx
//!
//! AWS X-Ray subsegments for [sqlx](https://docs.rs/sqlx) statements. sqlx has no query hooks,
//! so this crate wraps the pool: wrap it once with [`TracedPool::new`] and pass `&pool` where
//! you passed `&pool` before. `sqlx::query(..)`, `query_as`, `query_scalar`, `raw_sql`, the
//! `query!` macros, `execute`, `fetch_one`, `fetch_optional`, `fetch_all` and `fetch` streams
//! all work unchanged.
//!
#![cfg_attr(feature = "sqlite", doc = "```")]
#![cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
//! use std::sync::Arc;
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder, TraceFutureExt};
//! use xray_sqlx::{Options, TracedPool};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sqlx::Error> {
//! let emitter = Arc::new(MemoryEmitter::new());
//! let recorder = Recorder::builder()
//!     .with_service_name("user-management")
//!     .with_sampler(AlwaysSample)
//!     .with_emitter(emitter.clone())
//!     .build()
//!     .unwrap();
//!
//! let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! let db = TracedPool::new(pool, Options::new().with_collect_queries(true));
//!
//! let segment = recorder.new_segment("user-management");
//! async {
//!     // Query code as usual.
//!     let n: i64 = sqlx::query_scalar("SELECT $1 + 1").bind(41_i64).fetch_one(&db).await?;
//!     assert_eq!(n, 42);
//!     let mut tx = db.begin().await?;
//!     sqlx::query("CREATE TABLE users (name TEXT)").execute(&mut *tx).await?;
//!     tx.commit().await
//! }
//! .with_entity(segment.entity())
//! .await?;
//! segment.end();
//!
//! let subsegments = emitter.documents()[0]["subsegments"].as_array().unwrap().clone();
//! let names: Vec<_> = subsegments.iter().map(|s| s["sql"]["sanitized_query"].as_str().unwrap()).collect();
//! assert_eq!(names, ["SELECT $1 + 1", "BEGIN", "CREATE TABLE users (name TEXT)", "COMMIT"]);
//! assert_eq!(subsegments[0]["name"], ":memory:");
//! assert_eq!(subsegments[0]["namespace"], "remote");
//! assert_eq!(subsegments[0]["sql"]["database_type"], "SQLite");
//! assert_eq!(subsegments[0]["sql"]["preparation"], "statement");
//! # Ok(()) }
//! ```
//!
//! ## What is recorded
//!
//! One subsegment per statement (and per `BEGIN`, `COMMIT`, `ROLLBACK`), under the current
//! entity, named `database@host` (SQLite: the database file's name; [`Options::with_name`]
//! overrides), with namespace `remote` and an `sql` block:
//!
//! | field | value |
//! |---|---|
//! | `url` | `scheme://user@host:port/database`, built from the pool's connect options; never a password |
//! | `user` | the database user |
//! | `database_type` | `PostgreSQL`, `MySQL`, `MariaDB` or `SQLite` |
//! | `database_version` | the server's version, asked once per pool (below) |
//! | `driver_version` | `sqlx-0.9` |
//! | `preparation` | `statement` when sqlx prepares the statement, `call` when it sends text |
//! | `sanitized_query` | the statement text, only when opted in |
//!
//! **Preparation.** sqlx prepares a statement exactly when it carries an arguments object:
//! `sqlx::query`, `query_as`, `query_scalar` and the `query!` macros, with or without binds,
//! and statements prepared explicitly. Those are `statement`. A plain string or `raw_sql` goes
//! through the simple (text) protocol: `call`. `BEGIN`, `COMMIT` and `ROLLBACK` are `call`.
//!
//! **Query text** goes into `sanitized_query` only with [`Options::with_collect_queries`] or,
//! by default, when the recorder collects SQL (`AWS_XRAY_COLLECT_SQL_QUERIES=true`). It is the
//! text as written, with its placeholders. Bind values are never recorded.
//!
//! **Database version.** The first traced statement of a pool (or the first traced
//! [`acquire`](TracedPool::acquire) / [`begin`](TracedPool::begin)) waits for one small
//! version query, which statements issued meanwhile share; afterwards every statement copies
//! the cached value and nothing else waits. If the lookup fails or takes over 5 seconds,
//! statements leave the version out, and the next lookup may start a minute later.
//! [`TracedPool::new`] itself does no I/O.
//!
//! **Errors.** A database error makes the subsegment a fault with a `cause`: one exception of
//! type `PgDatabaseError`, `MySqlDatabaseError` or `SqliteError`, message `code: message`
//! (SQLSTATE, or SQLite's extended result code), `remote: true`. The message names what failed
//! (constraint, key, column, type) but not the value: quoted values become `?`, as in
//! `23000: Duplicate entry '?' for key 'email'`, and PostgreSQL's `detail` (`Key (email)=(…)`)
//! is never recorded. Connection and pool errors (I/O, TLS, protocol, pool timeout) are remote
//! faults too; encoding and decoding errors are faults that are not remote. `RowNotFound` is an answer, not a failure: no fault.
//!
//! **Streams** (`fetch`, `fetch_many`) end their subsegment when they end or are dropped.
//!
//! **Outside a sampled trace** every call goes straight to the wrapped pool or connection:
//! no subsegment, no allocation, no version lookup.
//!
//! ## Connections and transactions
//!
//! [`TracedPool::acquire`] returns a [`TracedConnection`] and [`TracedPool::begin`] a
//! [`TracedTransaction`]. As with sqlx 0.9's own types, statements run on `&mut *conn` /
//! `&mut *tx`, which here is a [`TracedConn`], the traced executor; `&mut tx` works too.
//! `&mut **tx` is the raw driver connection, untraced.
//!
//! Not provided, because sqlx 0.9's traits rule them out:
//! - `TracedPool` implements no `sqlx::Acquire`: that trait's connection must dereference to
//!   the raw driver connection, so `&mut *conn` could not be traced. Use the inherent
//!   [`acquire`](TracedPool::acquire) and [`begin`](TracedPool::begin).
//! - A generic `impl<DB> Executor for &TracedPool<DB>`: the bound `&mut DB::Connection:
//!   Executor` overflows the trait solver for wrapper types (sqlx 0.9 dropped its own
//!   `Transaction` and `PoolConnection` executors for this reason), so the implementations
//!   are written per database, like sqlx's. [`TracedDatabase`] names the three.
//!
//! ## Features
//!
//! `postgres`, `mysql` (also MariaDB) and `sqlite` select the databases; none is on by default.
//! sqlx's `macros` feature is always on: it is what switches `offline` on for sqlx-core and
//! every enabled driver together, and `Executor::describe` exists only with `offline`, so an
//! `Executor` implementation must have it whatever the rest of the build selects.

// Without a database feature there is nothing to trace, and most of the crate is unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros)
)]

mod call;
mod conn_string;
mod connection;
mod database;
mod executor;
mod message;
mod options;
mod pool;
mod shared;
mod stream;
mod url;
mod version;

pub use connection::{TracedConn, TracedConnection, TracedTransaction};
pub use database::TracedDatabase;
pub use options::Options;
pub use pool::TracedPool;
pub use url::sanitize_url;
