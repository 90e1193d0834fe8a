//! [`XrayLambdaService`]: where an invocation's entities open.

use std::fmt::Debug;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use lambda_runtime::LambdaEvent;
use tower_service::Service;
use xray_core::Recorder;

use crate::future::{BoxError, HttpResponseFuture, Open, ResponseFuture};
use crate::invocation::{Invocation, W3cContext};
use crate::layer::Settings;

/// The service [`XrayLambdaLayer`](crate::XrayLambdaLayer) wraps around a handler; see there.
#[derive(Debug)]
pub struct XrayLambdaService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S: Clone> Clone for XrayLambdaService<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), settings: self.settings.clone() }
    }
}

impl<S> XrayLambdaService<S> {
    pub(crate) fn new(inner: S, settings: Arc<Settings>) -> Self {
        Self { inner, settings }
    }

    /// Opens the invocation's entities, unless there is no enabled recorder.
    fn open(&self, context: Option<&lambda_runtime::Context>, w3c: Option<W3cContext>) -> Option<Open> {
        let recorder = self.settings.recorder.as_ref().or_else(|| Recorder::global()).filter(|r| r.is_enabled())?;
        Some(Open {
            invocation: Invocation::begin(recorder, &self.settings.name, context, w3c),
            recorder: recorder.clone(),
            flush_timeout: self.settings.flush_timeout,
        })
    }
}

/// `lambda_runtime` handlers: `service_fn(|event: LambdaEvent<T>| ...)`.
impl<S, T> Service<LambdaEvent<T>> for XrayLambdaService<S>
where
    S: Service<LambdaEvent<T>>,
    S::Error: Debug + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let open = self.open(Some(&event.context), None);
        // The handler may start work inside `call`, so it runs in context too.
        let future = match &open {
            Some(open) => open.invocation.entity().in_scope(|| self.inner.call(event)),
            None => self.inner.call(event),
        };
        ResponseFuture::new(future, open)
    }
}

/// `lambda_http` handlers: `service_fn(|request: lambda_http::Request| ...)` answering an
/// `http::Response`. The response body is read here (see [`HttpResponseFuture`]) and handed on
/// as a [`Full`](http_body_util::Full) body, which `lambda_http` converts as it converts any.
impl<S, ReqB, ResB> Service<Request<ReqB>> for XrayLambdaService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Into<BoxError> + Debug + 'static,
    ResB: Body,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<http_body_util::Full<bytes::Bytes>>;
    type Error = BoxError;
    type Future = HttpResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        let open = self.open(request.extensions().get::<lambda_runtime::Context>(), w3c_context(request.headers()));
        let future = match &open {
            Some(open) => open.invocation.entity().in_scope(|| self.inner.call(request)),
            None => self.inner.call(request),
        };
        HttpResponseFuture::new(future, open)
    }
}

/// The request's W3C trace context: exactly one valid `traceparent` (a repeated one is invalid
/// by the W3C rules), and its `tracestate` lines joined with `,` (checked and bounded where it
/// is kept, by `TraceHeader::with_tracestate`).
fn w3c_context(headers: &http::HeaderMap) -> Option<W3cContext> {
    let mut values = headers.get_all(xray_core::w3c::TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let traceparent = xray_core::w3c::TraceParent::parse(value.to_str().ok()?).ok()?;
    let mut lines = headers.get_all(xray_core::w3c::TRACESTATE).iter().filter_map(|v| v.to_str().ok());
    let tracestate = lines.next().map(|first| lines.fold(first.to_owned(), |all, line| all + "," + line));
    Some(W3cContext { traceparent, tracestate })
}
