//! [`Call`]: one statement's subsegment, from the moment the statement is issued until its
//! result (or the drop of its stream) ends it.

use std::sync::Arc;

use futures_core::future::BoxFuture;
use xray_core::integration::Namespace;
use xray_core::model::CauseDetails;
use xray_core::{Cause, Entity, Subsegment};

use crate::message::without_values;
use crate::shared::{Preparation, Shared};

/// Something a statement waits for before it runs (the version lookup).
pub(crate) type Wait = BoxFuture<'static, ()>;

/// One traced statement. Dropping it writes the `sql` block, the namespace and any failure
/// onto the subsegment, and ends it.
pub(crate) struct Call {
    sub: Subsegment,
    shared: Arc<Shared>,
    preparation: Preparation,
    query: Option<String>,
    cause: Option<Cause>,
}

impl Call {
    /// Opens the subsegment under `entity` (which the caller has found sampled).
    pub(crate) fn begin(entity: &Entity, shared: Arc<Shared>, preparation: Preparation, sql: &str) -> Self {
        let query = shared.collects_queries(entity).then(|| sql.to_owned());
        Self { sub: entity.begin_subsegment(&shared.name), shared, preparation, query, cause: None }
    }

    /// Records a failure; `RowNotFound` is an answer, not a failure.
    pub(crate) fn fail(&mut self, err: &sqlx::Error) {
        if let Some(cause) = cause_of(err, self.shared.error_type) {
            self.cause = Some(cause);
        }
    }

    /// Records the outcome of a result.
    pub(crate) fn result<T>(&mut self, result: &Result<T, sqlx::Error>) {
        if let Err(err) = result {
            self.fail(err);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let sql = self.shared.sql(self.preparation, self.query.take());
        let cause = self.cause.take();
        self.sub.with_document(|doc| {
            doc.namespace = Some(Namespace::Remote);
            doc.sql = Some(sql.into());
            if let Some(cause) = cause {
                doc.fault = true;
                doc.cause = Some(cause.into());
            }
        });
        // `sub` drops after this and ends the subsegment.
    }
}

/// Whether an error came from the database or the way to it (`remote: true`), rather than
/// from this process (encoding, decoding, configuration).
fn is_remote(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Database(_)
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed
    )
}

/// The `cause` of a failed statement, `None` for `RowNotFound`.
///
/// A database error becomes one exception: type `error_type` (such as `PgDatabaseError`),
/// message `code: message` (the SQLSTATE, or SQLite's extended result code), `remote: true`.
/// The message keeps the names it quotes but none of the values (which are usually bind
/// values, see [`without_values`]); PostgreSQL's `detail` is never read. Other errors keep
/// their `source()` chain.
pub(crate) fn cause_of(err: &sqlx::Error, error_type: &str) -> Option<Cause> {
    match err {
        sqlx::Error::RowNotFound => None,
        sqlx::Error::Database(db) => {
            let mut details = CauseDetails::from_error(db.as_error(), Some(error_type), true);
            // The driver's own chain (if any) stays, without values too; the first exception
            // says code and message the same way for every database.
            for exception in &mut details.exceptions {
                exception.message = exception.message.as_deref().map(without_values);
            }
            if let Some(first) = details.exceptions.first_mut() {
                let message = without_values(db.message());
                first.message = Some(match db.code() {
                    Some(code) => format!("{code}: {message}"),
                    None => message,
                });
            }
            Some(Cause::Details(details))
        }
        other => Some(Cause::Details(CauseDetails::from_error(other, None, is_remote(other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(cause: Option<Cause>) -> CauseDetails {
        match cause {
            Some(Cause::Details(d)) => d,
            other => panic!("expected details, got {other:?}"),
        }
    }

    #[test]
    fn row_not_found_is_no_failure() {
        assert!(cause_of(&sqlx::Error::RowNotFound, "X").is_none());
    }

    #[test]
    fn transport_errors_are_remote_and_local_errors_are_not() {
        let cases: [(sqlx::Error, &str, bool); 5] = [
            (sqlx::Error::PoolTimedOut, "PoolTimedOut", true),
            (sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()), "Io", true),
            (sqlx::Error::Protocol("bad packet".into()), "Protocol", true),
            (sqlx::Error::ColumnNotFound("nme".into()), "ColumnNotFound", false),
            (sqlx::Error::Encode("too long".into()), "Encode", false),
        ];
        for (err, kind, remote) in cases {
            let d = details(cause_of(&err, "X"));
            assert_eq!(d.exceptions[0].kind.as_deref(), Some(kind), "{err:?}");
            assert_eq!(d.exceptions[0].message.as_deref(), Some(err.to_string().as_str()));
            assert!(d.exceptions.iter().all(|e| e.remote == remote), "{err:?}");
        }
    }

    #[test]
    fn preparation_names() {
        assert_eq!(Preparation::Statement.as_str(), "statement");
        assert_eq!(Preparation::Call.as_str(), "call");
    }
}
