//! The trace headers on an outgoing AWS request, in the SDK's own header type.

use aws_smithy_runtime_api::http::Headers;
use xray_core::Entity;
use xray_core::integration::HEADER_NAME_LOWER;
use xray_core::w3c::{TRACEPARENT, TRACESTATE};

/// Adds `entity`'s downstream headers as its trace's propagation says: `X-Amzn-Trace-Id`
/// (Parent = `entity`), and W3C's `traceparent` with the `tracestate` that came in. A header
/// the caller set is never replaced. The same rules as `xray_core::outbound::inject`, for the
/// SDK's header map, which is not `http`'s.
pub(crate) fn inject(headers: &mut Headers, entity: &Entity) {
    let propagation = entity.propagation();
    if propagation.xray()
        && !headers.contains_key(HEADER_NAME_LOWER)
        && let Some(header) = entity.downstream_header()
        && let Ok(value) = String::from_utf8(header.to_vec())
    {
        // A header is printable ASCII, so this cannot fail; a failure only leaves it out.
        let _ = headers.try_insert(HEADER_NAME_LOWER, value);
    }
    if propagation.w3c()
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
