//! The trace headers on an outgoing AWS request, in the SDK's own header type.
//!
//! The same rules as `xray_core::outbound::inject`, for the SDK's header map, which is not
//! `http`'s, in two steps: `X-Amzn-Trace-Id` before signing (SigV4 leaves it unsigned, and the
//! SDK's recursion-detection interceptor, which puts Lambda's own header on a request that has
//! none, runs then), `traceparent` after it, so that SigV4 does not sign (and hash) it too: AWS
//! services check only the headers a request lists as signed.

use aws_smithy_runtime_api::http::Headers;
use xray_core::Entity;
use xray_core::integration::HEADER_NAME_LOWER;
use xray_core::w3c::{TRACEPARENT, TRACESTATE};

/// Adds `X-Amzn-Trace-Id` (Parent = `entity`) when `entity`'s trace propagates X-Ray's header
/// and the caller has not set one.
pub(crate) fn inject_xray(headers: &mut Headers, entity: &Entity) {
    if entity.propagation().xray()
        && !headers.contains_key(HEADER_NAME_LOWER)
        && let Some(header) = entity.downstream_header()
        && let Ok(value) = String::from_utf8(header.to_vec())
    {
        // A header is printable ASCII, so this cannot fail; a failure only leaves it out.
        let _ = headers.try_insert(HEADER_NAME_LOWER, value);
    }
}

/// Adds W3C's `traceparent` (parent = `entity`) with the `tracestate` that came in, when
/// `entity`'s trace propagates them and the caller has not set one.
pub(crate) fn inject_w3c(headers: &mut Headers, entity: &Entity) {
    if entity.propagation().w3c()
        && !headers.contains_key(TRACEPARENT)
        && let Some(parent) = entity.downstream_traceparent()
        && let Ok(value) = String::from_utf8(parent.to_bytes().to_vec())
        && headers.try_insert(TRACEPARENT, value).is_ok()
        && !headers.contains_key(TRACESTATE)
        && let Some(state) = entity.tracestate()
    {
        let _ = headers.try_insert(TRACESTATE, state.to_owned());
    }
}
