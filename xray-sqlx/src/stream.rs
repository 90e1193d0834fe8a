//! The traced forms of what an `Executor` returns: a stream that ends its subsegment when it
//! ends or is dropped, a future that ends it with its result, and [`Prepared`], the statement
//! taken apart so that its text and kind are known before it runs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::error::BoxDynError;
use sqlx::{Database, Execute, SqlStr};

use crate::call::{Call, Wait};
use crate::shared::Preparation;

/// A statement taken apart the way the drivers take it apart (statement, arguments,
/// persistence, text, in that order), so that it runs exactly as the original would.
pub(crate) struct Prepared<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> Prepared<DB> {
    pub(crate) fn new<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let statement = query.statement().cloned();
        let arguments = query.take_arguments();
        let persistent = query.persistent();
        Self { sql: query.sql(), statement, arguments: Some(arguments), persistent }
    }

    /// A prepared statement when it has an arguments object (even an empty one, or one that
    /// failed to encode) or an explicit statement; text otherwise.
    pub(crate) fn preparation(&self) -> Preparation {
        let has_arguments = !matches!(self.arguments, Some(Ok(None)) | None);
        if has_arguments || self.statement.is_some() { Preparation::Statement } else { Preparation::Call }
    }

    pub(crate) fn text(&self) -> &str {
        self.sql.as_str()
    }
}

impl<DB: Database> Execute<'_, DB> for Prepared<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// A traced `fetch_many` stream: waits for the version lookup if one is due, records the first
/// error, and ends the subsegment when the stream ends or is dropped.
pub(crate) struct TracedStream<'e, T> {
    wait: Option<Wait>,
    inner: BoxStream<'e, Result<T, sqlx::Error>>,
    call: Option<Call>,
}

impl<'e, T> TracedStream<'e, T> {
    pub(crate) fn new(wait: Option<Wait>, inner: BoxStream<'e, Result<T, sqlx::Error>>, call: Call) -> Self {
        Self { wait, inner, call: Some(call) }
    }
}

impl<T> Stream for TracedStream<'_, T> {
    type Item = Result<T, sqlx::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(wait) = &mut this.wait {
            ready!(wait.as_mut().poll(cx));
            this.wait = None;
        }
        let item = ready!(this.inner.as_mut().poll_next(cx));
        match &item {
            Some(Err(err)) => {
                if let Some(call) = &mut this.call {
                    call.fail(err);
                }
            }
            Some(Ok(_)) => {}
            None => this.call = None,
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// A traced `fetch_optional` future: ends the subsegment with its result, or when dropped.
pub(crate) struct TracedFuture<'e, T> {
    wait: Option<Wait>,
    inner: BoxFuture<'e, Result<T, sqlx::Error>>,
    call: Option<Call>,
}

impl<'e, T> TracedFuture<'e, T> {
    pub(crate) fn new(wait: Option<Wait>, inner: BoxFuture<'e, Result<T, sqlx::Error>>, call: Call) -> Self {
        Self { wait, inner, call: Some(call) }
    }
}

impl<T> Future for TracedFuture<'_, T> {
    type Output = Result<T, sqlx::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(wait) = &mut this.wait {
            ready!(wait.as_mut().poll(cx));
            this.wait = None;
        }
        let result = ready!(this.inner.as_mut().poll(cx));
        if let Some(mut call) = this.call.take() {
            call.result(&result);
        }
        Poll::Ready(result)
    }
}
