//! The response futures: run the handler in its invocation's context, record how it ended,
//! end the invocation, and flush the recorder before handing the outcome to the runtime,
//! which posts it to the Runtime API (after which Lambda may freeze the sandbox).

use std::any::Any;
use std::fmt::Debug;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Full};
use pin_project_lite::pin_project;
use xray_core::{Recorder, TraceFutureExt, Traced};

use crate::invocation::{Invocation, record_error, record_panic};

/// What the handler produced, waiting for the flush to finish.
enum Outcome<T> {
    Done(T),
    Panicked(Box<dyn Any + Send>),
}

/// The end of an invocation: the flush in flight and the outcome to hand on after it.
struct Finishing<T> {
    flush: Pin<Box<dyn Future<Output = bool> + Send>>,
    outcome: Option<Outcome<T>>,
}

/// The invocation's entities and where to flush once they have ended.
#[derive(Debug)]
pub(crate) struct Open {
    pub(crate) invocation: Invocation,
    pub(crate) recorder: Recorder,
    pub(crate) flush_timeout: Duration,
}

impl<T> Finishing<T> {
    /// Ends the invocation (its subsegment goes to the emitter) and starts the flush.
    fn start(open: Open, outcome: Outcome<T>) -> Self {
        let Open { invocation, recorder, flush_timeout } = open;
        drop(invocation);
        let flush = Box::pin(async move { recorder.flush_async(flush_timeout).await });
        Self { flush, outcome: Some(outcome) }
    }

    /// Waits for the flush (whatever it achieved within its deadline, the response goes on),
    /// then returns the outcome, or resumes the handler's panic.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<T> {
        ready!(self.flush.as_mut().poll(cx));
        match self.outcome.take() {
            Some(Outcome::Done(value)) => Poll::Ready(value),
            Some(Outcome::Panicked(payload)) => resume_unwind(payload),
            // Polled again after completion: a contract violation by the caller, not a panic here.
            None => Poll::Pending,
        }
    }
}

/// Polls `future`, catching a panic so that it is recorded and the flush still happens.
fn poll_catching<F: Future>(future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<Outcome<F::Output>> {
    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(value)) => Poll::Ready(Outcome::Done(value)),
        Err(payload) => Poll::Ready(Outcome::Panicked(payload)),
    }
}

pin_project! {
    /// The response future of [`XrayLambdaService`](crate::XrayLambdaService) for
    /// `lambda_runtime` events: the handler's outcome, once the invocation's documents have been
    /// flushed.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, R, E> {
        #[pin]
        inner: Traced<F>,
        open: Option<Open>,
        finishing: Option<Finishing<Result<R, E>>>,
    }
}

impl<F: Future, R, E> ResponseFuture<F, R, E> {
    pub(crate) fn new(inner: F, open: Option<Open>) -> Self {
        let entity = open.as_ref().map(|o| o.invocation.entity()).unwrap_or_default();
        Self { inner: inner.with_entity(entity), open, finishing: None }
    }
}

impl<F, R, E> Future for ResponseFuture<F, R, E>
where
    F: Future<Output = Result<R, E>>,
    E: Debug + 'static,
{
    type Output = Result<R, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(finishing) = this.finishing.as_mut() {
            return finishing.poll(cx);
        }
        let outcome = ready!(poll_catching(this.inner, cx));
        let Some(open) = this.open.take() else {
            // Untraced: nothing to record or flush.
            return match outcome {
                Outcome::Done(value) => Poll::Ready(value),
                Outcome::Panicked(payload) => resume_unwind(payload),
            };
        };
        let entity = open.invocation.entity();
        match &outcome {
            Outcome::Done(Err(err)) => record_error(&entity, err),
            Outcome::Panicked(payload) => record_panic(&entity, &**payload),
            Outcome::Done(Ok(_)) => {}
        }
        this.finishing.insert(Finishing::start(open, outcome)).poll(cx)
    }
}

impl<F, R, E> Debug for ResponseFuture<F, R, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("open", &self.open)
            .field("flushing", &self.finishing.is_some())
            .finish_non_exhaustive()
    }
}

