//! [`XrayService`]: where a request's segment begins.

use std::fmt::Display;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use xray_core::integration::SamplingRequest;
use xray_core::{Entity, Recorder, SamplingFlag, TraceFutureExt};

use crate::body::Owner;
use crate::future::{Pending, ResponseFuture};
use crate::mode::{BodyMode, WrapBody};
use crate::naming::{FixedName, SegmentNamer};
use crate::on_request::OnRequest;
use crate::{propagation, request};

/// What every service made by one layer shares.
#[derive(Debug, Clone)]
pub(crate) struct Settings<N, Q> {
    pub(crate) namer: N,
    pub(crate) on_request: Q,
    pub(crate) recorder: Option<Recorder>,
    pub(crate) keep_query: bool,
    #[cfg(feature = "axum")]
    pub(crate) record_route: bool,
}

/// The service [`XrayLayer`](crate::XrayLayer) wraps around yours; see there.
///
/// Cloning is cheap (the settings are shared), as axum clones services per request.
#[derive(Debug)]
pub struct XrayService<S, N = FixedName, Q = (), M = WrapBody> {
    inner: S,
    settings: Arc<Settings<N, Q>>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, N, Q, M> Clone for XrayService<S, N, Q, M> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), settings: self.settings.clone(), mode: PhantomData }
    }
}

impl<S, N, Q, M> XrayService<S, N, Q, M> {
    pub(crate) fn new(inner: S, settings: Arc<Settings<N, Q>>) -> Self {
        Self { inner, settings, mode: PhantomData }
    }
}

impl<S, N, Q, M, ReqB, ResB> Service<Request<ReqB>> for XrayService<S, N, Q, M>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    S::Error: Display + 'static,
    N: SegmentNamer<ReqB>,
    Q: OnRequest<ReqB>,
    M: BodyMode<ResB>,
{
    type Response = Response<M::Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let Self { inner, settings, .. } = self;
        let recorder = match settings.recorder.as_ref().or_else(|| Recorder::global()) {
            Some(recorder) if recorder.is_enabled() => recorder,
            _ => return ResponseFuture::untraced(inner.call(req)),
        };
        // Inside a trace already (an AWS Lambda invocation under `xray_lambda::XrayLambdaLayer`,
        // or any entity an outer layer made current), the request is part of that entity's
        // work: a subsegment under it, not a second segment beside it.
        let parent = xray_core::integration::current_quiet();
        if !parent.is_noop() {
            return nested(inner, settings, recorder, req, parent);
        }
        let headers = request::Headers::scan(req.headers());
        let incoming = propagation::incoming(headers.trace, req.headers(), recorder.config().propagation);
        let asked = incoming.as_ref().is_some_and(|h| h.sampled() == SamplingFlag::Requested);
        // A caller's decision (with or without a valid root) is obeyed without asking the
        // sampler, so only look up what the sampler sees when it will be asked.
        let decided = incoming.as_ref().is_some_and(|h| h.sampled().decision().is_some());
        // Looked up once: for the sampler here, and for `http.request` if sampled.
        let host = (!decided).then(|| request::host(&req, &headers));
        let segment = {
            let name = settings.namer.name(&req);
            let sampling = match host {
                None => SamplingRequest::default(),
                Some(host) => SamplingRequest {
                    host,
                    method: Some(req.method().as_str()),
                    url_path: Some(req.uri().path()),
                    ..SamplingRequest::default()
                },
            };
            recorder.begin_segment(&name, incoming.as_ref(), &sampling)
        };
        let Some(trace_id) = segment.trace_id() else {
            // Only a disabled recorder begins segments without a trace, and that was handled.
            return ResponseFuture::untraced(inner.call(req));
        };
        let entity = segment.entity();
        let answer = asked.then(|| segment.is_sampled());

        if !segment.is_sampled() {
            // In context all the same, so that outbound calls propagate the id and `Sampled=0`.
            // A guard rather than `in_scope`: a closure would carry the request through one
            // more copy on the way in.
            let entered = entity.enter();
            let future = inner.call(req);
            drop(entered);
            return ResponseFuture::traced(future.with_entity(entity), Pending::new(trace_id, answer, None));
        }

        let host = host.unwrap_or_else(|| request::host(&req, &headers));
        segment.set_http_request(request::http_request(&req, &headers, host, settings.keep_query));
        let pending = Pending::new(trace_id, answer, Some(Owner::Segment(segment)));
        call_sampled(inner, settings, req, entity, pending)
    }
}

/// Calls the inner service for a sampled request whose entity (segment or subsegment) is open
/// and holds `http.request`.
fn call_sampled<S, N, Q, M, ReqB, ResB>(
    inner: &mut S,
    settings: &Settings<N, Q>,
    req: Request<ReqB>,
    entity: Entity,
    mut pending: Pending,
) -> ResponseFuture<S::Future, M>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    Q: OnRequest<ReqB>,
{
    #[cfg(feature = "axum")]
    if settings.record_route
        && let Some(path) = req.extensions().get::<axum::extract::MatchedPath>()
    {
        entity.annotate("route", path.as_str());
    }
    // Handlers may start work inside `call`, so it runs in context too, and a panic there
    // is recorded before it travels on.
    let called = catch_unwind(AssertUnwindSafe(|| {
        entity.in_scope(|| {
            settings.on_request.on_request(&req, &entity);
            inner.call(req)
        })
    }));
    match called {
        Ok(future) => ResponseFuture::traced(future.with_entity(entity), pending),
        Err(payload) => {
            pending.panicked(&*payload);
            resume_unwind(payload)
        }
    }
}

/// A request that arrives inside a trace (`parent` is current): a subsegment of `parent`,
/// named by the namer (an empty name is the recorder's service name), with the `http` block
/// and the status flags a segment would get. Lambda's header, which `lambda_http` copies into
/// `X-Amzn-Trace-Id`, names the facade's own trace, so the request header is not read.
fn nested<S, N, Q, M, ReqB, ResB>(
    inner: &mut S,
    settings: &Settings<N, Q>,
    recorder: &Recorder,
    req: Request<ReqB>,
    parent: Entity,
) -> ResponseFuture<S::Future, M>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    N: SegmentNamer<ReqB>,
    Q: OnRequest<ReqB>,
{
    let Some(trace_id) = parent.trace_id() else {
        return ResponseFuture::untraced(inner.call(req));
    };
    if !parent.is_sampled() {
        // Unsampled: outbound calls still see the trace id and `Sampled=0`.
        let future = parent.in_scope(|| inner.call(req));
        return ResponseFuture::traced(future.with_entity(parent), Pending::new(trace_id, None, None));
    }
    let subsegment = {
        let name = settings.namer.name(&req);
        parent.begin_subsegment(if name.is_empty() { recorder.service_name() } else { &name })
    };
    let headers = request::Headers::scan(req.headers());
    let host = request::host(&req, &headers);
    subsegment.set_http_request(request::http_request(&req, &headers, host, settings.keep_query));
    let entity = subsegment.entity();
    call_sampled(inner, settings, req, entity, Pending::new(trace_id, None, Some(Owner::Subsegment(subsegment))))
}
