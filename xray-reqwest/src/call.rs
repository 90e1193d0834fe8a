//! The recording of one outgoing call, shared by [`XrayMiddleware`](crate::XrayMiddleware) and
//! [`send_traced`](crate::TracedRequestBuilderExt::send_traced).
//!
//! [`start`] runs before the request leaves: it reads the current entity, opens the
//! subsegment, records `http.request` and injects the trace header. [`Call::run`] sends with the
//! subsegment as the current entity and records the outcome on it. Outside a trace, and for
//! unsampled traces, `start` returns `None` and the caller sends the request as it is (with
//! the `Sampled=0` header for an unsampled trace), so no future is wrapped or boxed.

use std::error::Error;
use std::future::Future;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Request, Response};
use xray_core::model::{CauseDetails, Http};
use xray_core::{Cause, Entity, HttpRequest, HttpResponse, Namespace, Subsegment, TraceFutureExt};

use crate::naming::SubsegmentNamer;
use crate::url::recorded_url;

const TRACE_HEADER: HeaderName = HeaderName::from_static(xray_core::header::HEADER_NAME_LOWER);

/// What a call records, besides the name: the options of [`XrayMiddleware`](crate::XrayMiddleware).
pub(crate) struct Options<'a> {
    pub(crate) namer: &'a dyn SubsegmentNamer,
    pub(crate) keep_query: bool,
}

/// A call being recorded on its own subsegment.
pub(crate) struct Call {
    subsegment: Subsegment,
    keep_query: bool,
}

/// Prepares `request` for sending from the current context; `Some` when the call is recorded.
pub(crate) fn start(options: &Options<'_>, request: &mut Request) -> Option<Call> {
    let parent = xray_core::current_quiet();
    if parent.is_noop() {
        return None;
    }
    if !parent.is_sampled() {
        // Nothing to record, but the callee must learn the trace id and the decision.
        inject(request, &parent);
        return None;
    }
    let subsegment = parent.begin_subsegment(&options.namer.name(request));
    let injected = inject(request, &subsegment);
    let mut http_request = HttpRequest {
        method: Some(xray_core::model::method_name(request.method().as_str())),
        url: Some(recorded_url(request.url(), options.keep_query)),
        // Only our own header makes the callee's segment a child of this subsegment.
        traced: injected,
        ..HttpRequest::default()
    };
    http_request.truncate_fields();
    // One lock for both, where `set_namespace` and `set_http_request` would take two.
    subsegment.with_document(|doc| {
        doc.namespace = Some(Namespace::Remote);
        doc.http = Some(Http { request: Some(http_request), response: None });
    });
    Some(Call { subsegment, keep_query: options.keep_query })
}

/// Sets `X-Amzn-Trace-Id` from `entity` unless the caller set one; `true` when it did.
fn inject(request: &mut Request, entity: &Entity) -> bool {
    if request.headers().contains_key(&TRACE_HEADER) {
        return false;
    }
    let Some(header) = entity.downstream_header() else {
        return false;
    };
    // Formatted without `fmt` into a buffer of exactly its length, which the value takes over.
    match HeaderValue::try_from(header.to_vec()) {
        Ok(value) => {
            request.headers_mut().insert(TRACE_HEADER, value);
            true
        }
        Err(_) => false,
    }
}

impl Call {
    /// Starts sending through `send` (called with the subsegment as the current entity, so
    /// that inner middlewares see it, as they do on every poll) and records the outcome.
    ///
    /// `send` runs now, before the returned future is boxed: the request moves straight into
    /// the sending future, and the box holds only that future and the subsegment.
    pub(crate) fn run<F, E>(self, send: impl FnOnce() -> F) -> impl Future<Output = Result<Response, E>>
    where
        F: Future<Output = Result<Response, E>>,
        E: CallError,
    {
        let entity = self.subsegment.entity();
        let future = entity.in_scope(send).with_entity(entity);
        async move {
            let result = future.await;
            self.finish(&result);
            result
        }
    }

    fn finish<E: CallError>(self, result: &Result<Response, E>) {
        match result {
            Ok(response) => self.subsegment.set_http_response(HttpResponse {
                status: Some(response.status().as_u16()),
                // The caller reads the body later; the declared length is what is known now.
                content_length: response.content_length(),
            }),
            Err(err) => record_error(&self.subsegment, err, self.keep_query),
        }
        // Dropping `self` ends the subsegment.
    }
}

/// The errors a call can end with.
pub(crate) trait CallError: Error + 'static {
    /// The error to describe in the cause (without wrappers that only forward).
    fn as_cause(&self) -> &(dyn Error + 'static);
    /// The reqwest error, if this is one or wraps one.
    fn as_reqwest(&self) -> Option<&reqwest::Error>;
}

impl CallError for reqwest::Error {
    fn as_cause(&self) -> &(dyn Error + 'static) {
        self
    }

    fn as_reqwest(&self) -> Option<&reqwest::Error> {
        Some(self)
    }
}

impl CallError for reqwest_middleware::Error {
    fn as_cause(&self) -> &(dyn Error + 'static) {
        match self {
            Self::Reqwest(err) => err,
            Self::Middleware(err) => &**err,
        }
    }

    fn as_reqwest(&self) -> Option<&reqwest::Error> {
        match self {
            Self::Reqwest(err) => Some(err),
            Self::Middleware(err) => err.downcast_ref(),
        }
    }
}

/// `true` for failures on the way to, at, or back from the other service: connecting, timing
/// out, sending, or moving the body. Builder, redirect-policy and middleware errors are ours.
fn is_remote(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout() || err.is_request() || err.is_body()
}

/// Marks a fault and records the error chain as its cause.
fn record_error<E: CallError>(entity: &Entity, err: &E, keep_query: bool) {
    let reqwest_err = err.as_reqwest();
    let remote = reqwest_err.is_some_and(is_remote);
    let mut details = CauseDetails::from_error(err.as_cause(), None, remote);
    // reqwest's messages end with the full URL; record it as `http.request.url` is recorded.
    if let Some(url) = reqwest_err.and_then(reqwest::Error::url) {
        let (full, recorded) = (url.as_str(), recorded_url(url, keep_query));
        for message in details.exceptions.iter_mut().filter_map(|e| e.message.as_mut()) {
            if message.contains(full) {
                *message = message.replace(full, &recorded);
            }
        }
    }
    entity.set_fault();
    entity.set_cause(Cause::Details(details));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_context_leaves_the_request_alone() {
        let mut request = Request::new(reqwest::Method::GET, "http://example.com/".parse().unwrap());
        let options = Options { namer: &crate::DefaultNamer, keep_query: false };
        assert!(start(&options, &mut request).is_none());
        assert!(request.headers().is_empty());
    }
}
