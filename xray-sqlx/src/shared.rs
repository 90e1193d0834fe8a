//! [`Shared`]: what every statement of one pool shares (the subsegment name and the `sql` block
//! but for the per-statement fields), and each statement's [`Preparation`]. Its own module,
//! below the pool, its connections, the executors and each statement's
//! [`Call`](crate::call::Call), which all depend on it and it on none of them.

use std::fmt;

use xray_core::Entity;
use xray_core::integration::{Sql, sanitize_name};

use crate::database::TracedDatabase;
use crate::options::Options;
use crate::version::VersionCell;

/// The `sql.preparation` of a statement.
///
/// sqlx runs a statement as a prepared statement exactly when it has an arguments object
/// (`sqlx::query` and friends, with or without binds, and statements prepared explicitly); a
/// plain string or `raw_sql` goes through the simple protocol, which X-Ray calls a `call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preparation {
    /// A prepared statement.
    Statement,
    /// A statement sent as text.
    Call,
}

impl Preparation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Statement => "statement",
            Self::Call => "call",
        }
    }
}

/// The driver as X-Ray records it. A dependent crate cannot read sqlx's exact version; this
/// crate requires 0.9.x, so the minor version is what it knows.
pub(crate) const DRIVER_VERSION: &str = "sqlx-0.9";

/// What every statement of one pool shares, computed once when the pool is wrapped: the
/// subsegment name and the `sql` block minus the per-statement fields.
pub(crate) struct Shared {
    pub(crate) name: Box<str>,
    template: Sql,
    pub(crate) version: VersionCell,
    collect_queries: Option<bool>,
    pub(crate) error_type: &'static str,
    database_type: fn(Option<&str>) -> &'static str,
}

impl Shared {
    pub(crate) fn new<DB: TracedDatabase>(
        options: &<DB::Connection as sqlx::Connection>::Options,
        settings: Options,
    ) -> Self {
        let target = DB::target(options);
        let name = settings.name.unwrap_or(target.name);
        Self {
            // Sanitized once here so that each subsegment takes the name as it is.
            name: sanitize_name(&name).into(),
            template: Sql {
                url: Some(settings.url.unwrap_or(target.url)),
                user: target.user,
                driver_version: Some(DRIVER_VERSION.to_owned()),
                ..Sql::default()
            },
            version: VersionCell::new(),
            collect_queries: settings.collect_queries,
            error_type: DB::ERROR_TYPE,
            database_type: DB::database_type,
        }
    }

    /// Whether statement text is recorded under `entity`'s recorder.
    pub(crate) fn collects_queries(&self, entity: &Entity) -> bool {
        self.collect_queries.unwrap_or_else(|| entity.collect_sql_queries())
    }

    /// The `sql` block of one statement.
    pub(crate) fn sql(&self, preparation: Preparation, query: Option<String>) -> Sql {
        let version = self.version.get();
        Sql {
            sanitized_query: query,
            database_type: Some((self.database_type)(version).to_owned()),
            database_version: version.map(str::to_owned),
            preparation: Some(preparation.as_str().to_owned()),
            ..self.template.clone()
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").field("name", &self.name).field("url", &self.template.url).finish_non_exhaustive()
    }
}
