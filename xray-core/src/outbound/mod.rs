//! One outgoing HTTP call, as every HTTP-client integration records it (feature `http`).
//!
//! `xray-reqwest` and `xray-tower`'s client layer both go through [`Call`]: they differ only in
//! their request, response and error types. A call is
//! - a subsegment of the current entity, named after the host ([`host_name`]) or by the
//!   integration's naming hook, in namespace `remote`, with `http.request` (method, URL
//!   without user-info or query unless asked for);
//! - an `X-Amzn-Trace-Id` header ([`TRACE_HEADER`], [`inject`]) with `Parent` = the subsegment,
//!   unless the caller set one;
//! - `http.response` (status, and `Content-Length` or else the bytes read) with the flags the
//!   status implies, or an error ([`Call::fail`]) classified by [`Failure`], whose recorded
//!   messages hold no user-info or query ([`scrub_urls`]);
//! - `traced: true` only when our header went out *and* the request reached the peer, since
//!   X-Ray then waits for the callee's segment;
//! - cancelled (an error with a [`CANCELLED_TYPE`] exception) when dropped before its response.
//!
//! ```
//! use std::sync::Arc;
//! use http::{HeaderMap, StatusCode};
//! use xray_core::outbound::{self, Call};
//! use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
//!
//! let emitter = Arc::new(MemoryEmitter::new());
//! let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter.clone()).build().unwrap();
//! let segment = recorder.new_segment("orders");
//! segment.in_scope(|| {
//!     let mut headers = HeaderMap::new();
//!     let Some(parent) = outbound::recording_parent(&mut headers) else { return };
//!     let mut call = Call::start(&parent, "inventory", "GET", "http://inventory/items/7".into(), false);
//!     call.inject(&mut headers);
//!     // ... send the request, then:
//!     call.response(StatusCode::OK, &HeaderMap::new());
//!     call.received(12);
//! });
//! segment.end();
//! let call = &emitter.documents()[0]["subsegments"][0];
//! assert_eq!(call["http"]["request"]["traced"], true);
//! assert_eq!(call["http"]["response"]["content_length"], 12);
//! ```

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::Entity;
use crate::header::HEADER_NAME_LOWER;

mod call;
mod scrub;

pub use call::{Call, Failure};
pub use scrub::scrub_urls;

/// `X-Amzn-Trace-Id` as a header name. A `const`, so that neither lookups nor inserts parse
/// and validate the name on each request, as a `&str` key or a run-time `from_static` would.
pub const TRACE_HEADER: HeaderName = HeaderName::from_static(HEADER_NAME_LOWER);

/// The subsegment name of a call whose host is unknown.
pub const UNKNOWN_HOST: &str = "unknown";

/// The exception type of a call (or request) dropped before its response arrived.
pub const CANCELLED_TYPE: &str = "RequestCancelled";

/// The exception type of a response body that failed while it was moving.
pub const BODY_ERROR_TYPE: &str = "BodyError";

/// Adds `entity`'s downstream header to `headers` unless the caller set one; `true` when it
/// did. Outside a trace nothing is added.
///
/// ```
/// # use http::HeaderMap;
/// # use xray_core::{Entity, outbound};
/// let mut headers = HeaderMap::new();
/// assert!(!outbound::inject(&mut headers, &Entity::noop()));
/// assert!(headers.is_empty());
/// ```
pub fn inject(headers: &mut HeaderMap, entity: &Entity) -> bool {
    if headers.contains_key(&TRACE_HEADER) {
        return false;
    }
    // A buffer of exactly the header's length, which the value takes over without a copy.
    match entity.downstream_header().map(|h| HeaderValue::try_from(h.to_vec())) {
        Some(Ok(value)) => {
            headers.insert(TRACE_HEADER, value);
            true
        }
        _ => false,
    }
}

/// The entity an outgoing call records under, from the current context: `None` outside a
/// trace, and `None` in an unsampled trace, after injecting its header (`Sampled=0`) into
/// `headers` so that the callee learns the decision. Neither case allocates more than that
/// header.
pub fn recording_parent(headers: &mut HeaderMap) -> Option<Entity> {
    let parent = crate::context::current_quiet();
    if parent.is_noop() {
        return None;
    }
    if !parent.is_sampled() {
        inject(headers, &parent);
        return None;
    }
    Some(parent)
}

/// The default subsegment name for a host: the host without the brackets of an IPv6 literal
/// (X-Ray names cannot hold brackets), or [`UNKNOWN_HOST`].
///
/// ```
/// # use xray_core::outbound::host_name;
/// assert_eq!(host_name(Some("[::1]")), "::1");
/// assert_eq!(host_name(Some("")), "unknown");
/// ```
pub fn host_name(host: Option<&str>) -> &str {
    match host.filter(|h| !h.is_empty()) {
        Some(h) => h.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(h),
        None => UNKNOWN_HOST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for (host, name) in
            [(Some("api.example"), "api.example"), (Some("[2001:db8::7]"), "2001:db8::7"), (None, "unknown")]
        {
            assert_eq!(host_name(host), name);
        }
    }
}
