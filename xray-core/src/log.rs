//! The SDK's own diagnostics: `tracing` events, filtered by `AWS_XRAY_LOG_LEVEL` and
//! rate-limited per call site, so a dead daemon or a hot missing-context path never floods logs.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How verbose the SDK's own logging is (`AWS_XRAY_LOG_LEVEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Everything, including per-segment details.
    Debug = 0,
    /// Start-up and configuration.
    Info = 1,
    /// Dropped data and recoverable trouble.
    #[default]
    Warn = 2,
    /// Errors only.
    Error = 3,
    /// Nothing.
    Silent = 4,
}

impl LogLevel {
    /// Parses `debug`, `info`, `warn`, `error` or `silent`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [
            ("debug", Self::Debug),
            ("trace", Self::Debug),
            ("info", Self::Info),
            ("warn", Self::Warn),
            ("warning", Self::Warn),
            ("error", Self::Error),
            ("silent", Self::Silent),
            ("off", Self::Silent),
        ]
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, level)| level)
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Warn as u8);

/// Sets the SDK's log level for the whole process.
pub fn set_log_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub(crate) fn enabled(level: LogLevel) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed) && level != LogLevel::Silent
}

/// Lets one event through per interval.
pub(crate) struct RateLimit {
    next_allowed_ms: AtomicU64,
}

/// How often one call site may log.
pub(crate) const LOG_INTERVAL_MS: u64 = 10_000;

impl RateLimit {
    pub(crate) const fn new() -> Self {
        Self { next_allowed_ms: AtomicU64::new(0) }
    }

    pub(crate) fn allow(&self) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let next = self.next_allowed_ms.load(Ordering::Relaxed);
        now >= next
            && self
                .next_allowed_ms
                .compare_exchange(next, now + LOG_INTERVAL_MS, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Logs at most once per [`LOG_INTERVAL_MS`] from this call site.
macro_rules! log_limited {
    ($level:ident, $($arg:tt)+) => {{
        static LIMIT: $crate::log::RateLimit = $crate::log::RateLimit::new();
        if $crate::log::enabled($crate::log::LogLevel::$level) && LIMIT.allow() {
            $crate::log::emit_event!($level, $($arg)+);
        }
    }};
}

/// Logs if the SDK's level allows it.
macro_rules! log_event {
    ($level:ident, $($arg:tt)+) => {{
        if $crate::log::enabled($crate::log::LogLevel::$level) {
            $crate::log::emit_event!($level, $($arg)+);
        }
    }};
}

macro_rules! emit_event {
    (Debug, $($arg:tt)+) => { ::tracing::debug!(target: "xray", $($arg)+) };
    (Info, $($arg:tt)+) => { ::tracing::info!(target: "xray", $($arg)+) };
    (Warn, $($arg:tt)+) => { ::tracing::warn!(target: "xray", $($arg)+) };
    (Error, $($arg:tt)+) => { ::tracing::error!(target: "xray", $($arg)+) };
}

pub(crate) use {emit_event, log_event, log_limited};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_lets_one_through() {
        let rl = RateLimit::new();
        assert!(rl.allow());
        assert!(!rl.allow());
        assert!(!rl.allow());
    }

    #[test]
    fn parses_levels() {
        assert_eq!(LogLevel::parse("DEBUG"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse(" warn "), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("loud"), None);
    }
}