/// The error of a traced HTTP invocation: the handler's, or the response body's.
pub type BoxError = lambda_runtime::Error;

pin_project! {
    #[project = HttpStageProj]
    enum HttpStage<F, B: Body> {
        Running { #[pin] future: Traced<F> },
        Collecting { #[pin] body: Traced<Collect<B>>, parts: Option<http::response::Parts> },
        Finishing { finishing: Finishing<Result<Response<Full<Bytes>>, BoxError>> },
    }
}

pin_project! {
    /// The response future of [`XrayLambdaService`](crate::XrayLambdaService) for `lambda_http`
    /// requests. `lambda_http` reads the whole response body before it answers the Runtime API;
    /// this future reads it first, still in the invocation's context, so that what ends with the
    /// body (the request's subsegment of `xray_tower::XrayLayer`) ends before the flush.
    #[must_use = "futures do nothing unless polled"]
    pub struct HttpResponseFuture<F, B: Body> {
        #[pin]
        stage: HttpStage<F, B>,
        open: Option<Open>,
    }
}

impl<F: Future, B: Body> HttpResponseFuture<F, B> {
    pub(crate) fn new(inner: F, open: Option<Open>) -> Self {
        let entity = open.as_ref().map(|o| o.invocation.entity()).unwrap_or_default();
        Self { stage: HttpStage::Running { future: inner.with_entity(entity) }, open }
    }
}

impl<F, B, E> Future for HttpResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError> + Debug + 'static,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<Full<Bytes>>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            let outcome: Outcome<Result<Response<Full<Bytes>>, BoxError>> = match this.stage.project() {
                HttpStageProj::Finishing { finishing } => return finishing.poll(cx),
                HttpStageProj::Running { future } => match ready!(poll_catching(future, cx)) {
                    Outcome::Done(Ok(response)) => {
                        let (parts, body) = response.into_parts();
                        let entity = this.open.as_ref().map(|o| o.invocation.entity()).unwrap_or_default();
                        let body = body.collect().with_entity(entity);
                        self.as_mut().project().stage.set(HttpStage::Collecting { body, parts: Some(parts) });
                        continue;
                    }
                    Outcome::Done(Err(err)) => {
                        if let Some(open) = this.open.as_ref() {
                            record_error(&open.invocation.entity(), &err);
                        }
                        Outcome::Done(Err(err.into()))
                    }
                    Outcome::Panicked(payload) => {
                        if let Some(open) = this.open.as_ref() {
                            record_panic(&open.invocation.entity(), &*payload);
                        }
                        Outcome::Panicked(payload)
                    }
                },
                HttpStageProj::Collecting { body, parts } => match ready!(poll_catching(body, cx)) {
                    Outcome::Done(Ok(collected)) => match parts.take() {
                        Some(parts) => Outcome::Done(Ok(Response::from_parts(parts, Full::new(collected.to_bytes())))),
                        None => return Poll::Pending,
                    },
                    Outcome::Done(Err(err)) => {
                        let err: BoxError = err.into();
                        if let Some(open) = this.open.as_ref() {
                            open.invocation.entity().record_error(&*err);
                        }
                        Outcome::Done(Err(err))
                    }
                    Outcome::Panicked(payload) => {
                        if let Some(open) = this.open.as_ref() {
                            record_panic(&open.invocation.entity(), &*payload);
                        }
                        Outcome::Panicked(payload)
                    }
                },
            };
            let Some(open) = self.as_mut().project().open.take() else {
                return match outcome {
                    Outcome::Done(value) => Poll::Ready(value),
                    Outcome::Panicked(payload) => resume_unwind(payload),
                };
            };
            let finishing = Finishing::start(open, outcome);
            self.as_mut().project().stage.set(HttpStage::Finishing { finishing });
        }
    }
}

impl<F, B: Body> Debug for HttpResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponseFuture").field("open", &self.open).finish_non_exhaustive()
    }
}
