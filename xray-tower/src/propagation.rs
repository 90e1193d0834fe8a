//! The `X-Amzn-Trace-Id` header on the wire: read from requests and answered on responses.
//! Outgoing calls inject it through [`xray_core::outbound`], whose header name this is too.

use http::header::Entry;
use http::{HeaderMap, HeaderValue};
pub(crate) use xray_core::outbound::TRACE_HEADER;
use xray_core::{TraceHeader, TraceId};

/// The caller's header, if it sent one; a header that does not parse yields one without a
/// root, which starts a new trace.
pub(crate) fn incoming(value: Option<&HeaderValue>) -> Option<TraceHeader> {
    value.map(|v| TraceHeader::parse_bytes(v.as_bytes()))
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
        assert!(incoming(None).is_none());
        assert!(incoming(Some(&HeaderValue::from_static("garbage"))).unwrap().root().is_none());
        let value = HeaderValue::try_from(format!("Root={ROOT};Sampled=?")).unwrap();
        let h = incoming(Some(&value)).unwrap();
        assert_eq!(h.root().unwrap().to_string(), ROOT);
        assert_eq!(h.sampled(), xray_core::SamplingFlag::Requested);
    }
}
