//! [`Options`]: what a [`TracedPool`](crate::TracedPool) records besides the defaults.

use crate::url::sanitize_url;

/// How a [`TracedPool`](crate::TracedPool) names and fills its subsegments.
///
/// ```
/// let options = xray_sqlx::Options::new()
///     .with_collect_queries(true)
///     .with_name("users-db");
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub(crate) collect_queries: Option<bool>,
    pub(crate) name: Option<String>,
    pub(crate) url: Option<String>,
}

impl Options {
    /// The defaults: names and URL from the pool's connect options, query text as the recorder
    /// says.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the statement text goes into `sql.sanitized_query`. The text is recorded as the
    /// application wrote it, with its placeholders; bind values are never recorded, but literal
    /// values written into the SQL are.
    ///
    /// Defaults to the recorder's setting (`AWS_XRAY_COLLECT_SQL_QUERIES`, off unless set).
    #[must_use]
    pub fn with_collect_queries(mut self, collect: bool) -> Self {
        self.collect_queries = Some(collect);
        self
    }

    /// The subsegment name for every statement of the pool.
    ///
    /// Defaults to `database@host` (SQLite: the database file's name).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The URL recorded in `sql.url`, for example the one your configuration holds (a URL, a
    /// libpq or ODBC key-value string, or a Go DSN); it is recorded without password,
    /// secret-looking parameters and fragment (see [`sanitize_url`]).
    ///
    /// Defaults to a URL built from the pool's connect options: scheme, user, host, port and
    /// database, never the password.
    #[must_use]
    pub fn with_url(mut self, url: &str) -> Self {
        self.url = Some(sanitize_url(url));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_record_and_url_is_sanitized_on_the_way_in() {
        let o = Options::new()
            .with_collect_queries(false)
            .with_name("orders")
            .with_url("postgres://app:pw@db/orders?token=t");
        assert_eq!(o.collect_queries, Some(false));
        assert_eq!(o.name.as_deref(), Some("orders"));
        assert_eq!(o.url.as_deref(), Some("postgres://app@db/orders"));
        assert_eq!(Options::new(), Options::default());
    }
}
