//! [`ResponseBody`]: the response body, carrying the open (sub)segment until the body has been
//! sent or dropped.
//!
//! A request is not over when its handler returns: a streamed body may take much longer, may
//! fail halfway, and its length is often only known at the end. So the segment travels with
//! the body, counts the bytes that pass, reads gRPC trailers, and ends when the body reports
//! its end, fails, or is dropped (hyper drops a body without polling it again once
//! `is_end_stream` is true, and never polls the body of a `HEAD` response).

use std::fmt::Display;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use xray_core::outbound::Call;
use xray_core::{Entity, Exception, Segment, Subsegment};

use crate::classify::{BODY_ERROR_TYPE, apply_grpc_status};

/// What a traced body ends when it is done.
#[derive(Debug)]
pub(crate) enum Owner {
    /// An incoming request's segment.
    Segment(Segment),
    /// An incoming request recorded as a subsegment of an entity already current.
    Subsegment(Subsegment),
    /// An outgoing call, which records its own length and body errors.
    Call(Call),
}

impl Owner {
    pub(crate) fn entity(&self) -> &Entity {
        match self {
            Self::Segment(s) => s,
            Self::Subsegment(s) => s,
            Self::Call(c) => c.entity(),
        }
    }

    fn body_failed(&mut self, message: &str) {
        if let Self::Call(call) = self {
            return call.body_failed(message);
        }
        let entity = self.entity();
        if entity.is_sampled() {
            entity.set_fault();
            entity.add_exception(Exception::new(BODY_ERROR_TYPE, message));
        }
    }
}

/// The open entity and what the body has sent (or, for a call, read) so far.
#[derive(Debug)]
pub(crate) struct Tracker {
    owner: Owner,
    /// `true` when the response had no `Content-Length`, so the length is counted (a call
    /// decides that itself).
    count: bool,
    sent: u64,
}

impl Tracker {
    pub(crate) fn new(owner: Owner, count: bool) -> Self {
        Self { owner, count, sent: 0 }
    }
}

impl Drop for Tracker {
    /// Records the counted length; the owner, dropped right after, ends the entity. Runs when
    /// the body ends, fails or is dropped unfinished, whichever comes first.
    fn drop(&mut self) {
        let sent = self.sent;
        if let Owner::Call(call) = &mut self.owner {
            return call.received(sent);
        }
        if self.count {
            self.owner.entity().with_document(|d| {
                if let Some(response) = d.http.as_mut().and_then(|h| h.response.as_mut()) {
                    response.content_length = Some(sent);
                }
            });
        }
    }
}

pin_project! {
    /// The response body of a traced request or call: the inner body, unchanged, plus the
    /// segment it ends when it has been sent (or dropped).
    ///
    /// Untraced and unsampled requests carry nothing extra and cost one branch per frame.
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        tracker: Option<Tracker>,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn untraced(inner: B) -> Self {
        Self { inner, tracker: None }
    }

    pub(crate) fn traced(inner: B, tracker: Tracker) -> Self {
        Self { inner, tracker: Some(tracker) }
    }

    /// The wrapped body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        let Some(tracker) = this.tracker.as_mut() else {
            return polled;
        };
        match &polled {
            Poll::Pending => return polled,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    tracker.sent += data.remaining() as u64;
                } else if let Some(trailers) = frame.trailers_ref() {
                    apply_grpc_status(tracker.owner.entity(), trailers);
                }
            }
            Poll::Ready(Some(Err(err))) => tracker.owner.body_failed(&err.to_string()),
            Poll::Ready(None) => {}
        }
        let done = match &polled {
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            _ => true,
        };
        if done {
            this.tracker.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
