//! The trace headers on the wire: `X-Amzn-Trace-Id` (and W3C's `traceparent` and
//! `tracestate`) read from requests, and `X-Amzn-Trace-Id` answered on responses. Outgoing
//! calls inject them through [`xray_core::outbound`], whose header names these are too.
//!
//! Which of the incoming headers continues the trace:
//! - `X-Amzn-Trace-Id` with a valid `Root`, whenever there is one: X-Ray's header wins over a
//!   `traceparent` that names another trace, since every X-Ray hop before this one (load
//!   balancers, API Gateway, other X-Ray SDKs) writes and follows it; the `tracestate` then
//!   belongs to the other trace and is dropped. When both name the same trace, the
//!   `tracestate` is kept.
//! - Else a valid `traceparent` (exactly one; W3C rules), with its `tracestate`: its trace id
//!   converted, its span id as `Parent`, its sampled flag as `Sampled=1|0`.
//! - Else the X-Ray header as it is (a new trace, with its `Sampled` decision), or none.
//!
//! The recorder's [`Propagation`] switches either format off for reading too.

use http::header::Entry;
use http::{HeaderMap, HeaderValue};
pub(crate) use xray_core::outbound::TRACE_HEADER;
use xray_core::outbound::{TRACEPARENT_HEADER, TRACESTATE_HEADER};
use xray_core::w3c::TraceParent;
use xray_core::{Propagation, TraceHeader, TraceId};

/// The header that continues the caller's trace (see the [module](self)): `xray` is the
/// request's `X-Amzn-Trace-Id`, `headers` all of them. `None` when the caller sent neither; a
/// header that does not parse yields one without a root, which starts a new trace.
pub(crate) fn incoming(
    xray: Option<&HeaderValue>,
    headers: &HeaderMap,
    propagation: Propagation,
) -> Option<TraceHeader> {
    let xray = xray.filter(|_| propagation.xray()).map(|v| TraceHeader::parse_bytes(v.as_bytes()));
    if !propagation.w3c() {
        return xray;
    }
    if let Some(header) = xray.as_ref()
        && let Some(root) = header.root()
    {
        // Most requests carry no `tracestate`, and then `traceparent` is not even looked up.
        return match tracestate(headers) {
            Some(state) if traceparent(headers).is_some_and(|tp| tp.trace_id == root) => {
                xray.map(|h| h.with_tracestate(&state))
            }
            _ => xray,
        };
    }
    match traceparent(headers) {
        Some(tp) => {
            let header = tp.to_header();
            Some(match tracestate(headers) {
                Some(state) => header.with_tracestate(&state),
                None => header,
            })
        }
        None => xray,
    }
}

/// The request's `traceparent`, if it has exactly one and it is valid (the W3C rules: a
/// repeated `traceparent` is invalid).
fn traceparent(headers: &HeaderMap) -> Option<TraceParent> {
    let mut values = headers.get_all(TRACEPARENT_HEADER).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    TraceParent::parse(value.to_str().ok()?).ok()
}

/// The request's `tracestate`, its header lines joined with `,` as the W3C rules say (lines
/// that are not visible ASCII are left out); checked and bounded by `with_tracestate`.
fn tracestate(headers: &HeaderMap) -> Option<String> {
    let mut lines = headers.get_all(TRACESTATE_HEADER).iter().filter_map(|v| v.to_str().ok());
    let mut state = lines.next()?.to_owned();
    for line in lines {
        state.push(',');
        state.push_str(line);
    }
    Some(state)
}

/// `Root=…` plus, when the caller asked with `Sampled=?`, `;Sampled=1|0`: formatted into a
/// buffer of exactly its length, which the header value takes over without a copy.
pub(crate) fn response_value(trace_id: TraceId, answer: Option<bool>) -> Option<HeaderValue> {
    let sampled: &[u8] = match answer {
        None => b"",
        Some(true) => b";Sampled=1",
        Some(false) => b";Sampled=0",
    };
    let id = trace_id.to_bytes();
    let mut value = Vec::with_capacity(5 + id.len() + sampled.len());
    value.extend_from_slice(b"Root=");
    value.extend_from_slice(&id);
    value.extend_from_slice(sampled);
    HeaderValue::try_from(value).ok()
}

