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

use std::borrow::Cow;
use std::error::Error;

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::header::HEADER_NAME_LOWER;
use crate::model::{Cause, CauseDetails, Exception, Http, HttpRequest, HttpResponse, Namespace, method_name};
use crate::{Entity, Subsegment};

/// `X-Amzn-Trace-Id` as a header name. A `const`, so that neither lookups nor inserts parse
/// and validate the name on each request, as a `&str` key or a run-time `from_static` would.
pub const TRACE_HEADER: HeaderName = HeaderName::from_static(HEADER_NAME_LOWER);

/// The subsegment name of a call whose host is unknown.
pub const UNKNOWN_HOST: &str = "unknown";

/// The exception type of a call (or request) dropped before its response arrived.
pub const CANCELLED_TYPE: &str = "RequestCancelled";

/// The exception type of a response body that failed while it was moving.
pub const BODY_ERROR_TYPE: &str = "BodyError";

/// The message of the [`CANCELLED_TYPE`] exception of a call.
const CANCELLED_MESSAGE: &str = "the call was dropped before its response arrived";

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
    let parent = crate::current_quiet();
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
/// dropped: after its response body, or at once for an error. See the [module](self).
#[must_use = "a call ends when dropped"]
#[derive(Debug)]
pub struct Call {
    subsegment: Subsegment,
    keep_query: bool,
    state: State,
}

impl Call {
    /// Opens the call's subsegment under `parent` (see [`recording_parent`]) and records
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

    /// Adds the call's header to the request's `headers` (unless the caller set one), and
    /// marks `http.request.traced` when it did: only our header makes the callee's segment a
    /// child of this subsegment. Returns whether it did.
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

/// `text` with every URL in it (`scheme://…`) cut as calls record URLs: without user-info or
/// fragment, and without the query unless `keep_query`. Error messages name URLs in many
/// forms (`… for url (http://u:p@host/?token=…)`), so a URL runs to the next whitespace or
/// quote, less closing punctuation at its end. Borrows when nothing is cut.
///
/// ```
/// # use xray_core::outbound::scrub_urls;
/// let message = "error sending request for url (http://bob:pw@api.example/items?token=t)";
/// assert_eq!(scrub_urls(message, false), "error sending request for url (http://api.example/items)");
/// ```
pub fn scrub_urls(text: &str, keep_query: bool) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let (mut copied, mut search) = (0, 0);
    while let Some(found) = text.get(search..).and_then(|rest| rest.find("://")) {
        let start = search + found + 3;
        let rest = text.get(start..).unwrap_or("");
        let token = rest.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'));
        let token = &rest[..token.unwrap_or(rest.len())];
        let url = token.trim_end_matches([')', ']', '}', '.', ',', ';', ':']);
        let end = start + url.len();
        search = end.max(start);
        // Every cut is next to an ASCII byte, so each slice falls on character boundaries.
        let authority = url.find(['/', '?', '#']).unwrap_or(url.len());
        let user_info = url[..authority].rfind('@').map_or(0, |at| at + 1);
        let tail = &url[authority..];
        let kept = if keep_query { tail.find('#') } else { tail.find(['?', '#']) }.unwrap_or(tail.len());
        if user_info == 0 && kept == tail.len() {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..start]);
        out.push_str(&url[user_info..authority]);
        out.push_str(&tail[..kept]);
        copied = end;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::{AlwaysSample, MemoryEmitter, Recorder};

    #[test]
    fn scrub_table() {
        // (text, without query, with query)
        let cases = [
            ("no url here", "no url here", "no url here"),
            ("http://h/p", "http://h/p", "http://h/p"),
            ("for url (http://u:p@h:1/p?token=s#f)", "for url (http://h:1/p)", "for url (http://h:1/p?token=s)"),
            (
                "a https://h/x?q=1, then http://u@g/y.",
                "a https://h/x, then http://g/y.",
                "a https://h/x?q=1, then http://g/y.",
            ),
            (
                "\"http://a:b@h/\" and 'ftp://c:d@e/f?g'",
                "\"http://h/\" and 'ftp://e/f'",
                "\"http://h/\" and 'ftp://e/f?g'",
            ),
            ("http://h/mail@box?a=@", "http://h/mail@box", "http://h/mail@box?a=@"),
            ("http://u:p@[::1]:9/v?q", "http://[::1]:9/v", "http://[::1]:9/v?q"),
            ("http://user:pa55@h", "http://h", "http://h"),
            ("trailing ://", "trailing ://", "trailing ://"),
            ("é http://ü:p@hé/ü?ß", "é http://hé/ü", "é http://hé/ü?ß"),
        ];
        for (text, without, with) in cases {
            assert_eq!(scrub_urls(text, false), without, "{text}");
            assert_eq!(scrub_urls(text, true), with, "{text} keeping the query");
        }
        assert!(matches!(scrub_urls("http://h/p", false), Cow::Borrowed(_)));
    }

    #[test]
    fn host_names() {
        for (host, name) in
            [(Some("api.example"), "api.example"), (Some("[2001:db8::7]"), "2001:db8::7"), (None, "unknown")]
        {
            assert_eq!(host_name(host), name);
        }
    }

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
