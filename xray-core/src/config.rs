//! Configuration from the standard `AWS_XRAY_*` environment variables.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `AWS_XRAY_DAEMON_ADDRESS` | `host:port` for UDP and TCP, or `tcp:h:p udp:h:p` (either order) | `127.0.0.1:2000` |
//! | `AWS_XRAY_CONTEXT_MISSING` | `LOG_ERROR`, `RUNTIME_ERROR` or `IGNORE_ERROR`, any case | `LOG_ERROR` |
//! | `AWS_XRAY_TRACING_NAME` | overrides every segment name | unset |
//! | `AWS_XRAY_SDK_ENABLED` / `AWS_XRAY_SDK_DISABLED` | `false` / `true` turn the SDK off | enabled |
//! | `AWS_XRAY_NOOP_ID` | `false` gives unsampled requests real entity ids (for log correlation) | `true` |
//! | `AWS_XRAY_COLLECT_SQL_QUERIES` | `true` records SQL text in `sanitized_query` | `false` |
//! | `AWS_XRAY_LOG_LEVEL` | `debug`, `info`, `warn`, `error`, `silent` | `warn` |
//! | `AWS_XRAY_DEBUG_MODE` | `true` logs the SDK's own debug events (as `AWS_XRAY_LOG_LEVEL=debug`; it wins) | `false` |
//! | `OTEL_PROPAGATORS` | which trace headers are read and written: `xray` (`X-Amzn-Trace-Id`), `tracecontext` (W3C `traceparent`, `tracestate`), `none`; comma-separated, other names logged and ignored | both |
//! | `OTEL_TRACES_EXPORTER` | where segments go: `xray` (UDP to the daemon), `otlp` (an OpenTelemetry collector; feature `otlp`), both comma-separated, or `none` | `xray` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector's `http://` traces URL / its base URL (`/v1/traces` is appended) | `http://127.0.0.1:4318/v1/traces` |
//! | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `OTEL_EXPORTER_OTLP_TIMEOUT` | one export request's deadline, in milliseconds | `10000` |
//!
//! A value the SDK cannot use is handled per variable, as the official SDKs do for most:
//! - `AWS_XRAY_DAEMON_ADDRESS` fails [`Config::from_env`] with a [`ConfigError`] naming the
//!   variable, the value and the accepted forms: sending to a guessed address would lose every
//!   segment silently.
//! - Every other variable logs a warning with the same three facts and keeps its default
//!   (`LOG_ERROR`, enabled, `true`, `false`, `warn`), so that a typo does not stop the service.
//!   The warnings are also kept in [`Config::problems`].

use crate::log::log_event;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use crate::log::LogLevel;
use crate::w3c::Propagation;

/// The variable that names the daemon's address.
pub(crate) const DAEMON_ADDRESS_VAR: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// OpenTelemetry's variable that names the propagators, followed for [`Propagation`].
const OTEL_PROPAGATORS_VAR: &str = "OTEL_PROPAGATORS";

/// OpenTelemetry's variable that names the trace exporters, followed for [`TracesExporter`].
const OTEL_TRACES_EXPORTER_VAR: &str = "OTEL_TRACES_EXPORTER";

/// Where finished segments go (`OTEL_TRACES_EXPORTER`): X-Ray's daemon by UDP, an
/// OpenTelemetry collector by OTLP (feature `otlp`), both, or neither. Used when the recorder
/// builds its own emitter (no [`with_emitter`](crate::RecorderBuilder::with_emitter)).
///
/// ```
/// use xray_core::config::{Config, TracesExporter};
/// assert_eq!(Config::default().traces_exporter, TracesExporter { xray: true, otlp: false });
/// let cfg = Config::from_lookup(|n| (n == "OTEL_TRACES_EXPORTER").then(|| "none".into())).unwrap();
/// assert_eq!(cfg.traces_exporter, TracesExporter { xray: false, otlp: false });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracesExporter {
    /// UDP to the X-Ray daemon (`xray`).
    pub xray: bool,
    /// OTLP/HTTP to a collector (`otlp`).
    pub otlp: bool,
}

