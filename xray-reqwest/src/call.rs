//! The recording of one outgoing call, shared by [`XrayMiddleware`](crate::XrayMiddleware) and
//! [`send_traced`](crate::TracedRequestBuilderExt::send_traced): reqwest's types around
//! [`xray_core::outbound::Call`], which records what every HTTP client integration records.
//!
//! [`start`] runs before the request leaves: it reads the current entity, opens the call and
//! injects the trace header. [`Traced::run`] sends with the subsegment as the current entity
//! and records the outcome. Outside a trace, and for unsampled traces, `start` returns `None`
//! and the caller sends the request as it is (with the `Sampled=0` header for an unsampled
//! trace), so no future is wrapped or boxed.

use std::error::Error;
use std::future::Future;

use reqwest::{Request, Response};
use xray_core::TraceFutureExt;
use xray_core::outbound::{self, Call, Failure};

use crate::body;
use crate::naming::SubsegmentNamer;
use crate::url::recorded_url;

/// What a call records, besides the name: the options of [`XrayMiddleware`](crate::XrayMiddleware).
pub(crate) struct Options<'a> {
    pub(crate) namer: &'a dyn SubsegmentNamer,
    pub(crate) keep_query: bool,
    pub(crate) end_at_headers: bool,
}

/// A call being recorded on its own subsegment.
pub(crate) struct Traced {
    call: Call,
    end_at_headers: bool,
}

/// Prepares `request` for sending from the current context; `Some` when the call is recorded.
pub(crate) fn start(options: &Options<'_>, request: &mut Request) -> Option<Traced> {
    let parent = outbound::recording_parent(request.headers_mut())?;
    let url = recorded_url(request.url(), options.keep_query);
    let mut call =
        Call::start(&parent, &options.namer.name(request), request.method().as_str(), url, options.keep_query);
    call.inject(request.headers_mut());
    Some(Traced { call, end_at_headers: options.end_at_headers })
}

impl Traced {
    /// Starts sending through `send` (called with the subsegment as the current entity, so
    /// that inner middlewares see it, as they do on every poll) and records the outcome. A
    /// drop before the response records the call as cancelled.
    ///
    /// `send` runs now, before the returned future is boxed: the request moves straight into
    /// the sending future, and the box holds only that future and the call.
    pub(crate) fn run<F, E>(self, send: impl FnOnce() -> F) -> impl Future<Output = Result<Response, E>>
    where
        F: Future<Output = Result<Response, E>>,
        E: CallError,
    {
        let entity = self.call.entity().clone();
        let future = entity.in_scope(send).with_entity(entity);
        async move {
            let result = future.await;
            self.finish(result)
        }
    }

    fn finish<E: CallError>(self, result: Result<Response, E>) -> Result<Response, E> {
        let Self { mut call, end_at_headers } = self;
        match result {
            Ok(response) => {
                call.response(response.status(), response.headers());
                if end_at_headers {
                    call.end_at_headers();
                    return Ok(response);
                }
                // The body carries the call, which ends when the body is read or dropped.
                Ok(body::carry(response, call))
            }
            Err(err) => {
                call.fail(err.as_cause(), failure(&err));
                Err(err)
            }
        }
    }
}

/// The errors a call can end with.
pub(crate) trait CallError: Error + 'static {
    /// The error to describe in the cause (without wrappers that only forward).
    fn as_cause(&self) -> &(dyn Error + 'static);
}

impl CallError for reqwest::Error {
    fn as_cause(&self) -> &(dyn Error + 'static) {
        self
    }
}

impl CallError for reqwest_middleware::Error {
    fn as_cause(&self) -> &(dyn Error + 'static) {
        match self {
            Self::Reqwest(err) => err,
            Self::Middleware(err) => &**err,
        }
    }
}

/// How the call failed, from the first `reqwest::Error` in the chain (a retry middleware
/// wraps it in its own): connecting (DNS and connect timeouts included) never reached the
/// peer; timing out, sending and moving the body failed on the wire; a request that did not
/// build was never sent. Redirect-policy and middleware errors are ours.
fn failure<E: CallError>(err: &E) -> Failure {
    let mut link = Some(err.as_cause());
    while let Some(e) = link {
        if let Some(err) = as_reqwest(e) {
            return if err.is_connect() {
                Failure::Connect
            } else if err.is_builder() {
                Failure::NotSent
            } else if err.is_timeout() || err.is_request() || err.is_body() {
                Failure::Wire
            } else {
                Failure::Local
            };
        }
        link = e.source();
    }
    Failure::Local
}

/// `err` as a `reqwest::Error`, also inside `reqwest_middleware::Error`, whose `source()` skips
/// the reqwest error it forwards to.
fn as_reqwest<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a reqwest::Error> {
    match err.downcast_ref::<reqwest_middleware::Error>() {
        Some(reqwest_middleware::Error::Reqwest(err)) => Some(err),
        Some(reqwest_middleware::Error::Middleware(err)) => err.downcast_ref(),
        None => err.downcast_ref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_context_leaves_the_request_alone() {
        let mut request = Request::new(reqwest::Method::GET, "http://example.com/".parse().unwrap());
        let options = Options { namer: &crate::DefaultNamer, keep_query: false, end_at_headers: false };
        assert!(start(&options, &mut request).is_none());
        assert!(request.headers().is_empty());
    }

    #[test]
    fn middleware_errors_without_reqwest_are_local() {
        let err = reqwest_middleware::Error::Middleware(std::io::Error::other("policy said no").into());
        assert_eq!(failure(&err), Failure::Local);
    }
}
