//! The response body that carries the call's subsegment until the body has been read or
//! dropped, so that a slow or large body is inside the call, as the callee's segment is.
//!
//! A `reqwest::Response` does not give its body out by reference: the response goes to
//! `http::Response<reqwest::Body>`, the body is wrapped, and the result comes back. Status,
//! version, headers and extensions (the peer address among them) make the trip; the final URL
//! does not, so it is carried over as reqwest's own response builder sets it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use reqwest::{Response, ResponseBuilderExt};
use xray_core::outbound::Call;

/// `response`, with its body carrying `call`.
pub(crate) fn carry(response: Response, call: Call) -> Response {
    let url = response.url().clone();
    let mut parts: http::Response<reqwest::Body> = response.into();
    if let Ok(carrier) = http::Response::builder().url(url).body(()) {
        parts.extensions_mut().extend(carrier.into_parts().0.extensions);
    }
    Response::from(parts.map(|inner| reqwest::Body::wrap(CallBody { inner, call: Some(call) })))
}

/// A response body and the call it ends.
struct CallBody {
    inner: reqwest::Body,
    /// Taken (which ends the call) when the body ends or fails; dropped with the body otherwise.
    call: Option<Call>,
}

impl Body for CallBody {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        // Both fields are `Unpin`.
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let Poll::Ready(frame) = &polled else {
            return polled;
        };
        if let Some(call) = this.call.as_mut() {
            match frame {
                Some(Ok(frame)) => call.received(frame.data_ref().map_or(0, |data| data.len() as u64)),
                Some(Err(err)) => call.body_failed(&err.to_string()),
                None => {}
            }
            if !matches!(frame, Some(Ok(_))) || this.inner.is_end_stream() {
                this.call = None;
            }
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
