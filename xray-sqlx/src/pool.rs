//! [`TracedPool`]: a `sqlx::Pool` whose statements become X-Ray subsegments.

use std::fmt;
use std::sync::Arc;

use sqlx::{Database, Pool, SqlSafeStr, SqlStr};

use crate::call::Call;
use crate::connection::{TracedConnection, TracedTransaction};
use crate::database::TracedDatabase;
use crate::options::Options;
use crate::shared::{Preparation, Shared};

/// A `sqlx::Pool` whose statements are traced: `&TracedPool` is an `sqlx::Executor`, so query
/// code stays as it is.
///
/// Each statement run in a sampled trace becomes one subsegment of the current entity, named
/// `database@host` (SQLite: the file's name), with namespace `remote` and an `sql` block (see
/// the [crate docs](crate)). Outside a sampled trace, statements go straight to the pool.
///
/// Cloning is cheap and shares the pool and its settings, as with `sqlx::Pool`.
pub struct TracedPool<DB: Database> {
    pub(crate) pool: Pool<DB>,
    pub(crate) shared: Arc<Shared>,
}

impl<DB: Database> Clone for TracedPool<DB> {
    fn clone(&self) -> Self {
        Self { pool: self.pool.clone(), shared: self.shared.clone() }
    }
}

impl<DB: Database> fmt::Debug for TracedPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedPool").field("pool", &self.pool).field("shared", &self.shared).finish()
    }
}

impl<DB: TracedDatabase> TracedPool<DB> {
    /// Wraps `pool`. Reads the pool's connect options once, for the subsegment name, URL and
    /// user; does no I/O. The server's version is asked for by the first traced statement.
    pub fn new(pool: Pool<DB>, options: Options) -> Self {
        let shared = Arc::new(Shared::new::<DB>(&pool.connect_options(), options));
        Self { pool, shared }
    }

    /// The wrapped pool, for what `TracedPool` does not forward. Statements run on it
    /// directly are not traced.
    pub fn inner(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Unwraps the pool.
    pub fn into_inner(self) -> Pool<DB> {
        self.pool
    }

    /// A connection from the pool whose statements are traced: run them on `&mut *conn` (or
    /// `&mut conn`), as with a `PoolConnection`.
    pub async fn acquire(&self) -> Result<TracedConnection<DB>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        if self.shared.version.wanted() && xray_core::integration::current_quiet().is_sampled() {
            self.shared.version.fill(DB::server_version(&mut conn)).await;
        }
        Ok(TracedConnection::new(conn, self.shared.clone()))
    }

    /// Begins a transaction on a connection from the pool; `&mut *tx` (or `&mut tx`) traces
    /// the statements run on it. The `BEGIN` is a subsegment of its own.
    pub async fn begin(&self) -> Result<TracedTransaction<'static, DB>, sqlx::Error> {
        self.begin_inner(None).await
    }

    /// Like [`begin`](Self::begin), with the statement that opens the transaction, such as
    /// `BEGIN ISOLATION LEVEL SERIALIZABLE`.
    pub async fn begin_with(&self, statement: impl SqlSafeStr) -> Result<TracedTransaction<'static, DB>, sqlx::Error> {
        self.begin_inner(Some(statement.into_sql_str())).await
    }

    async fn begin_inner(&self, statement: Option<SqlStr>) -> Result<TracedTransaction<'static, DB>, sqlx::Error> {
        let entity = xray_core::integration::current_quiet();
        let begun = if entity.is_sampled() {
            self.fill_version().await;
            let text = statement.as_ref().map_or("BEGIN", SqlStr::as_str);
            let mut call = Call::begin(&entity, self.shared.clone(), Preparation::Call, text);
            let begun = match statement {
                Some(statement) => self.pool.begin_with(statement).await,
                None => self.pool.begin().await,
            };
            call.result(&begun);
            begun
        } else {
            match statement {
                Some(statement) => self.pool.begin_with(statement).await,
                None => self.pool.begin().await,
            }
        };
        Ok(TracedTransaction::new(begun?, self.shared.clone(), false))
    }

    /// Looks the server's version up on the pool, if it is still unknown.
    async fn fill_version(&self) {
        if self.shared.version.wanted() {
            let pool = self.pool.clone();
            self.shared
                .version
                .fill(async move {
                    let mut conn = pool.acquire().await?;
                    DB::server_version(&mut conn).await
                })
                .await;
        }
    }

    /// What a statement on the pool waits for first: the version lookup, while the version is
    /// unknown. `None` (nothing to wait for, no allocation) once it is known.
    pub(crate) fn version_wait(&self) -> Option<crate::call::Wait> {
        if !self.shared.version.wanted() {
            return None;
        }
        let this = self.clone();
        Some(Box::pin(async move { this.fill_version().await }))
    }

    /// Closes the pool, as [`Pool::close`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether the pool is closed, as [`Pool::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }
}
