//! [`XrayClientLayer`]: a subsegment for every outgoing HTTP call made through a tower HTTP
//! client (such as hyper-util's legacy client), and the header that continues the trace
//! downstream.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use xray_core::{HttpRequest, Namespace, Subsegment};

use crate::body::{Owner, ResponseBody, Tracker};
use crate::classify::{record_cancelled, record_failure, record_response};
use crate::{propagation, request};

/// The message of the `RequestCancelled` exception on a client subsegment.
const CANCELLED_MESSAGE: &str = "the call was dropped before its response arrived";

/// Traces the calls of an HTTP client service: one subsegment per call, named after the host,
/// in namespace `remote`, with `http.request` (method, URL without user info or query) and
/// `http.response`, ended when the response body has been read or dropped. The request gets
/// an `X-Amzn-Trace-Id` with `Parent` = the subsegment, unless it already has one.
///
/// Outside any trace the client works untouched; in an unsampled trace it records nothing and
/// sends the trace id with `Sampled=0`.
///
/// ```
/// use http_body_util::Full;
/// use hyper_util::{client::legacy::Client, rt::TokioExecutor};
/// use tower::ServiceBuilder;
/// use xray_tower::XrayClientLayer;
///
/// let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
/// let traced = ServiceBuilder::new().layer(XrayClientLayer::new()).service(client);
/// # let _ = traced;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct XrayClientLayer {
    _private: (),
}

impl XrayClientLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for XrayClientLayer {
    type Service = XrayClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayClientService { inner }
    }
}

/// The service [`XrayClientLayer`] wraps around an HTTP client; see there.
#[derive(Debug, Clone)]
pub struct XrayClientService<S> {
    inner: S,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for XrayClientService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Display + 'static,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let parent = xray_core::current_quiet();
        if parent.is_noop() {
            return ClientResponseFuture { inner: self.inner.call(req), call: None };
        }
        let subsegment = parent.begin_subsegment(request::outgoing_host(&req));
        propagation::inject(req.headers_mut(), &subsegment);
        if !subsegment.is_sampled() {
            return ClientResponseFuture { inner: self.inner.call(req), call: None };
        }
        subsegment.set_namespace(Namespace::Remote);
        subsegment.set_http_request(HttpRequest {
            method: Some(xray_core::model::method_name(req.method().as_str())),
            url: Some(request::outgoing_url(&req)),
            traced: true,
            ..HttpRequest::default()
        });
        ClientResponseFuture { inner: self.inner.call(req), call: Some(Call(Some(subsegment))) }
    }
}

/// An outgoing call waiting for its response; a drop before then is recorded as cancelled.
#[derive(Debug)]
struct Call(Option<Subsegment>);

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(subsegment) = self.0.take() {
            record_cancelled(&subsegment, CANCELLED_MESSAGE);
        }
    }
}

pin_project! {
    /// The response future of [`XrayClientService`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct ClientResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, B, E> Future for ClientResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Display + 'static,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(result) = this.inner.poll(cx) else {
            return Poll::Pending;
        };
        let Some(subsegment) = this.call.take().and_then(|mut call| call.0.take()) else {
            return Poll::Ready(result.map(|res| res.map(ResponseBody::untraced)));
        };
        Poll::Ready(match result {
            Ok(response) => {
                let content_length = record_response(&subsegment, response.status(), response.headers());
                let tracker = Tracker::new(Owner::Subsegment(subsegment), content_length.is_none());
                Ok(response.map(|body| ResponseBody::traced(body, tracker)))
            }
            Err(err) => {
                record_failure(&subsegment, &err, true);
                Err(err)
            }
        })
    }
}
