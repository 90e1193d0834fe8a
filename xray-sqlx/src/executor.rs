//! The `sqlx::Executor` implementations: `&TracedPool`, `&mut TracedConn<PoolConnection>`,
//! `&mut TracedConn<Transaction>`, `&mut TracedConnection` and `&mut TracedTransaction`.
//!
//! They are written once per database by a macro, as sqlx 0.9 does for its own connections:
//! a blanket implementation over `DB` needs the bound `&mut DB::Connection: Executor`, which
//! the trait solver cannot settle for a wrapper type (sqlx's sources note the overflow). The
//! work itself is in the generic functions below; the macro only wires them up.

use std::sync::Arc;

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::{Database, Either, Execute, Executor};

use crate::call::{Call, Wait};
use crate::shared::Shared;
use crate::stream::{Prepared, TracedFuture, TracedStream};

type Many<'e, DB> = BoxStream<'e, Result<Either<<DB as Database>::QueryResult, <DB as Database>::Row>, sqlx::Error>>;
type Optional<'e, DB> = BoxFuture<'e, Result<Option<<DB as Database>::Row>, sqlx::Error>>;

/// `fetch_many` on `inner`, traced when the current entity is sampled.
pub(crate) fn fetch_many<'e, 'q: 'e, X, E>(
    inner: X,
    shared: &Arc<Shared>,
    wait: impl FnOnce() -> Option<Wait>,
    query: E,
) -> Many<'e, X::Database>
where
    X: Executor<'e>,
    E: 'q + Execute<'q, X::Database>,
{
    let entity = xray_core::integration::current_quiet();
    if !entity.is_sampled() {
        return inner.fetch_many(query);
    }
    let prepared = Prepared::new(query);
    let call = Call::begin(&entity, shared.clone(), prepared.preparation(), prepared.text());
    let wait = wait();
    Box::pin(TracedStream::new(wait, inner.fetch_many(prepared), call))
}

/// `fetch_optional` on `inner`, traced when the current entity is sampled.
pub(crate) fn fetch_optional<'e, 'q: 'e, X, E>(
    inner: X,
    shared: &Arc<Shared>,
    wait: impl FnOnce() -> Option<Wait>,
    query: E,
) -> Optional<'e, X::Database>
where
    X: Executor<'e>,
    E: 'q + Execute<'q, X::Database>,
{
    let entity = xray_core::integration::current_quiet();
    if !entity.is_sampled() {
        return inner.fetch_optional(query);
    }
    let prepared = Prepared::new(query);
    let call = Call::begin(&entity, shared.clone(), prepared.preparation(), prepared.text());
    let wait = wait();
    Box::pin(TracedFuture::new(wait, inner.fetch_optional(prepared), call))
}

/// The body of one `Executor` implementation. `$parts` turns `self` into the inner executor,
/// the pool's shared settings and the version wait.
macro_rules! executor_body {
    ($db:ty, |$this:ident| $parts:expr) => {
        type Database = $db;

        fn fetch_many<'e, 'q: 'e, E>(
            self,
            query: E,
        ) -> ::futures_core::stream::BoxStream<
            'e,
            Result<
                ::sqlx::Either<<$db as ::sqlx::Database>::QueryResult, <$db as ::sqlx::Database>::Row>,
                ::sqlx::Error,
            >,
        >
        where
            'c: 'e,
            E: 'q + ::sqlx::Execute<'q, $db>,
        {
            let $this = self;
            let (inner, shared, wait) = $parts;
            $crate::executor::fetch_many(inner, shared, wait, query)
        }

        fn fetch_optional<'e, 'q: 'e, E>(
            self,
            query: E,
        ) -> ::futures_core::future::BoxFuture<'e, Result<Option<<$db as ::sqlx::Database>::Row>, ::sqlx::Error>>
        where
            'c: 'e,
            E: 'q + ::sqlx::Execute<'q, $db>,
        {
            let $this = self;
            let (inner, shared, wait) = $parts;
            $crate::executor::fetch_optional(inner, shared, wait, query)
        }

        /// Preparing runs no statement and is not traced.
        fn prepare_with<'e>(
            self,
            sql: ::sqlx::SqlStr,
            parameters: &'e [<$db as ::sqlx::Database>::TypeInfo],
        ) -> ::futures_core::future::BoxFuture<'e, Result<<$db as ::sqlx::Database>::Statement, ::sqlx::Error>>
        where
            'c: 'e,
        {
            let $this = self;
            let (inner, _, _) = $parts;
            ::sqlx::Executor::prepare_with(inner, sql, parameters)
        }

        /// Used by the `query!` macros at compile time; not traced.
        fn describe<'e>(
            self,
            sql: ::sqlx::SqlStr,
        ) -> ::futures_core::future::BoxFuture<'e, Result<::sqlx::Describe<$db>, ::sqlx::Error>>
        where
            'c: 'e,
        {
            let $this = self;
            let (inner, _, _) = $parts;
            ::sqlx::Executor::describe(inner, sql)
        }
    };
}

/// No version wait: a connection's statements never look the version up (acquire and begin
/// do, before the connection is handed out).
fn no_wait() -> Option<Wait> {
    None
}

/// All five `Executor` implementations for one database.
macro_rules! traced_executors {
    ($db:ty) => {
        impl<'c> ::sqlx::Executor<'c> for &'c $crate::TracedPool<$db> {
            executor_body!($db, |this| (&this.pool, &this.shared, || this.version_wait()));
        }

        impl<'c> ::sqlx::Executor<'c> for &'c mut $crate::TracedConn<::sqlx::pool::PoolConnection<$db>> {
            executor_body!($db, |this| {
                let $crate::TracedConn { conn, shared } = this;
                (&mut **conn, &*shared, $crate::executor::no_wait)
            });
        }

        impl<'c, 't> ::sqlx::Executor<'c> for &'c mut $crate::TracedConn<::sqlx::Transaction<'t, $db>> {
            executor_body!($db, |this| {
                let $crate::TracedConn { conn, shared } = this;
                (&mut **conn, &*shared, $crate::executor::no_wait)
            });
        }

        impl<'c> ::sqlx::Executor<'c> for &'c mut $crate::TracedConnection<$db> {
            executor_body!($db, |this| {
                let $crate::TracedConn { conn, shared } = &mut **this;
                (&mut **conn, &*shared, $crate::executor::no_wait)
            });
        }

        impl<'c, 't> ::sqlx::Executor<'c> for &'c mut $crate::TracedTransaction<'t, $db> {
            executor_body!($db, |this| {
                let $crate::TracedConn { conn, shared } = &mut **this;
                (&mut **conn, &*shared, $crate::executor::no_wait)
            });
        }
    };
}

#[cfg(feature = "postgres")]
traced_executors!(::sqlx::Postgres);
#[cfg(feature = "mysql")]
traced_executors!(::sqlx::MySql);
#[cfg(feature = "sqlite")]
traced_executors!(::sqlx::Sqlite);
