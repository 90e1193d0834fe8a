//! The demo's storage: users and the notification outbox, through `xray-sqlx` on SQLite by
//! default, or on PostgreSQL or MySQL when `DATABASE_URL` names one.

use serde::Serialize;
use sqlx::{MySql, Postgres, Sqlite};
use xray_sqlx::{Options, TracedPool};

/// A user of the user-management service.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    /// The id.
    pub id: i64,
    /// The display name.
    pub name: String,
    /// Where notifications go.
    pub email: String,
}

/// A traced pool on one of the three databases.
#[derive(Clone)]
pub enum Store {
    /// SQLite (the default: a file in the temporary directory).
    Sqlite(TracedPool<Sqlite>),
    /// PostgreSQL.
    Postgres(TracedPool<Postgres>),
    /// MySQL or MariaDB.
    MySql(TracedPool<MySql>),
}

/// Runs `$body` with `$pool` bound to whichever traced pool the store holds.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
            Store::MySql($pool) => $body,
        }
    };
}

impl Store {
    /// Connects to `url` (`sqlite:`, `postgres:` or `mysql:`) and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = Options::new().with_collect_queries(true);
        let store = if url.starts_with("postgres") {
            Self::Postgres(TracedPool::new(sqlx::PgPool::connect(url).await?, options))
        } else if url.starts_with("mysql") || url.starts_with("mariadb") {
            Self::MySql(TracedPool::new(sqlx::MySqlPool::connect(url).await?, options))
        } else {
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
            let pool = sqlx::sqlite::SqlitePoolOptions::new().connect_with(opts.create_if_missing(true)).await?;
            Self::Sqlite(TracedPool::new(pool, options))
        };
        // Schema set-up happens outside any trace, so it records nothing.
        with_pool!(&store, pool => {
            sqlx::raw_sql(
                "CREATE TABLE IF NOT EXISTS xray_demo_users (id BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(200) NOT NULL);
                 CREATE TABLE IF NOT EXISTS xray_demo_outbox (id BIGINT PRIMARY KEY, recipient VARCHAR(200) NOT NULL, message VARCHAR(2000) NOT NULL);",
            )
            .execute(pool)
            .await?;
        });
        Ok(store)
    }

    /// A SQLite database file of its own in the temporary directory.
    pub fn sqlite_url(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("xray-demo-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        format!("sqlite://{}", dir.join(name).display())
    }

    /// The statement for this database: `$n` placeholders (PostgreSQL, SQLite) or `?` (MySQL).
    fn pick(&self, dollar: &'static str, question: &'static str) -> &'static str {
        if matches!(self, Self::MySql(_)) { question } else { dollar }
    }

    /// Stores a user.
    pub async fn insert_user(&self, user: &User) -> Result<(), sqlx::Error> {
        let sql = self.pick(
            "INSERT INTO xray_demo_users (id, name, email) VALUES ($1, $2, $3)",
            "INSERT INTO xray_demo_users (id, name, email) VALUES (?, ?, ?)",
        );
        with_pool!(self, pool => {
            sqlx::query(sql).bind(user.id).bind(&user.name).bind(&user.email).execute(pool).await?;
        });
        Ok(())
    }

    /// All users, by id.
    pub async fn list_users(&self) -> Result<Vec<User>, sqlx::Error> {
        let sql = "SELECT id, name, email FROM xray_demo_users ORDER BY id";
        with_pool!(self, pool => sqlx::query_as::<_, User>(sql).fetch_all(pool).await)
    }

    /// One user.
    pub async fn find_user(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        let sql = self.pick(
            "SELECT id, name, email FROM xray_demo_users WHERE id = $1",
            "SELECT id, name, email FROM xray_demo_users WHERE id = ?",
        );
        with_pool!(self, pool => sqlx::query_as::<_, User>(sql).bind(id).fetch_optional(pool).await)
    }

    /// Appends a message to the outbox.
    pub async fn store_message(&self, id: i64, recipient: &str, message: &str) -> Result<(), sqlx::Error> {
        let sql = self.pick(
            "INSERT INTO xray_demo_outbox (id, recipient, message) VALUES ($1, $2, $3)",
            "INSERT INTO xray_demo_outbox (id, recipient, message) VALUES (?, ?, ?)",
        );
        with_pool!(self, pool => {
            sqlx::query(sql).bind(id).bind(recipient).bind(message).execute(pool).await?;
        });
        Ok(())
    }
}
