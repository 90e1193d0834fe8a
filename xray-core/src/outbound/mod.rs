//! One outgoing HTTP call, as every HTTP-client integration records it (feature `http`).
//!
//! `xray-reqwest` and `xray-tower`'s client layer both go through [`Call`]: they differ only in
//! their request, response and error types. A call is
//! - a subsegment of the current entity, named after the host ([`host_name`]) or by the
//!   integration's naming hook, in namespace `remote`, with `http.request` (method, URL
//!   without user-info or query unless asked for);
//! - an `X-Amzn-Trace-Id` header ([`TRACE_HEADER`], [`inject`]) with `Parent` = the subsegment,
//!   and beside it W3C's `traceparent` (same trace, same parent) and the `tracestate` that came
//!   in, as the recorder's [`Propagation`](crate::Propagation) says; never over a header the
//!   caller set;
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
use crate::w3c;

mod call;
mod scrub;

pub use call::{Call, Failure};
pub use scrub::scrub_urls;

/// `X-Amzn-Trace-Id` as a header name. A `const`, so that neither lookups nor inserts parse
/// and validate the name on each request, as a `&str` key or a run-time `from_static` would.
pub const TRACE_HEADER: HeaderName = HeaderName::from_static(HEADER_NAME_LOWER);

/// `traceparent` as a header name (see [`TRACE_HEADER`] for why a `const`).
pub const TRACEPARENT_HEADER: HeaderName = HeaderName::from_static(w3c::TRACEPARENT);

/// `tracestate` as a header name.
pub const TRACESTATE_HEADER: HeaderName = HeaderName::from_static(w3c::TRACESTATE);

/// The subsegment name of a call whose host is unknown.
pub const UNKNOWN_HOST: &str = "unknown";

/// The exception type of a call (or request) dropped before its response arrived.
pub const CANCELLED_TYPE: &str = "RequestCancelled";

/// The exception type of a response body that failed while it was moving.
pub const BODY_ERROR_TYPE: &str = "BodyError";

/// Adds `entity`'s downstream headers to `headers`, as its trace's
/// [`Propagation`](crate::Propagation) says: `X-Amzn-Trace-Id`
/// ([`Entity::downstream_header`]), and `traceparent` ([`Entity::downstream_traceparent`])
/// with the `tracestate` that came in ([`Entity::tracestate`]). A header the caller set is
/// never replaced, and `tracestate` goes out only beside our own `traceparent`, which it
/// belongs to. Outside a trace nothing is added.
///
/// Returns `true` when the header a callee reads first names this entity: `X-Amzn-Trace-Id`
/// (which wins over `traceparent` in this SDK and the other X-Ray SDKs), or `traceparent` when
/// X-Ray's header is switched off.
///
/// ```
/// # use http::HeaderMap;
/// # use xray_core::{Entity, outbound};
/// let mut headers = HeaderMap::new();
/// assert!(!outbound::inject(&mut headers, &Entity::noop()));
/// assert!(headers.is_empty());
/// ```
pub fn inject(headers: &mut HeaderMap, entity: &Entity) -> bool {
    let propagation = entity.propagation();
    let xray = propagation.xray() && inject_xray(headers, entity);
    let w3c = propagation.w3c() && inject_w3c(headers, entity);
    if propagation.xray() { xray } else { w3c }
}

