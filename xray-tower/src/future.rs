//! [`ResponseFuture`]: runs the inner service's future in the segment's context and records
//! how it ends: a response, an error, a panic, or being dropped first.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use xray_core::{TraceId, Traced};

use crate::body::{Owner, ResponseBody, Tracker};
use crate::classify::{record_cancelled, record_failure, record_panic, record_response};
use crate::mode::{BodyMode, WrapBody};
use crate::propagation;

/// The message of the `RequestCancelled` exception on a server segment.
const CANCELLED_MESSAGE: &str = "the request was dropped before its response was ready (the client went away)";

/// A request between `call` and its response. Its segment (or, inside a trace, subsegment), if
/// sampled, ends with it: when the future is dropped before the response, this records why.
#[derive(Debug)]
pub(crate) struct Pending {
    trace_id: TraceId,
    /// `Some(decision)` when the caller asked with `Sampled=?`.
    answer: Option<bool>,
    segment: Option<Owner>,
}

impl Pending {
    pub(crate) fn new(trace_id: TraceId, answer: Option<bool>, segment: Option<Owner>) -> Self {
        Self { trace_id, answer, segment }
    }

    /// Records a panic and ends the segment now, before the panic travels on.
    pub(crate) fn panicked(&mut self, payload: &(dyn Any + Send)) {
        if let Some(segment) = self.segment.take() {
            record_panic(segment.entity(), Some(payload));
        }
    }

    fn complete<B, E, M>(mut self, result: Result<Response<B>, E>) -> Result<Response<M::Body>, E>
    where
        E: Display + 'static,
        M: BodyMode<B>,
    {
        let segment = self.segment.take();
        match result {
            Ok(mut response) => {
                propagation::answer(response.headers_mut(), self.trace_id, self.answer);
                let Some(segment) = segment else {
                    return Ok(response.map(M::untraced));
                };
                let content_length = record_response(segment.entity(), response.status(), response.headers());
                let tracker = Tracker::new(segment, content_length.is_none());
                Ok(response.map(|body| M::traced(ResponseBody::traced(body, tracker))))
            }
            Err(err) => {
                if let Some(segment) = segment {
                    record_failure(segment.entity(), &err, false);
                }
                Err(err)
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(segment) = self.segment.take() {
            if std::thread::panicking() {
                record_panic(segment.entity(), None);
            } else {
                record_cancelled(segment.entity(), CANCELLED_MESSAGE);
            }
        }
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Untraced { #[pin] future: F },
        Traced { #[pin] future: Traced<F>, pending: Option<Pending> },
    }
}

pin_project! {
    /// The response future of [`XrayService`](crate::XrayService).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, M = WrapBody> {
        #[pin]
        kind: Kind<F>,
        mode: PhantomData<fn() -> M>,
    }
}

impl<F, M> ResponseFuture<F, M> {
    pub(crate) fn untraced(future: F) -> Self {
        Self { kind: Kind::Untraced { future }, mode: PhantomData }
    }

    pub(crate) fn traced(future: Traced<F>, pending: Pending) -> Self {
        Self { kind: Kind::Traced { future, pending: Some(pending) }, mode: PhantomData }
    }
}

impl<F, B, E, M> Future for ResponseFuture<F, M>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Display + 'static,
    M: BodyMode<B>,
{
    type Output = Result<Response<M::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Untraced { future } => future.poll(cx).map(|r| r.map(|res| res.map(M::untraced))),
            KindProj::Traced { future, pending } => {
                let recording = pending.as_ref().is_some_and(|p| p.segment.is_some());
                let polled = if recording {
                    // Record a panic (with its message) before it unwinds past us; the segment
                    // is never lost, whether or not a panic-catching layer sits outside.
                    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                        Ok(polled) => polled,
                        Err(payload) => {
                            if let Some(p) = pending.as_mut() {
                                p.panicked(&*payload);
                            }
                            resume_unwind(payload)
                        }
                    }
                } else {
                    future.poll(cx)
                };
                let Poll::Ready(result) = polled else {
                    return Poll::Pending;
                };
                Poll::Ready(match pending.take() {
                    Some(pending) => pending.complete::<B, E, M>(result),
                    None => result.map(|res| res.map(M::untraced)),
                })
            }
        }
    }
}

impl<F, M> std::fmt::Debug for ResponseFuture<F, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let traced = matches!(self.kind, Kind::Traced { .. });
        f.debug_struct("ResponseFuture").field("traced", &traced).finish_non_exhaustive()
    }
}
