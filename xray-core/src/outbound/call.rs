//! [`Call`]: the subsegment of one outgoing call, from the request to the end of its response
//! body, its error, or its cancellation; and [`Failure`], how a failed call is classified.

use std::borrow::Cow;
use std::error::Error;

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, StatusCode};

use super::{BODY_ERROR_TYPE, CANCELLED_TYPE, inject, scrub_urls};
use crate::model::{Cause, CauseDetails, Exception, Http, HttpRequest, HttpResponse, Namespace, method_name};
use crate::{Entity, Subsegment};

/// The message of the [`CANCELLED_TYPE`] exception of a call.
const CANCELLED_MESSAGE: &str = "the call was dropped before its response arrived";

/// How a call failed, which decides `remote` on its exceptions and whether it is `traced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Connecting failed (refused, DNS, connect timeout): remote, and the peer never saw the
    /// request.
    Connect,
    /// Nothing was sent (the request could not be built): ours, and the peer never saw it.
    NotSent,
    /// Failed on the wire once the request had gone out (timeout, reset, body): remote.
    Wire,
    /// Failed on our side after sending began (a middleware, a redirect policy).
    Local,
}

impl Failure {
    /// A guess from an error chain whose types the integration cannot see through: an
    /// `io::Error` in it that says the connection could not be made is [`Connect`](Self::Connect),
    /// anything else [`Wire`](Self::Wire), since a client's errors mostly come from its transport.
    pub fn of(err: &(dyn Error + 'static)) -> Self {
        use std::io::ErrorKind::{AddrNotAvailable, ConnectionRefused, HostUnreachable, NetworkUnreachable};
        let mut link = Some(err);
        while let Some(e) = link {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && matches!(io.kind(), ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable)
            {
                return Self::Connect;
            }
            link = e.source();
        }
        Self::Wire
    }

    fn is_remote(self) -> bool {
        matches!(self, Self::Connect | Self::Wire)
    }

    fn reached_peer(self) -> bool {
        matches!(self, Self::Wire | Self::Local)
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// The request is on its way; a drop now is a cancellation.
    Sending,
    /// The response head has been recorded; `count` when the body's bytes make its length.
    Receiving { count: bool, received: u64 },
    /// An error has been recorded.
    Failed,
}

/// An outgoing call being recorded on its own subsegment, which ends when the call is
/// dropped: after its response body, or at once for an error. See the [module](crate::outbound).
#[must_use = "a call ends when dropped"]
#[derive(Debug)]
pub struct Call {
    subsegment: Subsegment,
    keep_query: bool,
    state: State,
}

impl Call {
    /// Opens the call's subsegment under `parent` (see [`recording_parent`](super::recording_parent)) and records
    /// `http.request`: `method`, and `url` as the integration built it (without user-info, and
    /// without the query unless `keep_query`, which also applies to error messages).
    pub fn start(parent: &Entity, name: &str, method: &str, url: String, keep_query: bool) -> Self {
        let subsegment = parent.begin_subsegment(name);
        let mut request = HttpRequest { method: Some(method_name(method)), url: Some(url), ..HttpRequest::default() };
        request.truncate_fields();
        // One lock for both, where `set_namespace` and `set_http_request` would take two.
        subsegment.with_document(|doc| {
            doc.namespace = Some(Namespace::Remote);
            doc.http = Some(Http { request: Some(request), response: None });
        });
        Self { subsegment, keep_query, state: State::Sending }
    }

    /// Adds the call's trace headers to the request's `headers` ([`inject`]: X-Ray's and W3C's,
    /// as the recorder's propagation says, never over the caller's), and marks
    /// `http.request.traced` when the header a callee reads first is ours: only that makes the
    /// callee's segment a child of this subsegment. Returns whether it is.
    pub fn inject(&mut self, headers: &mut HeaderMap) -> bool {
        let injected = inject(headers, &self.subsegment);
        if injected {
            self.set_traced(true);
        }
        injected
    }

    /// The subsegment, to make current while the request is sent or to record more on.
    pub fn entity(&self) -> &Entity {
        &self.subsegment
    }

    /// Records the response head: status (4xx an error, 429 also a throttle, 5xx a fault) and
    /// the declared `Content-Length`. Without one, the bytes passed to [`received`](Self::received)
    /// are recorded when the call ends.
    pub fn response(&mut self, status: StatusCode, headers: &HeaderMap) {
        let content_length =
            headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim_ascii().parse().ok());
        self.subsegment.set_http_response(HttpResponse { status: Some(status.as_u16()), content_length });
        self.state = State::Receiving { count: content_length.is_none(), received: 0 };
    }

    /// Ends the call at the response head, for integrations that do not follow the body: the
    /// length stays as declared (absent without `Content-Length`).
    pub fn end_at_headers(mut self) {
        if let State::Receiving { count, .. } = &mut self.state {
            *count = false;
        }
    }

    /// Counts `bytes` of response body read.
    pub fn received(&mut self, bytes: u64) {
        if let State::Receiving { received, .. } = &mut self.state {
            *received = received.saturating_add(bytes);
        }
    }

    /// Records that the response body failed while it was read: a fault with a remote
    /// [`BODY_ERROR_TYPE`] exception.
    pub fn body_failed(&mut self, message: &str) {
        if self.subsegment.is_sampled() {
            self.subsegment.set_fault();
            let message = scrub_urls(message, self.keep_query).into_owned();
            self.subsegment.add_exception(Exception::new(BODY_ERROR_TYPE, message).remote(true));
        }
    }

    /// Records the call's error and its `source()` chain as the cause of a fault, then ends the
    /// call.
    pub fn fail(self, err: &(dyn Error + 'static), failure: Failure) {
        let details = CauseDetails::from_error(err, None, failure.is_remote());
        self.fail_with(details, failure);
    }

    /// [`fail`](Self::fail) for an error known only by its type name and message.
    pub fn fail_opaque(self, kind: &str, message: &str, failure: Failure) {
        let exception = Exception::new(kind, message).remote(failure.is_remote());
        self.fail_with(CauseDetails { exceptions: vec![exception], ..CauseDetails::default() }, failure);
    }

    fn fail_with(mut self, mut details: CauseDetails, failure: Failure) {
        self.state = State::Failed;
        if !self.subsegment.is_sampled() {
            return;
        }
        for message in details.exceptions.iter_mut().filter_map(|e| e.message.as_mut()) {
            if let Cow::Owned(clean) = scrub_urls(message, self.keep_query) {
                *message = clean;
            }
        }
        self.subsegment.with_document(|doc| {
            doc.fault = true;
            doc.cause = Some(Box::new(Cause::Details(details)));
        });
        if !failure.reached_peer() {
            // X-Ray would wait for a downstream segment that never comes.
            self.set_traced(false);
        }
    }

    fn set_traced(&self, traced: bool) {
        self.subsegment.with_document(|doc| {
            if let Some(request) = doc.http.as_mut().and_then(|h| h.request.as_mut()) {
                request.traced = traced;
            }
        });
    }

    /// Ends the call now (as dropping it does).
    pub fn end(self) {}
}

impl Drop for Call {
    fn drop(&mut self) {
        match self.state {
            State::Sending => {
                self.subsegment.set_error();
                self.subsegment.add_exception(Exception::new(CANCELLED_TYPE, CANCELLED_MESSAGE));
            }
            State::Receiving { count: true, received } => {
                self.subsegment.with_document(|doc| {
                    if let Some(response) = doc.http.as_mut().and_then(|h| h.response.as_mut()) {
                        response.content_length = Some(received);
                    }
                });
            }
            State::Receiving { count: false, .. } | State::Failed => {}
        }
        // Dropping the subsegment, right after, ends it.
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::HeaderValue;
    use serde_json::Value;

    use super::*;
    use crate::outbound::TRACE_HEADER;
    use crate::{AlwaysSample, MemoryEmitter, Recorder};

    fn record(f: impl FnOnce(&Entity)) -> Value {
        let emitter = Arc::new(MemoryEmitter::new());
        let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter.clone()).build().unwrap();
        let segment = recorder.new_segment("caller");
        f(&segment);
        segment.end();
        emitter.documents()[0]["subsegments"][0].clone()
    }

    fn sent(parent: &Entity) -> Call {
        let mut call = Call::start(parent, "svc", "GET", "http://svc/x".into(), false);
        let mut headers = HeaderMap::new();
        assert!(call.inject(&mut headers));
        let value = headers[&TRACE_HEADER].to_str().unwrap();
        assert!(value.contains(&format!("Parent={}", call.entity().id().unwrap())), "{value}");
        call
    }

    #[test]
    fn a_response_without_length_counts_the_body() {
        let sub = record(|parent| {
            let mut call = sent(parent);
            call.response(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new());
            call.received(3);
            call.received(4);
        });
        assert_eq!(sub["namespace"], "remote");
        assert_eq!(sub["http"]["request"], serde_json::json!({"method": "GET", "url": "http://svc/x", "traced": true}));
        assert_eq!(sub["http"]["response"], serde_json::json!({"status": 429, "content_length": 7}));
        assert_eq!((sub["error"].as_bool(), sub["throttle"].as_bool()), (Some(true), Some(true)));
    }

    #[test]
    fn a_declared_length_wins() {
        let sub = record(|parent| {
            let mut call = sent(parent);
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_LENGTH, HeaderValue::from_static("10"));
            call.response(StatusCode::OK, &headers);
            call.received(3);
        });
        assert_eq!(sub["http"]["response"]["content_length"], 10);

        let sub = record(|parent| {
            let mut call = sent(parent);
            call.response(StatusCode::OK, &HeaderMap::new());
            call.end_at_headers();
        });
        assert_eq!(sub["http"]["response"], serde_json::json!({"status": 200}));
    }

    #[test]
    fn failures_decide_remote_and_traced() {
        // (failure, remote, traced)
        let cases = [
            (Failure::Connect, true, false),
            (Failure::NotSent, false, false),
            (Failure::Wire, true, true),
            (Failure::Local, false, true),
        ];
        for (failure, remote, traced) in cases {
            let sub = record(|parent| {
                let err = std::io::Error::other("refused by http://u:secret@svc/x?token=secret");
                sent(parent).fail(&err, failure);
            });
            assert_eq!(sub["fault"], true, "{failure:?}");
            let exception = &sub["cause"]["exceptions"][0];
            assert_eq!(exception["message"], "refused by http://svc/x", "{failure:?}");
            assert_eq!(exception.get("remote").is_some(), remote, "{failure:?}");
            assert_eq!(sub["http"]["request"].get("traced").is_some(), traced, "{failure:?}");
        }
    }

    #[test]
    fn io_errors_that_never_connected() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(Failure::of(&refused), Failure::Connect);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(Failure::of(&reset), Failure::Wire);
    }