impl Default for TracesExporter {
    fn default() -> Self {
        Self { xray: true, otlp: false }
    }
}

/// The OTLP exporter's settings from OpenTelemetry's variables (see the [module](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The traces URL; `None` for the default, `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: Option<String>,
    /// One export request's deadline.
    pub timeout: std::time::Duration,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self { endpoint: None, timeout: std::time::Duration::from_secs(10) }
    }
}

impl OtlpConfig {
    /// Reads `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as it is), else `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (with `/v1/traces` appended), and the timeouts in milliseconds; a timeout that is not a
    /// number keeps the default and is reported, as is an `OTEL_EXPORTER_OTLP_PROTOCOL` other
    /// than `http/protobuf` (the only one spoken).
    ///
    /// ```
    /// use xray_core::config::OtlpConfig;
    /// let (cfg, problems) = OtlpConfig::from_lookup(|n| (n == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://collector:4318/".into()));
    /// assert_eq!(cfg.endpoint.as_deref(), Some("http://collector:4318/v1/traces"));
    /// assert!(problems.is_empty());
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<ConfigError>) {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            get("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        });
        let mut cfg = Self { endpoint, ..Self::default() };
        let mut vars = Lenient { lookup: get, problems: Vec::new() };
        let millis = |v: &str| v.trim().parse::<u64>().ok().map(std::time::Duration::from_millis);
        let timeout = vars.read("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", MILLIS_FORMS, millis);
        if let Some(t) = timeout.or_else(|| vars.read("OTEL_EXPORTER_OTLP_TIMEOUT", MILLIS_FORMS, millis)) {
            cfg.timeout = t;
        }
        for var in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            vars.read(var, "http/protobuf", |v| v.trim().eq_ignore_ascii_case("http/protobuf").then_some(()));
        }
        (cfg, vars.problems)
    }
}

/// A configuration value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable holds a value the SDK cannot use.
    #[error("{var}={value:?} is not valid: {reason}; accepted: {accepted}")]
    InvalidVar {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
        /// The forms the variable takes.
        accepted: &'static str,
    },
}

/// Why a daemon address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseAddressError {
    /// Not `host:port`.
    #[error("expected host:port, [ipv6]:port, or \"tcp:host:port udp:host:port\"")]
    Form,
    /// The port is not a number from 1 to 65535.
    #[error("invalid port {0:?}")]
    Port(String),
    /// The same protocol was given twice, or one of the two is missing.
    #[error("give exactly one tcp: and one udp: address")]
    Pair,
}

/// A host name of the daemon's address that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("the X-Ray daemon's host {host:?} did not resolve to an address{}", .source.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
pub struct ResolveError {
    /// The host name.
    pub host: String,
    /// The resolver's error, when it gave one (none when the name has no address).
    #[source]
    pub source: Option<std::io::Error>,
}

/// One `host:port` of the daemon, kept as written: a host name is looked up only when a
/// socket is made ([`resolve`](Self::resolve), called when the recorder is built), never
/// while parsing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The host: an IP address or a name, without the brackets of an IPv6 literal.
    host: String,
    port: u16,
}

