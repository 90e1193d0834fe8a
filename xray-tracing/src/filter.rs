//! Which spans the layer records by default: INFO and above, from crates whose work is not
//! already recorded by an X-Ray integration.

use std::borrow::Cow;

use tracing::Metadata;
use tracing::level_filters::LevelFilter;

/// The targets (crates) whose spans the layer leaves out by default, because an X-Ray
/// integration records the same work or because they describe plumbing below one request:
/// `sqlx`, `hyper`, `hyper_util`, `h2`, `tower_http`, `reqwest`, `reqwest_tracing`,
/// `reqwest_middleware`, every `aws_sdk_*` and `aws_smithy_*` crate, `aws_runtime`,
/// `aws_config`, `aws_sigv4`, `aws_credential_types`, `aws_types`, `lambda_runtime`,
/// `lambda_http`, `tonic`, `tokio` (its `runtime.spawn` task spans, target `tokio::task`) and the
/// `xray_*` crates.
///
/// What the excluded crates emit (as of sqlx 0.9, hyper 1, aws-smithy-runtime 1.16,
/// aws-sdk-s3 1.157, lambda_runtime 1.5):
/// - `sqlx` logs each statement as an *event* on target `sqlx::query` (DEBUG by default, WARN
///   when slow), not as a span; `xray-sqlx` records the statement as a subsegment.
/// - `hyper` and `h2` have spans only at DEBUG and TRACE, and hyper only behind its unstable
///   `tracing` cfg; `hyper_util`'s connection pool and resolver log DEBUG/TRACE events.
/// - Every generated `aws_sdk_*` operation runs inside a DEBUG span named after it
///   (`S3.GetObject`, target `aws_sdk_s3::operation::get_object`, fields `rpc.service`,
///   `rpc.method`): exactly the call `xray-aws-sdk`'s interceptor records as a subsegment, so
///   it is excluded by target and not only by level. Below it, `aws-smithy-runtime` (the
///   orchestrator) opens DEBUG spans `try_op`, `try_attempt`, `finally_attempt`,
///   `serialization`, `orchestrate_endpoint`, `deserialization`, `read_body` and
///   `lazy_load_identity`; `aws-config` (`default_credentials_chain`, `assume_role`,
///   `imds_load_region`, ...) and `aws-runtime` (`load_config_file`) open DEBUG spans for
///   credentials and configuration.
/// - `lambda_runtime` opens INFO spans around each invocation (`Lambda runtime invoke`) and
///   its worker task, which `xray-lambda` records as the function's facade segment.
/// - `tower_http`'s `TraceLayer` opens a `request` span (DEBUG by default) around the request
///   that `xray_tower::XrayLayer` already records as the segment; `reqwest_tracing` opens an
///   INFO `HTTP request` span around the call that `xray-reqwest` records.
///
/// The level bound alone keeps most of them out; the target list also keeps them out when a
/// service raises their level (`sqlx=info`, `tower_http=info`) for its logs.
///
/// An entry ending in `_` is a prefix of crate names; any other entry matches the crate and its
/// modules (`sqlx` matches `sqlx` and `sqlx::query`, not `sqlx_utils`).
pub const DEFAULT_EXCLUDED_TARGETS: &[&str] = &[
    "sqlx",
    "hyper",
    "hyper_util",
    "h2",
    "tower_http",
    "reqwest",
    "reqwest_tracing",
    "reqwest_middleware",
    "aws_sdk_",
    "aws_smithy_",
    "aws_runtime",
    "aws_config",
    "aws_sigv4",
    "aws_credential_types",
    "aws_types",
    "lambda_runtime",
    "lambda_http",
    "tonic",
    "tokio",
    "xray_core",
    "xray_tower",
    "xray_reqwest",
    "xray_sqlx",
    "xray_aws_sdk",
    "xray_lambda",
    "xray_tracing",
    "xray_local",
];

/// The layer's own bound on the spans it records, checked before anything else.
#[derive(Debug, Clone)]
pub(crate) struct SpanFilter {
    pub(crate) max_level: LevelFilter,
    pub(crate) excluded: Vec<Cow<'static, str>>,
}

impl Default for SpanFilter {
    fn default() -> Self {
        Self {
            max_level: LevelFilter::INFO,
            excluded: DEFAULT_EXCLUDED_TARGETS.iter().map(|t| Cow::Borrowed(*t)).collect(),
        }
    }
}

impl SpanFilter {
    /// Whether spans of this callsite may become subsegments.
    #[inline]
    pub(crate) fn accepts(&self, meta: &Metadata<'_>) -> bool {
        // `Level` orders more verbose as greater: TRACE > DEBUG > INFO.
        if *meta.level() > self.max_level {
            return false;
        }
        let target = meta.target();
        !self.excluded.iter().any(|t| matches_target(target, t))
    }
}

/// `sqlx` matches `sqlx` and `sqlx::query`; `aws_sdk_` matches `aws_sdk_s3::...`.
#[inline]
fn matches_target(target: &str, entry: &str) -> bool {
    // Most entries differ in their first byte: that comparison saves a `memcmp` call each.
    if target.as_bytes().first() != entry.as_bytes().first() {
        return false;
    }
    match target.strip_prefix(entry) {
        None => false,
        Some(rest) => entry.ends_with('_') || rest.is_empty() || rest.starts_with("::"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_table() {
        for (target, entry, expected) in [
            ("sqlx", "sqlx", true),
            ("sqlx::query", "sqlx", true),
            ("sqlx_utils", "sqlx", false),
            ("my_sqlx", "sqlx", false),
            ("aws_sdk_s3::operation", "aws_sdk_", true),
            ("aws_sdk_dynamodb", "aws_sdk_", true),
            ("aws_sdkx", "aws_sdk_", false),
            ("aws_smithy_runtime::client::orchestrator", "aws_smithy_", true),
            ("aws_smithy_http_client::hyper_014", "aws_smithy_", true),
            ("aws_runtime::env_config::source", "aws_runtime", true),
            ("lambda_runtime::layers::trace", "lambda_runtime", true),
            ("xray_tower::service", "xray_tower", true),
            ("xray_examples::services", "xray_tower", false),
            ("hyper_util::client", "hyper", false),
            ("hyper_util::client", "hyper_util", true),
            ("orders::handlers", "sqlx", false),
            ("", "sqlx", false),
            ("s", "sqlx", false),
        ] {
            assert_eq!(matches_target(target, entry), expected, "{target} vs {entry}");
        }
    }
}
