//! The database server's version: looked up once per pool, then copied into every `sql` block.
//!
//! The lookup is one small query (`SELECT version()` or its dialect's equivalent) that the
//! first traced statement of a pool waits for; statements issued at the same time wait for the
//! same lookup instead of starting their own. Nothing is looked up outside a trace. A failed or
//! slow lookup must not cost every statement a round trip: statements leave the version out and
//! the next attempt waits [`RETRY_AFTER`].

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// How long one lookup may take before the statement goes ahead without a version.
pub(crate) const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long after a failed lookup the next one may start.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The version of one pool's server, once known.
#[derive(Debug)]
pub(crate) struct VersionCell {
    value: OnceCell<Box<str>>,
    born: Instant,
    /// Milliseconds after `born` before which no lookup starts (set after a failure).
    quiet_until_ms: AtomicU64,
}

impl VersionCell {
    pub(crate) fn new() -> Self {
        Self { value: OnceCell::new(), born: Instant::now(), quiet_until_ms: AtomicU64::new(0) }
    }

    /// The version, if a lookup has succeeded.
    pub(crate) fn get(&self) -> Option<&str> {
        self.value.get().map(|v| &**v)
    }

    /// Whether a statement should wait for a lookup: the version is unknown and no recent
    /// lookup failed.
    pub(crate) fn wanted(&self) -> bool {
        !self.value.initialized() && self.elapsed_ms() >= self.quiet_until_ms.load(Ordering::Relaxed)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `lookup` unless the version is known or another lookup is under way (then waits for
    /// that one). Failures and timeouts are swallowed: the version is decoration, the
    /// statement must go ahead.
    pub(crate) async fn fill<F, E>(&self, lookup: F)
    where
        F: Future<Output = Result<String, E>>,
        E: std::fmt::Display,
    {
        let result = self
            .value
            .get_or_try_init(|| async {
                match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                    Ok(Ok(version)) => Ok(version.trim().into()),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err(format!("no answer within {LOOKUP_TIMEOUT:?}")),
                }
            })
            .await;
        if let Err(err) = result {
            let until = self.elapsed_ms().saturating_add(RETRY_AFTER.as_millis() as u64);
            self.quiet_until_ms.store(until, Ordering::Relaxed);
            tracing::debug!(%err, "X-Ray: database version lookup failed; statements record no version for now");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn concurrent_statements_share_one_lookup() {
        let cell = Arc::new(VersionCell::new());
        let lookups = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cell, lookups) = (cell.clone(), lookups.clone());
                tokio::spawn(async move {
                    cell.fill(async {
                        lookups.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok::<_, String>(" 16.2 \n".to_owned())
                    })
                    .await;
                    cell.get().map(str::to_owned)
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().as_deref(), Some("16.2"));
        }
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
        assert!(!cell.wanted());
        // Known: later fills do not look up again.
        cell.fill(async { Ok::<_, String>("other".to_owned()) }).await;
        assert_eq!(cell.get(), Some("16.2"));
    }

    #[tokio::test]
    async fn a_failure_leaves_the_version_out_and_pauses_lookups() {
        let cell = VersionCell::new();
        assert!(cell.wanted());
        cell.fill(async { Err::<String, _>("connection refused") }).await;
        assert_eq!(cell.get(), None);
        assert!(!cell.wanted(), "no lookup right after a failure");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_that_hangs_times_out() {
        let cell = VersionCell::new();
        cell.fill(std::future::pending::<Result<String, String>>()).await;
        assert_eq!(cell.get(), None);
        assert!(!cell.wanted());
    }
}