impl Endpoint {
    /// The endpoint `host:port` (an IPv6 literal without brackets).
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self { host: host.into(), port }
    }

    /// The host, as written.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The socket address: an IP literal as it is, a host name through the system's resolver
    /// (a blocking lookup), preferring IPv4, as the daemon listens on 127.0.0.1 by default.
    ///
    /// ```
    /// use xray_core::config::Endpoint;
    /// assert_eq!(Endpoint::new("::1", 2000).resolve().unwrap().to_string(), "[::1]:2000");
    /// ```
    pub fn resolve(&self) -> Result<SocketAddr, ResolveError> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        let error = |source| ResolveError { host: self.host.clone(), source };
        let mut addrs =
            (self.host.as_str(), self.port).to_socket_addrs().map_err(|e| error(Some(e)))?.collect::<Vec<_>>();
        addrs.sort_by_key(|a| !a.is_ipv4());
        addrs.into_iter().next().ok_or_else(|| error(None))
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Self { host: addr.ip().to_string(), port: addr.port() }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for Endpoint {
    type Err = ParseAddressError;

    /// Parses `host:port` or `[ipv6]:port`; no lookup.
    fn from_str(hostport: &str) -> Result<Self, ParseAddressError> {
        let hostport = hostport.trim();
        if let Ok(addr) = hostport.parse::<SocketAddr>() {
            if addr.port() == 0 {
                return Err(ParseAddressError::Port("0".to_owned()));
            }
            return Ok(addr.into());
        }
        let (host, port) = hostport.rsplit_once(':').ok_or(ParseAddressError::Form)?;
        if host.is_empty() || host.contains(':') && !host.starts_with('[') {
            return Err(ParseAddressError::Form);
        }
        let port: u16 =
            port.parse().ok().filter(|p| *p != 0).ok_or_else(|| ParseAddressError::Port(port.to_owned()))?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if host.is_empty() || host.contains(['[', ']', '/', '@']) {
            return Err(ParseAddressError::Form);
        }
        Ok(Self::new(host, port))
    }
}

/// Where the X-Ray daemon listens: UDP for segments, TCP for sampling rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonAddress {
    /// Segments go here.
    pub udp: Endpoint,
    /// Sampling rules and targets are fetched from here.
    pub tcp: Endpoint,
}

impl Default for DaemonAddress {
    fn default() -> Self {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2000).into()
    }
}

impl From<SocketAddr> for DaemonAddress {
    /// The same address for UDP and TCP, as the daemon listens by default.
    fn from(addr: SocketAddr) -> Self {
        Self { udp: addr.into(), tcp: addr.into() }
    }
}

impl FromStr for DaemonAddress {
    type Err = ParseAddressError;

    /// Parses `host:port` (IPv6 in brackets) or `tcp:host:port udp:host:port` in either
    /// order. Host names are kept as written and resolved when the recorder is built.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [single] if !single.starts_with("tcp:") && !single.starts_with("udp:") => {
                let endpoint: Endpoint = single.parse()?;
                Ok(Self { udp: endpoint.clone(), tcp: endpoint })
            }
            [a, b] => {
                let (mut udp, mut tcp) = (None, None);
                for part in [a, b] {
                    let (slot, rest) = if let Some(rest) = part.strip_prefix("tcp:") {
                        (&mut tcp, rest)
                    } else if let Some(rest) = part.strip_prefix("udp:") {
                        (&mut udp, rest)
                    } else {
                        return Err(ParseAddressError::Pair);
                    };
                    if slot.replace(rest.parse::<Endpoint>()?).is_some() {
                        return Err(ParseAddressError::Pair);
                    }
                }
                match (udp, tcp) {
                    (Some(udp), Some(tcp)) => Ok(Self { udp, tcp }),
                    _ => Err(ParseAddressError::Pair),
                }
            }
            [_] => Err(ParseAddressError::Pair),
            _ => Err(ParseAddressError::Form),
        }
    }
}

impl fmt::Display for DaemonAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.udp == self.tcp { write!(f, "{}", self.udp) } else { write!(f, "tcp:{} udp:{}", self.tcp, self.udp) }
    }
}

/// What happens when code asks for the current segment and there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextMissing {
    /// Log an error (rate-limited) and carry on with a no-op entity.
    #[default]
    LogError,
    /// [`try_current`](crate::try_current) returns an error; nothing panics.
    RuntimeError,
    /// Carry on silently with a no-op entity.
    IgnoreError,
}

