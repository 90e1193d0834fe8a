//! The `sql` block of a subsegment for a database query.

use serde::{Deserialize, Serialize};

/// Information about a SQL query. Query text goes into `sanitized_query` only when the user
/// opts in, and bind values are never recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sql {
    /// The connection URL without password or tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A connection string in another form, without password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// The query, with placeholders for any user-provided value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitized_query: Option<String>,
    /// The database engine, such as `PostgreSQL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    /// The engine's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    /// The driver, such as `sqlx-0.9.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// The database user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `statement` for a prepared statement, `call` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
}

impl Sql {
    pub(crate) fn estimated_size(&self) -> usize {
        [
            &self.url,
            &self.connection_string,
            &self.sanitized_query,
            &self.database_type,
            &self.database_version,
            &self.driver_version,
            &self.user,
            &self.preparation,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.len() + 24)
        .sum()
    }
}
