//! What differs between PostgreSQL, MySQL/MariaDB and SQLite: how a pool's target is named,
//! how the server's version is asked for, and what their errors are called.

use futures_core::future::BoxFuture;

pub(crate) use sealed::Target;
use sqlx::{Connection, Database};

/// A database `TracedPool` can trace: `sqlx::Postgres`, `sqlx::MySql` (also MariaDB) and
/// `sqlx::Sqlite`, each behind the cargo feature of the same name.
///
/// Sealed: the `Executor` implementations are written per database, as sqlx 0.9 writes its own.
pub trait TracedDatabase: Database + sealed::Sealed {}

impl<DB: Database + sealed::Sealed> TracedDatabase for DB {}

pub(crate) mod sealed {
    use super::*;

    /// Where a pool's statements go, as X-Ray shows it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Target {
        /// The subsegment name: `database@host`, or the SQLite file's name.
        pub(crate) name: String,
        /// The URL without password.
        pub(crate) url: String,
        /// The database user.
        pub(crate) user: Option<String>,
    }

    /// The per-database parts; only this crate implements it.
    pub trait Sealed: Database {
        /// The type name recorded for the database's own errors.
        const ERROR_TYPE: &'static str;

        /// Names the pool's target from its connect options.
        #[doc(hidden)]
        fn target(options: &<Self::Connection as Connection>::Options) -> Target;

        /// Asks the server for its version (one small query on `conn`).
        #[doc(hidden)]
        fn server_version(conn: &mut Self::Connection) -> BoxFuture<'_, Result<String, sqlx::Error>>;

        /// `database_type` once the version is known (MariaDB speaks MySQL's protocol).
        #[doc(hidden)]
        fn database_type(_version: Option<&str>) -> &'static str {
            Self::NAME
        }
    }
}

/// `database@host`, or just the host when the options name no database.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn at(database: Option<&str>, host: &str) -> String {
    match database.filter(|d| !d.is_empty()) {
        Some(database) => format!("{database}@{host}"),
        None => host.to_owned(),
    }
}

#[cfg(feature = "postgres")]
impl sealed::Sealed for sqlx::Postgres {
    const ERROR_TYPE: &'static str = "PgDatabaseError";

    fn target(options: &sqlx::postgres::PgConnectOptions) -> Target {
        let user = options.get_username();
        // Without a database name, PostgreSQL connects to the one named like the user.
        let database = options.get_database().unwrap_or(user);
        let socket = options.get_socket().map(|s| s.to_string_lossy().into_owned());
        let host = socket.as_deref().unwrap_or(options.get_host());
        Target {
            name: at(Some(database), host),
            url: crate::url::build_url(
                "postgres",
                Some(user),
                options.get_host(),
                Some(options.get_port()),
                Some(database),
                socket.as_deref(),
            ),
            user: Some(user.to_owned()).filter(|u| !u.is_empty()),
        }
    }

    fn server_version(conn: &mut sqlx::PgConnection) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar("SELECT current_setting('server_version')").fetch_one(conn))
    }
}

#[cfg(feature = "mysql")]
impl sealed::Sealed for sqlx::MySql {
    const ERROR_TYPE: &'static str = "MySqlDatabaseError";

    fn target(options: &sqlx::mysql::MySqlConnectOptions) -> Target {
        let user = options.get_username();
        let socket = options.get_socket().map(|s| s.to_string_lossy().into_owned());
        let host = socket.as_deref().unwrap_or(options.get_host());
        Target {
            name: at(options.get_database(), host),
            url: crate::url::build_url(
                "mysql",
                Some(user),
                options.get_host(),
                Some(options.get_port()),
                options.get_database(),
                socket.as_deref(),
            ),
            user: Some(user.to_owned()).filter(|u| !u.is_empty()),
        }
    }

    fn server_version(conn: &mut sqlx::MySqlConnection) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar("SELECT VERSION()").fetch_one(conn))
    }

    fn database_type(version: Option<&str>) -> &'static str {
        match version {
            Some(v) if v.contains("MariaDB") => "MariaDB",
            _ => "MySQL",
        }
    }
}