/// A context-missing strategy that is not `LOG_ERROR`, `RUNTIME_ERROR` or `IGNORE_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown context-missing strategy {0:?}: expected LOG_ERROR, RUNTIME_ERROR or IGNORE_ERROR (any case)")]
pub struct ParseContextMissingError(pub String);

impl FromStr for ContextMissing {
    type Err = ParseContextMissingError;

    /// Parses `LOG_ERROR`, `RUNTIME_ERROR` or `IGNORE_ERROR`, in any case.
    fn from_str(s: &str) -> Result<Self, ParseContextMissingError> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("LOG_ERROR") {
            Ok(Self::LogError)
        } else if s.eq_ignore_ascii_case("RUNTIME_ERROR") {
            Ok(Self::RuntimeError)
        } else if s.eq_ignore_ascii_case("IGNORE_ERROR") {
            Ok(Self::IgnoreError)
        } else {
            Err(ParseContextMissingError(s.to_owned()))
        }
    }
}

/// Everything the standard environment variables configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `AWS_XRAY_DAEMON_ADDRESS`.
    pub daemon_address: DaemonAddress,
    /// `AWS_XRAY_CONTEXT_MISSING`.
    pub context_missing: ContextMissing,
    /// `AWS_XRAY_TRACING_NAME`.
    pub tracing_name: Option<String>,
    /// `AWS_XRAY_SDK_ENABLED` / `AWS_XRAY_SDK_DISABLED`.
    pub enabled: bool,
    /// `AWS_XRAY_NOOP_ID`: `true` leaves unsampled requests without entity ids.
    pub noop_id: bool,
    /// `AWS_XRAY_COLLECT_SQL_QUERIES`.
    pub collect_sql_queries: bool,
    /// `AWS_XRAY_LOG_LEVEL`, or `Debug` with `AWS_XRAY_DEBUG_MODE=true`.
    pub log_level: LogLevel,
    /// `OTEL_PROPAGATORS`: which trace headers are read and written.
    pub propagation: Propagation,
    /// `OTEL_TRACES_EXPORTER`: where segments go.
    pub traces_exporter: TracesExporter,
    /// `OTEL_EXPORTER_OTLP_*`: the OTLP exporter's endpoint and timeout.
    pub otlp: OtlpConfig,
    /// The variables whose values could not be used and were replaced by their defaults.
    pub problems: Vec<ConfigError>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            daemon_address: DaemonAddress::default(),
            context_missing: ContextMissing::default(),
            tracing_name: None,
            enabled: true,
            noop_id: true,
            collect_sql_queries: false,
            log_level: LogLevel::default(),
            propagation: Propagation::default(),
            traces_exporter: TracesExporter::default(),
            otlp: OtlpConfig::default(),
            problems: Vec::new(),
        }
    }
}

const BOOL_FORMS: &str = "true or false (also 1/0, yes/no, on/off), any case";
const CONTEXT_MISSING_FORMS: &str = "LOG_ERROR, RUNTIME_ERROR or IGNORE_ERROR, any case";
const LOG_LEVEL_FORMS: &str = "debug, info, warn, error or silent, any case";
const PROPAGATORS_FORMS: &str = "a comma-separated list of xray, tracecontext or none, any case";
const EXPORTER_FORMS: &str = "a comma-separated list of xray, otlp (with the otlp cargo feature) or none, any case";
const MILLIS_FORMS: &str = "a whole number of milliseconds";

/// `OTEL_TRACES_EXPORTER`'s value: the exporters it names, and the names it holds that this
/// SDK cannot follow (unknown, or `otlp` without the `otlp` feature). `None` when it names
/// none this SDK knows, which keeps the default.
fn parse_traces_exporter(value: &str) -> (Option<TracesExporter>, Vec<String>) {
    let (mut exporter, mut named, mut unknown) = (TracesExporter { xray: false, otlp: false }, false, Vec::new());
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("xray") {
            exporter.xray = true;
        } else if name.eq_ignore_ascii_case("otlp") && cfg!(feature = "otlp") {
            exporter.otlp = true;
        } else if !name.eq_ignore_ascii_case("none") {
            unknown.push(name.to_owned());
            continue;
        }
        named = true;
    }
    // Only names this SDK cannot follow: the default stays rather than sending nothing.
    (named.then_some(exporter), unknown)
}