    #[test]
    fn a_dropped_call_is_cancelled_and_a_body_error_is_a_fault() {
        let sub = record(|parent| drop(sent(parent)));
        assert_eq!(sub["error"], true);
        assert_eq!(sub["cause"]["exceptions"][0]["type"], CANCELLED_TYPE);

        let sub = record(|parent| {
            let mut call = sent(parent);
            call.response(StatusCode::OK, &HeaderMap::new());
            call.body_failed("reset reading http://svc/x?token=secret");
        });
        assert_eq!(sub["fault"], true);
        assert!(sub.get("error").is_none());
        assert_eq!(sub["cause"]["exceptions"][0]["type"], BODY_ERROR_TYPE);
        assert_eq!(sub["cause"]["exceptions"][0]["message"], "reset reading http://svc/x");
    }

    #[test]
    fn a_header_the_caller_set_stays_and_is_not_traced() {
        let sub = record(|parent| {
            let mut call = Call::start(parent, "svc", "GET", "http://svc/x".into(), false);
            let mut headers = HeaderMap::new();
            headers.insert(TRACE_HEADER, HeaderValue::from_static("Root=mine"));
            assert!(!call.inject(&mut headers));
            assert_eq!(headers[&TRACE_HEADER], "Root=mine");
            call.response(StatusCode::OK, &HeaderMap::new());
        });
        assert!(sub["http"]["request"].get("traced").is_none());
    }
}