/// The name sqlx gives the database behind `sqlite::memory:`.
#[cfg(feature = "sqlite")]
const SQLX_IN_MEMORY_PREFIX: &str = "file:sqlx-in-memory-";

#[cfg(feature = "sqlite")]
impl sealed::Sealed for sqlx::Sqlite {
    const ERROR_TYPE: &'static str = "SqliteError";

    fn target(options: &sqlx::sqlite::SqliteConnectOptions) -> Target {
        let path = options.get_filename();
        let full = path.to_string_lossy();
        if full.starts_with(SQLX_IN_MEMORY_PREFIX) || full == ":memory:" {
            return Target { name: ":memory:".to_owned(), url: "sqlite::memory:".to_owned(), user: None };
        }
        let name = path.file_name().map_or_else(|| full.clone(), |n| n.to_string_lossy());
        Target { name: name.into_owned(), url: format!("sqlite://{full}"), user: None }
    }

    fn server_version(conn: &mut sqlx::SqliteConnection) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar("SELECT sqlite_version()").fetch_one(conn))
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::sealed::Sealed;
    use super::*;

    #[cfg(any(feature = "postgres", feature = "mysql"))]
    #[test]
    fn database_at_host() {
        assert_eq!(at(Some("users"), "db.internal"), "users@db.internal");
        assert_eq!(at(None, "db.internal"), "db.internal");
        assert_eq!(at(Some(""), "db.internal"), "db.internal");
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_target_has_no_password() {
        let options: sqlx::postgres::PgConnectOptions =
            "postgres://app:hunter2@db.internal:6543/users?sslmode=disable".parse().unwrap();
        let target = sqlx::Postgres::target(&options);
        assert_eq!(target.name, "users@db.internal");
        assert_eq!(target.url, "postgres://app@db.internal:6543/users");
        assert_eq!(target.user.as_deref(), Some("app"));
        let socket: sqlx::postgres::PgConnectOptions = "postgres://app@%2Frun%2Fpostgresql/users".parse().unwrap();
        let target = sqlx::Postgres::target(&socket);
        assert_eq!(target.name, "users@/run/postgresql");
        assert!(target.url.ends_with("/users?host=%2Frun%2Fpostgresql"), "{}", target.url);
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_target_and_mariadb_type() {
        let options: sqlx::mysql::MySqlConnectOptions = "mysql://root:pw@127.0.0.1:3306/shop".parse().unwrap();
        let target = sqlx::MySql::target(&options);
        assert_eq!(
            target,
            Target {
                name: "shop@127.0.0.1".into(),
                url: "mysql://root@127.0.0.1:3306/shop".into(),
                user: Some("root".into())
            }
        );
        let no_db: sqlx::mysql::MySqlConnectOptions = "mysql://root@10.0.0.5".parse().unwrap();
        assert_eq!(sqlx::MySql::target(&no_db).name, "10.0.0.5");
        assert_eq!(sqlx::MySql::database_type(Some("10.11.6-MariaDB-0+deb12u1")), "MariaDB");
        assert_eq!(sqlx::MySql::database_type(Some("8.4.0")), "MySQL");
        assert_eq!(sqlx::MySql::database_type(None), "MySQL");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_target_is_the_file_name() {
        let file: sqlx::sqlite::SqliteConnectOptions = "sqlite:///var/data/app.db".parse().unwrap();
        assert_eq!(
            sqlx::Sqlite::target(&file),
            Target { name: "app.db".into(), url: "sqlite:///var/data/app.db".into(), user: None }
        );
        let memory: sqlx::sqlite::SqliteConnectOptions = "sqlite::memory:".parse().unwrap();
        assert_eq!(sqlx::Sqlite::target(&memory).name, ":memory:");
        assert_eq!(sqlx::Sqlite::database_type(Some("3.46.0")), "SQLite");
    }
}