/// Reads the variables whose bad values keep the default: each one is logged and kept.
struct Lenient<F> {
    lookup: F,
    problems: Vec<ConfigError>,
}

impl<F: Fn(&str) -> Option<String>> Lenient<F> {
    /// The parsed value of `var`; `None` when unset or when `parse` refuses it (then logged).
    fn read<T>(&mut self, var: &'static str, accepted: &'static str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let value = (self.lookup)(var)?;
        let parsed = parse(&value);
        if parsed.is_none() {
            let problem = ConfigError::InvalidVar { var, value, reason: "not a known value".to_owned(), accepted };
            log_event!(Warn, %problem, "X-Ray configuration value ignored; its default applies");
            self.problems.push(problem);
        }
        parsed
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (a map in tests, the environment in production).
    ///
    /// ```
    /// use xray_core::{Config, ContextMissing};
    /// let cfg = Config::from_lookup(|name| match name {
    ///     "AWS_XRAY_DAEMON_ADDRESS" => Some("tcp:127.0.0.1:2000 udp:127.0.0.1:2001".into()),
    ///     "AWS_XRAY_CONTEXT_MISSING" => Some("ignore_error".into()),
    ///     _ => None,
    /// }).unwrap();
    /// assert_eq!(cfg.daemon_address.udp.port(), 2001);
    /// assert_eq!(cfg.context_missing, ContextMissing::IgnoreError);
    ///
    /// // A typo in most variables keeps the default, with a warning...
    /// let cfg = Config::from_lookup(|n| (n == "AWS_XRAY_SDK_ENABLED").then(|| "nope".into())).unwrap();
    /// assert!(cfg.enabled);
    /// assert!(cfg.problems[0].to_string().contains("AWS_XRAY_SDK_ENABLED=\"nope\""));
    /// // ...but a daemon address that cannot be used stops the start-up.
    /// let err = Config::from_lookup(|n| (n == "AWS_XRAY_DAEMON_ADDRESS").then(|| "nowhere".into())).unwrap_err();
    /// assert!(err.to_string().contains("AWS_XRAY_DAEMON_ADDRESS"));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut cfg = Self::default();
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get(DAEMON_ADDRESS_VAR) {
            cfg.daemon_address = v.parse().map_err(|e: ParseAddressError| ConfigError::InvalidVar {
                var: DAEMON_ADDRESS_VAR,
                reason: e.to_string(),
                value: v,
                accepted: "host:port, [ipv6]:port, or \"tcp:host:port udp:host:port\"",
            })?;
        }
        let mut vars = Lenient { lookup: get, problems: Vec::new() };
        if let Some(strategy) = vars.read("AWS_XRAY_CONTEXT_MISSING", CONTEXT_MISSING_FORMS, |v| v.parse().ok()) {
            cfg.context_missing = strategy;
        }
        cfg.tracing_name = get("AWS_XRAY_TRACING_NAME").map(|v| v.trim().to_owned());
        if let Some(enabled) = vars.read("AWS_XRAY_SDK_ENABLED", BOOL_FORMS, parse_bool) {
            cfg.enabled = enabled;
        }
        if let Some(disabled) = vars.read("AWS_XRAY_SDK_DISABLED", BOOL_FORMS, parse_bool) {
            cfg.enabled &= !disabled;
        }
        if let Some(noop_id) = vars.read("AWS_XRAY_NOOP_ID", BOOL_FORMS, parse_bool) {
            cfg.noop_id = noop_id;
        }
        if let Some(collect) = vars.read("AWS_XRAY_COLLECT_SQL_QUERIES", BOOL_FORMS, parse_bool) {
            cfg.collect_sql_queries = collect;
        }
        if let Some(level) = vars.read("AWS_XRAY_LOG_LEVEL", LOG_LEVEL_FORMS, LogLevel::parse) {
            cfg.log_level = level;
        }
        if vars.read("AWS_XRAY_DEBUG_MODE", BOOL_FORMS, parse_bool) == Some(true) {
            cfg.log_level = LogLevel::Debug;
        }
        cfg.problems = vars.problems;
        if let Some(value) = get(OTEL_PROPAGATORS_VAR) {
            // Other propagators (baggage, b3, ...) belong to an OpenTelemetry SDK beside this
            // one: their names are reported and the ones this SDK knows still apply.
            let (propagation, unknown) = Propagation::from_otel_propagators(&value);
            if !unknown.is_empty() {
                let reason = format!("unknown propagator names {} are ignored", unknown.join(", "));
                let problem = ConfigError::InvalidVar {
                    var: OTEL_PROPAGATORS_VAR,
                    value: value.clone(),
                    reason,
                    accepted: PROPAGATORS_FORMS,
                };
                log_event!(Warn, %problem, "X-Ray configuration value partly ignored");
                cfg.problems.push(problem);
            }
            if let Some(propagation) = propagation {
                cfg.propagation = propagation;
            }
        }
        if let Some(value) = get(OTEL_TRACES_EXPORTER_VAR) {
            let (exporter, unknown) = parse_traces_exporter(&value);
            if !unknown.is_empty() {
                let reason = format!("exporters {} are not available here and are ignored", unknown.join(", "));
                let problem = ConfigError::InvalidVar {
                    var: OTEL_TRACES_EXPORTER_VAR,
                    value: value.clone(),
                    reason,
                    accepted: EXPORTER_FORMS,
                };
                log_event!(Warn, %problem, "X-Ray configuration value partly ignored");
                cfg.problems.push(problem);
            }
            if let Some(exporter) = exporter {
                cfg.traces_exporter = exporter;
            }
        }
        let (otlp, problems) = OtlpConfig::from_lookup(get);
        cfg.otlp = otlp;
        cfg.problems.extend(problems);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.daemon_address.udp.to_string(), "127.0.0.1:2000");
        assert_eq!(c.daemon_address, DaemonAddress::from("127.0.0.1:2000".parse::<SocketAddr>().unwrap()));
    }

    #[test]
    fn daemon_address_forms() {
        let ok = [
            ("127.0.0.1:3000", "127.0.0.1:3000", "127.0.0.1:3000"),
            ("[::1]:2000", "[::1]:2000", "[::1]:2000"),
            ("localhost:2500", "localhost:2500", "localhost:2500"),
            ("tcp:127.0.0.1:2000 udp:127.0.0.2:2001", "127.0.0.2:2001", "127.0.0.1:2000"),
            ("udp:127.0.0.2:2001   tcp:127.0.0.1:2000", "127.0.0.2:2001", "127.0.0.1:2000"),
            ("tcp:[::1]:1 udp:localhost:9", "localhost:9", "[::1]:1"),
            // Parsing looks nothing up: a name that does not resolve fails when the socket is made.
            ("no-such-host.invalid:2000", "no-such-host.invalid:2000", "no-such-host.invalid:2000"),
        ];
        for (input, udp, tcp) in ok {
            let a: DaemonAddress = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(a.udp.to_string(), udp, "{input}");
            assert_eq!(a.tcp.to_string(), tcp, "{input}");
        }
        let bad = [
            ("127.0.0.1", ParseAddressError::Form),
            ("127.0.0.1:0", ParseAddressError::Port("0".into())),
            ("127.0.0.1:99999", ParseAddressError::Port("99999".into())),
            ("tcp:127.0.0.1:2000", ParseAddressError::Pair),
            ("tcp:127.0.0.1:2000 tcp:127.0.0.1:2001", ParseAddressError::Pair),
            ("tcp:127.0.0.1:2000 foo:127.0.0.1:2001", ParseAddressError::Pair),
            ("a b c", ParseAddressError::Form),
            ("[]:2000", ParseAddressError::Form),
            ("user@host:2000", ParseAddressError::Form),
        ];
        for (input, want) in bad {
            assert_eq!(input.parse::<DaemonAddress>().unwrap_err(), want, "{input}");
        }
    }

    #[test]
    fn endpoints_resolve_when_asked() {
        assert_eq!("localhost:2500".parse::<Endpoint>().unwrap().resolve().unwrap().to_string(), "127.0.0.1:2500");
        assert_eq!("[::1]:7".parse::<Endpoint>().unwrap().resolve().unwrap().to_string(), "[::1]:7");
        let err = "no-such-host.invalid:2000".parse::<Endpoint>().unwrap().resolve().unwrap_err();
        assert_eq!(err.host, "no-such-host.invalid");
        assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
    }

    #[test]
    fn every_variable() {
        let c = cfg(&[
            ("AWS_XRAY_CONTEXT_MISSING", "runtime_error"),
            ("AWS_XRAY_TRACING_NAME", " checkout "),
            ("AWS_XRAY_SDK_ENABLED", "TRUE"),
            ("AWS_XRAY_SDK_DISABLED", "true"),
            ("AWS_XRAY_NOOP_ID", "false"),
            ("AWS_XRAY_COLLECT_SQL_QUERIES", "true"),
            ("AWS_XRAY_LOG_LEVEL", "error"),
        ])
        .unwrap();
        assert_eq!(c.context_missing, ContextMissing::RuntimeError);
        assert_eq!(c.tracing_name.as_deref(), Some("checkout"));
        assert!(!c.enabled);
        assert!(!c.noop_id);
        assert!(c.collect_sql_queries);
        assert_eq!(c.log_level, LogLevel::Error);
        assert!(!cfg(&[("AWS_XRAY_SDK_ENABLED", "false")]).unwrap().enabled);
    }

    #[test]
    fn a_bad_daemon_address_stops_the_start_up() {
        let err = cfg(&[("AWS_XRAY_DAEMON_ADDRESS", "nowhere")]).unwrap_err();
        let text = err.to_string();
        for part in ["AWS_XRAY_DAEMON_ADDRESS", "nowhere", "host:port", "udp:"] {
            assert!(text.contains(part), "{part} not in {text}");
        }
    }

    #[test]
    fn other_bad_values_keep_their_defaults_and_are_reported() {
        let cases = [
            ("AWS_XRAY_CONTEXT_MISSING", "PANIC", "LOG_ERROR"),
            ("AWS_XRAY_SDK_ENABLED", "maybe", "true or false"),
            ("AWS_XRAY_SDK_DISABLED", "2", "true or false"),
            ("AWS_XRAY_NOOP_ID", "x", "true or false"),
            ("AWS_XRAY_COLLECT_SQL_QUERIES", "y", "true or false"),
            ("AWS_XRAY_LOG_LEVEL", "chatty", "silent"),
            ("AWS_XRAY_DEBUG_MODE", "sure", "true or false"),
        ];
        for (var, value, form) in cases {
            let c = cfg(&[(var, value)]).unwrap_or_else(|e| panic!("{var}: {e}"));
            let [problem] = c.problems.as_slice() else { panic!("{var}: {:?}", c.problems) };
            let ConfigError::InvalidVar { var: v, value: got, .. } = problem;
            assert_eq!((*v, got.as_str()), (var, value));
            let text = problem.to_string();
            assert!(text.contains(var) && text.contains(value) && text.contains(form), "{text}");
            assert_eq!(Config { problems: Vec::new(), ..c }, Config::default(), "{var} keeps every default");
        }
    }

    #[test]
    fn debug_mode_turns_on_debug_logging_over_the_log_level() {
        let c = cfg(&[("AWS_XRAY_DEBUG_MODE", "TRUE"), ("AWS_XRAY_LOG_LEVEL", "error")]).unwrap();
        assert_eq!(c.log_level, LogLevel::Debug);
        let c = cfg(&[("AWS_XRAY_DEBUG_MODE", "false"), ("AWS_XRAY_LOG_LEVEL", "error")]).unwrap();
        assert_eq!(c.log_level, LogLevel::Error);
    }

    #[test]
    fn otel_propagators_names_the_headers() {
        // (value, propagation, unknown names reported)
        let cases = [
            ("xray", Propagation::Xray, ""),
            ("tracecontext", Propagation::W3c, ""),
            ("tracecontext,baggage,xray", Propagation::Both, "baggage"),
            (" TraceContext , XRAY ", Propagation::Both, ""),
            ("xray-lambda", Propagation::Xray, ""),
            ("none", Propagation::Off, ""),
            ("baggage,tracecontext", Propagation::W3c, "baggage"),
            // Nothing this SDK knows: the default stays, and the names are reported.
            ("b3,jaeger", Propagation::Both, "b3, jaeger"),
            ("tracecontex", Propagation::Both, "tracecontex"),
            (",,", Propagation::Both, ""),
        ];
        for (value, want, unknown) in cases {
            let c = cfg(&[("OTEL_PROPAGATORS", value)]).unwrap();
            assert_eq!(c.propagation, want, "{value:?}");
            match c.problems.as_slice() {
                [] => assert_eq!(unknown, "", "{value:?}"),
                [problem] => {
                    let text = problem.to_string();
                    assert!(text.contains("OTEL_PROPAGATORS") && text.contains(unknown), "{value:?}: {text}");
                }
                more => panic!("{value:?}: {more:?}"),
            }
        }
        assert_eq!(cfg(&[]).unwrap().propagation, Propagation::Both);
    }

    #[test]
    fn otel_traces_exporter_and_otlp_settings() {
        let otlp = cfg!(feature = "otlp");
        // (value, xray, otlp, problem reported)
        let cases = [
            ("xray", true, false, false),
            ("otlp", !otlp, otlp, !otlp),
            ("xray,otlp", true, otlp, !otlp),
            (" OTLP , XRay ", true, otlp, !otlp),
            ("none", false, false, false),
            ("zipkin", true, false, true),
            ("zipkin,none", false, false, true),
            ("console,xray", true, false, true),
        ];
        for (value, xray, want_otlp, problem) in cases {
            let c = cfg(&[("OTEL_TRACES_EXPORTER", value)]).unwrap();
            assert_eq!(c.traces_exporter, TracesExporter { xray, otlp: want_otlp }, "{value:?}");
            assert_eq!(!c.problems.is_empty(), problem, "{value:?}: {:?}", c.problems);
        }
        assert_eq!(cfg(&[]).unwrap().otlp, OtlpConfig::default());
        let c = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])
        .unwrap();
        assert_eq!(c.otlp.endpoint.as_deref(), Some("http://collector:4318/v1/traces"));
        assert_eq!(c.otlp.timeout, std::time::Duration::from_millis(2500));
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let c = cfg(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/custom"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .unwrap();
        assert_eq!(c.otlp.endpoint.as_deref(), Some("http://traces:4318/custom"));
        assert_eq!(c.otlp.timeout, std::time::Duration::from_secs(10));
        let vars: Vec<_> = c.problems.iter().map(|ConfigError::InvalidVar { var, .. }| *var).collect();
        assert_eq!(vars, ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_PROTOCOL"]);
    }

    #[test]
    fn context_missing_parse_error_names_the_value() {
        let err = "sometimes".parse::<ContextMissing>().unwrap_err();
        assert_eq!(err, ParseContextMissingError("sometimes".into()));
        assert!(err.to_string().contains("RUNTIME_ERROR"));
    }
}
