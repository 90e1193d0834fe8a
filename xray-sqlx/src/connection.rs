//! Traced connections and transactions.
//!
//! sqlx 0.9 runs statements of a `PoolConnection` or `Transaction` on `&mut *conn`, the
//! connection they dereference to. To keep that code unchanged, [`TracedConnection`] and
//! [`TracedTransaction`] dereference to a [`TracedConn`], which is the traced executor; both
//! `&mut *tx` and `&mut tx` work. One more `*` (`&mut **tx`) reaches the raw connection, whose
//! statements are not traced.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, SqlSafeStr, SqlStr, Transaction};

use crate::call::Call;
use crate::database::TracedDatabase;
use crate::shared::{Preparation, Shared};

/// A connection handle `C` (a `PoolConnection` or a `Transaction`) whose statements are
/// traced: `&mut TracedConn<C>` is an `sqlx::Executor`. Reached as `&mut *conn` from a
/// [`TracedConnection`] or `&mut *tx` from a [`TracedTransaction`].
///
/// Dereferences to the raw connection (untraced), for driver-specific methods.
pub struct TracedConn<C> {
    pub(crate) conn: C,
    pub(crate) shared: Arc<Shared>,
}

impl<C: Deref> Deref for TracedConn<C> {
    type Target = C::Target;
    fn deref(&self) -> &C::Target {
        &self.conn
    }
}

impl<C: DerefMut> DerefMut for TracedConn<C> {
    fn deref_mut(&mut self) -> &mut C::Target {
        &mut self.conn
    }
}

impl<C: fmt::Debug> fmt::Debug for TracedConn<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedConn").field("conn", &self.conn).field("name", &self.shared.name).finish()
    }
}

/// Begins a (nested) transaction on `conn`; the `BEGIN` or `SAVEPOINT` is a subsegment.
async fn begin_on<'c, DB: TracedDatabase>(
    conn: &'c mut DB::Connection,
    shared: &Arc<Shared>,
    statement: Option<SqlStr>,
) -> Result<TracedTransaction<'c, DB>, sqlx::Error> {
    let entity = xray_core::integration::current_quiet();
    let nested = conn.is_in_transaction();
    let mut call = entity.is_sampled().then(|| {
        let text = match &statement {
            Some(statement) => statement.as_str(),
            None if nested => "SAVEPOINT",
            None => "BEGIN",
        };
        Call::begin(&entity, shared.clone(), Preparation::Call, text)
    });
    let begun = match statement {
        Some(statement) => conn.begin_with(statement).await,
        None => conn.begin().await,
    };
    if let Some(call) = &mut call {
        call.result(&begun);
    }
    drop(call);
    Ok(TracedTransaction::new(begun?, shared.clone(), nested))
}

/// A connection from a [`TracedPool`](crate::TracedPool), returned to the pool when dropped.
/// Statements run on `&mut *conn` or `&mut conn` are traced.
pub struct TracedConnection<DB: Database> {
    inner: TracedConn<PoolConnection<DB>>,
}

impl<DB: Database> TracedConnection<DB> {
    pub(crate) fn new(conn: PoolConnection<DB>, shared: Arc<Shared>) -> Self {
        Self { inner: TracedConn { conn, shared } }
    }

    /// The untraced `PoolConnection`.
    pub fn into_inner(self) -> PoolConnection<DB> {
        self.inner.conn
    }
}

impl<DB: TracedDatabase> TracedConnection<DB> {
    /// Begins a transaction on this connection; its statements are traced.
    pub async fn begin(&mut self) -> Result<TracedTransaction<'_, DB>, sqlx::Error> {
        let TracedConn { conn, shared } = &mut self.inner;
        begin_on(&mut **conn, shared, None).await
    }

    /// Like [`begin`](Self::begin), with the statement that opens the transaction.
    pub async fn begin_with(&mut self, statement: impl SqlSafeStr) -> Result<TracedTransaction<'_, DB>, sqlx::Error> {
        let TracedConn { conn, shared } = &mut self.inner;
        begin_on(&mut **conn, shared, Some(statement.into_sql_str())).await
    }
}

impl<DB: Database> Deref for TracedConnection<DB> {
    type Target = TracedConn<PoolConnection<DB>>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<DB: Database> DerefMut for TracedConnection<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl<DB: Database> fmt::Debug for TracedConnection<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TracedConnection").field(&self.inner).finish()
    }
}

/// A transaction whose statements are traced: run them on `&mut *tx` or `&mut tx`.
///
/// As with `sqlx::Transaction`, dropping it without [`commit`](Self::commit) rolls it back
/// (that rollback happens on the connection's next use and is not traced).
pub struct TracedTransaction<'c, DB: Database> {
    inner: TracedConn<Transaction<'c, DB>>,
    /// A savepoint inside another transaction.
    nested: bool,
}

impl<'c, DB: Database> TracedTransaction<'c, DB> {
    pub(crate) fn new(tx: Transaction<'c, DB>, shared: Arc<Shared>, nested: bool) -> Self {
        Self { inner: TracedConn { conn: tx, shared }, nested }
    }

    /// The untraced `Transaction`.
    pub fn into_inner(self) -> Transaction<'c, DB> {
        self.inner.conn
    }
}

impl<'c, DB: TracedDatabase> TracedTransaction<'c, DB> {
    /// Commits; the `COMMIT` (or `RELEASE SAVEPOINT`) is a subsegment.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.finish(true).await
    }

    /// Rolls back; the `ROLLBACK` (or `ROLLBACK TO SAVEPOINT`) is a subsegment.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.finish(false).await
    }

    async fn finish(self, commit: bool) -> Result<(), sqlx::Error> {
        let TracedConn { conn: tx, shared } = self.inner;
        let entity = xray_core::integration::current_quiet();
        let mut call = entity.is_sampled().then(|| {
            let text = match (commit, self.nested) {
                (true, false) => "COMMIT",
                (true, true) => "RELEASE SAVEPOINT",
                (false, false) => "ROLLBACK",
                (false, true) => "ROLLBACK TO SAVEPOINT",
            };
            Call::begin(&entity, shared, Preparation::Call, text)
        });
        let finished = if commit { tx.commit().await } else { tx.rollback().await };
        if let Some(call) = &mut call {
            call.result(&finished);
        }
        finished
    }

    /// Begins a nested transaction (a savepoint); its statements are traced.
    pub async fn begin(&mut self) -> Result<TracedTransaction<'_, DB>, sqlx::Error> {
        let TracedConn { conn, shared } = &mut self.inner;
        begin_on(&mut **conn, shared, None).await
    }
}

impl<'c, DB: Database> Deref for TracedTransaction<'c, DB> {
    type Target = TracedConn<Transaction<'c, DB>>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<DB: Database> DerefMut for TracedTransaction<'_, DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl<DB: Database> fmt::Debug for TracedTransaction<'_, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TracedTransaction").field(&self.inner).finish()
    }
}
