//! [`XrayClientLayer`]: a subsegment for every outgoing HTTP call made through a tower HTTP
//! client (such as hyper-util's legacy client), and the header that continues the trace
//! downstream. The recording is [`xray_core::outbound`]'s, which `xray-reqwest` shares; this
//! module is the tower plumbing around it.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use xray_core::outbound::{self, Call, Failure};

use crate::body::{Owner, ResponseBody, Tracker};
use crate::classify::{apply_grpc_status, error_chain, short_type_name};
use crate::naming::{ClientNamer, DefaultClientNamer};
use crate::request;

/// Traces the calls of an HTTP client service: one subsegment per call, named after the host
/// (or by a [`ClientNamer`]), in namespace `remote`, with `http.request` (method, URL without
/// user info or query, `traced`) and `http.response` (status, and the `Content-Length` or else
/// the bytes read), ended when the response body has been read or dropped. The request gets
/// an `X-Amzn-Trace-Id` with `Parent` = the subsegment, unless it already has one.
///
/// `traced` is set only when our header went out and the request reached the server: a call
/// that could not connect is a fault with a remote cause and no `traced`, since no downstream
/// segment will come. Connect failures are told apart in errors that show their `source()`
/// chain (tower's boxed errors, `io::Error`) and, with the `hyper-util` feature, in the error
/// of hyper-util's legacy client. A call dropped before its response is an error with a
/// [`CANCELLED_TYPE`](crate::CANCELLED_TYPE) exception.
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
/// let traced = ServiceBuilder::new().layer(XrayClientLayer::new()).service(client.clone());
/// let inventory = ServiceBuilder::new().layer(XrayClientLayer::new().with_naming("inventory")).service(client);
/// # let _ = (traced, inventory);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct XrayClientLayer<N = DefaultClientNamer> {
    namer: N,
}

impl XrayClientLayer {
    /// The layer, naming subsegments after the host.
    pub fn new() -> Self {
        Self { namer: DefaultClientNamer }
    }
}

// Not derived: a derived impl would be generic over the namer, and `XrayClientLayer::default()`
// could then not infer it.
impl Default for XrayClientLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<N> XrayClientLayer<N> {
    /// Sets how subsegments are named (see [`ClientNamer`]): a fixed `&'static str` or
    /// [`FixedName`](crate::FixedName), or a closure `Fn(&Request<B>) -> impl Into<Cow<'static, str>>`.
    ///
    /// Defaults to [`DefaultClientNamer`], the request's host.
    #[must_use]
    pub fn with_naming<M>(self, namer: M) -> XrayClientLayer<M> {
        XrayClientLayer { namer }
    }
}

impl<S, N: Clone> Layer<S> for XrayClientLayer<N> {
    type Service = XrayClientService<S, N>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayClientService { inner, namer: self.namer.clone() }
    }
}

/// The service [`XrayClientLayer`] wraps around an HTTP client; see there.
#[derive(Debug, Clone)]
pub struct XrayClientService<S, N = DefaultClientNamer> {
    inner: S,
    namer: N,
}

impl<S, N, ReqB, ResB> Service<Request<ReqB>> for XrayClientService<S, N>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Display + 'static,
    N: ClientNamer<ReqB>,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let Some(parent) = outbound::recording_parent(req.headers_mut()) else {
            return ClientResponseFuture { inner: self.inner.call(req), call: None };
        };
        let url = request::outgoing_url(&req);
        let mut call = Call::start(&parent, &self.namer.name(&req), req.method().as_str(), url, false);
        call.inject(req.headers_mut());
        ClientResponseFuture { inner: self.inner.call(req), call: Some(call) }
    }
}

pin_project! {
    /// The response future of [`XrayClientService`]. Dropped before the response, it records
    /// the call as cancelled.
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
        let Some(mut call) = this.call.take() else {
            return Poll::Ready(result.map(|res| res.map(ResponseBody::untraced)));
        };
        Poll::Ready(match result {
            Ok(response) => {
                call.response(response.status(), response.headers());
                // A trailers-only gRPC answer carries its status in the headers.
                apply_grpc_status(call.entity(), response.headers());
                let tracker = Tracker::new(Owner::Call(call), false);
                Ok(response.map(|body| ResponseBody::traced(body, tracker)))
            }
            Err(err) => {
                fail(call, &err);
                Err(err)
            }
        })
    }
}

/// Records the client's error: its chain when the type lets us see it, else its message.
fn fail<E: Display + 'static>(call: Call, err: &E) {
    match error_chain(err) {
        Some(chain) => call.fail(chain, failure(chain)),
        None => call.fail_opaque(short_type_name::<E>(), &err.to_string(), Failure::Wire),
    }
}

/// hyper-util's own word on connecting where it can be read, else [`Failure::of`].
fn failure(chain: &(dyn std::error::Error + 'static)) -> Failure {
    #[cfg(feature = "hyper-util")]
    {
        let mut link = Some(chain);
        while let Some(e) = link {
            if e.downcast_ref::<hyper_util::client::legacy::Error>().is_some_and(|e| e.is_connect()) {
                return Failure::Connect;
            }
            link = e.source();
        }
    }
    Failure::of(chain)
}
