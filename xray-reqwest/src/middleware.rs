//! [`XrayMiddleware`], the `reqwest-middleware` middleware that records outgoing calls.

use std::future::Future;
use std::pin::Pin;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::call::{self, Options};
use crate::naming::{DefaultNamer, SubsegmentNamer};

/// Records each request sent inside a traced context as a subsegment, and passes the trace on
/// to the callee in `X-Amzn-Trace-Id`.
///
/// The subsegment is named by a [`SubsegmentNamer`] (the host by default), has the `remote` namespace,
/// an `http.request` block (method, URL without user-info or query string, `traced`) and an
/// `http.response` block (status, and the declared `Content-Length` or else the bytes read);
/// 4xx marks an error, 429 also a throttle, 5xx a fault. A request that fails to connect,
/// times out, or fails on the wire is a fault whose `cause` says `remote: true`; URLs in the
/// recorded messages lose user-info and query as `http.request.url` does. `traced` says that
/// the callee's segment is a child of this subsegment: our header went out and the request
/// reached the callee (a call that could not connect is not `traced`).
///
/// The subsegment ends when the response body has been read or dropped, so that it spans the
/// whole exchange ([`with_end_at_headers`](Self::with_end_at_headers) ends it at the response
/// headers instead); a call dropped before its response is an error with a
/// `RequestCancelled` exception.
///
/// The header carries `Parent` = the subsegment's id, `Sampled=1` and the incoming extra keys
/// (such as `Lineage`); an unsampled trace sends `Sampled=0` and no parent. A header the
/// caller set on the request is left as it is.
///
/// Outside any traced context the request is passed on untouched, without even a box.
///
/// Middlewares run in the order they are added: put a retry middleware *before* this one so
/// that each attempt gets its own subsegment, and this one before anything that should run
/// inside the subsegment.
///
/// ```
/// use xray_reqwest::XrayMiddleware;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(XrayMiddleware::new().with_naming("inventory").with_query_in_url(true))
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct XrayMiddleware<N = DefaultNamer> {
    namer: N,
    keep_query: bool,
    end_at_headers: bool,
}

impl XrayMiddleware {
    /// A middleware with the default options.
    pub const fn new() -> Self {
        Self { namer: DefaultNamer, keep_query: false, end_at_headers: false }
    }
}

// Not derived: a derived impl would be generic over the namer, and `XrayMiddleware::default()`
// could then not infer it.
impl Default for XrayMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: SubsegmentNamer> XrayMiddleware<N> {
    /// Sets how subsegments are named (see [`SubsegmentNamer`]): a fixed `&'static str` or
    /// `String`, or a closure `Fn(&reqwest::Request) -> impl Into<Cow<'static, str>>`.
    ///
    /// Defaults to [`DefaultNamer`], the request's host.
    #[must_use]
    pub fn with_naming<M: SubsegmentNamer>(self, namer: M) -> XrayMiddleware<M> {
        XrayMiddleware { namer, keep_query: self.keep_query, end_at_headers: self.end_at_headers }
    }

    /// Keeps the query string in the recorded URL. Query strings often carry tokens and
    /// personal data, which X-Ray would store and show to everyone who can read traces.
    ///
    /// Defaults to `false`.
    #[must_use]
    pub fn with_query_in_url(mut self, keep: bool) -> Self {
        self.keep_query = keep;
        self
    }

    /// Ends the subsegment when the response headers arrive, as it was before the body was
    /// followed: the subsegment is then shorter than the exchange, and the callee's segment
    /// can appear to outlast the call. For callers that keep responses around unread, or that
    /// stream long bodies and want only the time to the first byte.
    ///
    /// Defaults to `false`: the subsegment ends when the body has been read to its end, failed,
    /// or been dropped, and `content_length` is the bytes read when no `Content-Length` came.
    #[must_use]
    pub fn with_end_at_headers(mut self, end_at_headers: bool) -> Self {
        self.end_at_headers = end_at_headers;
        self
    }

    pub(crate) fn options(&self) -> Options<'_> {
        Options { namer: &self.namer, keep_query: self.keep_query, end_at_headers: self.end_at_headers }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// Written out rather than through `async_trait`, which would box every call: outside a trace,
// and for unsampled traces, the request goes straight to `next` with no allocation of ours.
impl<N: SubsegmentNamer> Middleware for XrayMiddleware<N> {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        mut req: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> BoxFuture<'async_trait, reqwest_middleware::Result<Response>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        match call::start(&self.options(), &mut req) {
            None => next.run(req, extensions),
            Some(call) => Box::pin(call.run(move || next.run(req, extensions))),
        }
    }
}