/// `X-Amzn-Trace-Id`, unless the caller set one; `true` when added.
fn inject_xray(headers: &mut HeaderMap, entity: &Entity) -> bool {
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

/// `traceparent`, and the trace's `tracestate` beside it, unless the caller set a
/// `traceparent`; `true` when added.
fn inject_w3c(headers: &mut HeaderMap, entity: &Entity) -> bool {
    if headers.contains_key(&TRACEPARENT_HEADER) {
        return false;
    }
    let Some(Ok(value)) = entity.downstream_traceparent().map(|tp| HeaderValue::from_bytes(&tp.to_bytes())) else {
        return false;
    };
    headers.insert(TRACEPARENT_HEADER, value);
    // Checked when it came in (printable ASCII), so the conversion cannot fail.
    if !headers.contains_key(&TRACESTATE_HEADER)
        && let Some(Ok(state)) = entity.tracestate().map(HeaderValue::from_str)
    {
        headers.insert(TRACESTATE_HEADER, state);
    }
    true
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
    use crate::test::Capture;
    use crate::w3c::TraceParent;
    use crate::{NeverSample, Propagation, TraceHeader};

    const W3C_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const W3C_PARENT: &str = "00f067aa0ba902b7";

    /// A caller's W3C context: `traceparent` (sampled) with a `tracestate`.
    fn w3c_caller() -> TraceHeader {
        let tp = TraceParent::parse(&format!("00-{W3C_TRACE}-{W3C_PARENT}-01")).unwrap();
        tp.to_header().with_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    }

    fn value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
        headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Begins a segment from `incoming` on a recorder with `propagation`, makes a call from it
    /// with `headers` preset, and returns the headers sent, whether `traced`, and the document.
    fn call_with(
        propagation: Propagation,
        incoming: &TraceHeader,
        mut headers: HeaderMap,
    ) -> (HeaderMap, bool, serde_json::Value) {
        let capture = Capture::with(|b| b.with_propagation(propagation));
        let segment = capture.recorder().begin_segment("api", Some(incoming), &Default::default());
        let traced = segment.in_scope(|| {
            let parent = recording_parent(&mut headers).unwrap();
            let mut call = Call::start(&parent, "downstream", "GET", "http://downstream/".into(), false);
            call.inject(&mut headers)
        });
        segment.end();
        let mut docs = capture.take();
        (headers, traced, docs.remove(0))
    }

    #[test]
    fn a_sampled_call_carries_both_headers_for_the_same_trace_and_parent() {
        let (headers, traced, doc) = call_with(Propagation::Both, &w3c_caller(), HeaderMap::new());
        // The caller's W3C trace continued: its id converted, its span the segment's parent.
        assert_eq!(doc["trace_id"], "1-4bf92f35-77b34da6a3ce929d0e0e4736");
        assert_eq!(doc["parent_id"], W3C_PARENT);
        let call = &doc["subsegments"][0];
        let id = call["id"].as_str().unwrap();
        assert!(traced);
        assert_eq!(call["http"]["request"]["traced"], true);
        assert_eq!(
            value(&headers, &TRACE_HEADER),
            Some(format!("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent={id};Sampled=1").as_str())
        );
        assert_eq!(value(&headers, &TRACEPARENT_HEADER), Some(format!("00-{W3C_TRACE}-{id}-01").as_str()));
        assert_eq!(value(&headers, &TRACESTATE_HEADER), Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
    }

    #[test]
    fn headers_the_caller_set_are_kept() {
        let theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut preset = HeaderMap::new();
        preset.insert(TRACEPARENT_HEADER, HeaderValue::from_static(theirs));
        preset.insert(TRACESTATE_HEADER, HeaderValue::from_static("mine=1"));
        let (headers, traced, doc) = call_with(Propagation::Both, &w3c_caller(), preset);
        assert_eq!(value(&headers, &TRACEPARENT_HEADER), Some(theirs));
        assert_eq!(value(&headers, &TRACESTATE_HEADER), Some("mine=1"));
        // Our X-Ray header still goes out, and the callee reads it first.
        assert!(value(&headers, &TRACE_HEADER).unwrap().contains(doc["subsegments"][0]["id"].as_str().unwrap()));
        assert!(traced);

        // A caller's own X-Ray header: ours is not added, and the call is not `traced`, since
        // the callee follows the caller's header; traceparent still goes out, without a
        // tracestate that belongs to no traceparent of ours.
        let mut preset = HeaderMap::new();
        preset.insert(TRACE_HEADER, HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793"));
        preset.insert(TRACESTATE_HEADER, HeaderValue::from_static("mine=1"));
        let (headers, traced, doc) = call_with(Propagation::Both, &w3c_caller(), preset);
        assert_eq!(value(&headers, &TRACE_HEADER), Some("Root=1-5759e988-bd862e3fe1be46a994272793"));
        let id = doc["subsegments"][0]["id"].as_str().unwrap();
        assert_eq!(value(&headers, &TRACEPARENT_HEADER), Some(format!("00-{W3C_TRACE}-{id}-01").as_str()));
        assert_eq!(value(&headers, &TRACESTATE_HEADER), Some("mine=1"));
        assert!(!traced);
        assert!(doc["subsegments"][0]["http"]["request"].get("traced").is_none());
    }

    #[test]
    fn the_recorders_propagation_decides_which_headers_go_out() {
        // (propagation, X-Ray header sent, traceparent sent, traced)
        let cases = [
            (Propagation::Both, true, true, true),
            (Propagation::Xray, true, false, true),
            (Propagation::W3c, false, true, true),
            (Propagation::Off, false, false, false),
        ];
        for (propagation, xray, w3c, want_traced) in cases {
            let (headers, traced, _) = call_with(propagation, &w3c_caller(), HeaderMap::new());
            assert_eq!(headers.contains_key(&TRACE_HEADER), xray, "{propagation:?}");
            assert_eq!(headers.contains_key(&TRACEPARENT_HEADER), w3c, "{propagation:?}");
            assert_eq!(headers.contains_key(&TRACESTATE_HEADER), w3c, "{propagation:?}");
            assert_eq!(traced, want_traced, "{propagation:?}");
        }
    }

    #[test]
    fn an_unsampled_trace_sends_a_fresh_span_id_and_flags_00() {
        let capture = Capture::with(|b| b.with_sampler(NeverSample));
        let incoming = w3c_caller().with_sampled(crate::SamplingFlag::NotSampled);
        let segment = capture.recorder().begin_segment("api", Some(&incoming), &Default::default());
        let sent = |segment: &crate::Segment| {
            let mut headers = HeaderMap::new();
            assert!(segment.in_scope(|| recording_parent(&mut headers)).is_none());
            headers
        };
        let (first, second) = (sent(&segment), sent(&segment));
        assert_eq!(value(&first, &TRACE_HEADER), Some("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Sampled=0"));
        let tp = TraceParent::parse(value(&first, &TRACEPARENT_HEADER).unwrap()).unwrap();
        assert_eq!(std::str::from_utf8(&tp.trace_id.to_w3c()).unwrap(), W3C_TRACE);
        assert!(!tp.sampled);
        // Not the caller's span, which is not ours to be a parent of, and new on every call.
        assert_ne!(tp.parent_id.to_string(), W3C_PARENT);
        let again = TraceParent::parse(value(&second, &TRACEPARENT_HEADER).unwrap()).unwrap();
        assert_ne!(tp.parent_id, again.parent_id);
        assert_eq!(value(&first, &TRACESTATE_HEADER), Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
        segment.end();
        assert!(capture.take().is_empty());

        // With entity ids for unsampled requests, that id is the parent.
        let config = crate::Config { noop_id: false, ..crate::Config::default() };
        let capture = Capture::with(|_| crate::RecorderBuilder::new(config).with_sampler(NeverSample));
        let segment = capture.recorder().begin_segment("api", Some(&incoming), &Default::default());
        let headers = sent(&segment);
        let tp = TraceParent::parse(value(&headers, &TRACEPARENT_HEADER).unwrap()).unwrap();
        assert_eq!(Some(tp.parent_id), segment.id());
    }

    #[test]
    fn host_names() {
        for (host, name) in
            [(Some("api.example"), "api.example"), (Some("[2001:db8::7]"), "2001:db8::7"), (None, "unknown")]
        {
            assert_eq!(host_name(host), name);
        }
    }
}