/// Adds the response header unless the service already set one (one lookup either way).
pub(crate) fn answer(headers: &mut HeaderMap, trace_id: TraceId, answer: Option<bool>) {
    if let Entry::Vacant(slot) = headers.entry(TRACE_HEADER)
        && let Some(value) = response_value(trace_id, answer)
    {
        slot.insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn response_values() {
        let id: TraceId = ROOT.parse().unwrap();
        assert_eq!(response_value(id, None).unwrap(), format!("Root={ROOT}").as_str());
        assert_eq!(response_value(id, Some(true)).unwrap(), format!("Root={ROOT};Sampled=1").as_str());
        assert_eq!(response_value(id, Some(false)).unwrap(), format!("Root={ROOT};Sampled=0").as_str());
    }

    #[test]
    fn answer_keeps_a_header_the_service_set() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACE_HEADER, HeaderValue::from_static("Root=mine"));
        answer(&mut headers, ROOT.parse().unwrap(), None);
        assert_eq!(headers[xray_core::header::HEADER_NAME_LOWER], "Root=mine");
    }

    #[test]
    fn incoming_headers() {
        let none = HeaderMap::new();
        assert!(incoming(None, &none, Propagation::Both).is_none());
        let garbage = HeaderValue::from_static("garbage");
        assert!(incoming(Some(&garbage), &none, Propagation::Both).unwrap().root().is_none());
        let value = HeaderValue::try_from(format!("Root={ROOT};Sampled=?")).unwrap();
        let h = incoming(Some(&value), &none, Propagation::Both).unwrap();
        assert_eq!(h.root().unwrap().to_string(), ROOT);
        assert_eq!(h.sampled(), xray_core::SamplingFlag::Requested);
    }

    const W3C_SAME: &str = "00-5759e988bd862e3fe1be46a994272793-00f067aa0ba902b7-01";
    const W3C_OTHER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

    /// `X-Amzn-Trace-Id` (if any) and the W3C headers, as (name, value) pairs.
    fn read(xray: Option<&str>, w3c: &[(&'static str, &'static str)], propagation: Propagation) -> Option<String> {
        let mut headers = HeaderMap::new();
        for (name, value) in w3c {
            headers.append(*name, HeaderValue::from_static(value));
        }
        let xray = xray.map(|v| HeaderValue::try_from(v).unwrap());
        incoming(xray.as_ref(), &headers, propagation).map(|h| format!("{h} | {}", h.tracestate().unwrap_or("-")))
    }

    /// (X-Ray header, W3C headers, propagation, what continues the trace | tracestate)
    type Case<'a> = (Option<&'a str>, &'a [(&'static str, &'static str)], Propagation, Option<String>);

    #[test]
    fn which_header_continues_the_trace() {
        let xray = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        let from_w3c_other = "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=0";
        let both = Propagation::Both;
        let cases: [Case<'_>; 11] = [
            // traceparent alone, with its tracestate (two lines joined).
            (
                None,
                &[("traceparent", W3C_OTHER), ("tracestate", "a=1"), ("tracestate", "b=2")],
                both,
                Some(format!("{from_w3c_other} | a=1,b=2")),
            ),
            (None, &[("traceparent", W3C_OTHER)], both, Some(format!("{from_w3c_other} | -"))),
            // X-Ray wins over a traceparent of another trace, whose tracestate is dropped...
            (Some(&xray), &[("traceparent", W3C_OTHER), ("tracestate", "a=1")], both, Some(format!("{xray} | -"))),
            // ...and keeps the tracestate of the same trace.
            (Some(&xray), &[("traceparent", W3C_SAME), ("tracestate", "a=1")], both, Some(format!("{xray} | a=1"))),
            // A tracestate without a traceparent is not passed on.
            (Some(&xray), &[("tracestate", "a=1")], both, Some(format!("{xray} | -"))),
            (None, &[("tracestate", "a=1")], both, None),
            // An X-Ray header without a valid root gives way to a valid traceparent.
            (
                Some("Root=garbage;Sampled=1"),
                &[("traceparent", W3C_OTHER)],
                both,
                Some(format!("{from_w3c_other} | -")),
            ),
            // Invalid or repeated traceparents are not followed.
            (None, &[("traceparent", "00-zz-00f067aa0ba902b7-01")], both, None),
            (None, &[("traceparent", W3C_OTHER), ("traceparent", W3C_SAME)], both, None),
            // Switched off: W3C headers ignored; or X-Ray's.
            (None, &[("traceparent", W3C_OTHER)], Propagation::Xray, None),
            (Some(&xray), &[("traceparent", W3C_OTHER)], Propagation::W3c, Some(format!("{from_w3c_other} | -"))),
        ];
        for (xray, w3c, propagation, want) in cases {
            assert_eq!(read(xray, w3c, propagation), want, "{xray:?} {w3c:?} {propagation:?}");
        }
        assert_eq!(read(Some(&xray), &[("traceparent", W3C_OTHER)], Propagation::Off), None);
    }
}
