//! [`BodyMode`]: the body type a traced service answers with.
//!
//! A sampled request's segment travels with its response body until the body has been sent,
//! so the layer's service must answer with a body of its own, [`ResponseBody`]. Frameworks
//! that store every response body as one type of their own (axum's `Body`) then box it once
//! more. With [`AxumBody`] the service answers with axum's `Body` itself: an unsampled
//! request's body passes through untouched, and only a sampled one is wrapped (and boxed by
//! axum, as any body of another type would be).

use crate::body::ResponseBody;

/// How a traced service hands back its inner service's response body `B`.
///
/// Implemented by [`WrapBody`] (for any body) and, with the `axum` feature, by [`AxumBody`].
pub trait BodyMode<B>: Send + Sync + 'static {
    /// The response body the traced service answers with.
    type Body;

    /// The body of a response with nothing to track (untraced or unsampled).
    fn untraced(body: B) -> Self::Body;

    /// The body of a sampled response, which ends the segment when it has been sent.
    fn traced(body: ResponseBody<B>) -> Self::Body;
}

/// Answers with [`ResponseBody`], whatever the inner body is. The default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WrapBody;

impl<B> BodyMode<B> for WrapBody {
    type Body = ResponseBody<B>;

    fn untraced(body: B) -> ResponseBody<B> {
        ResponseBody::untraced(body)
    }

    fn traced(body: ResponseBody<B>) -> ResponseBody<B> {
        body
    }
}

/// Answers with axum's own `Body`: unsampled bodies pass through as they are, so axum need
/// not box them again. Chosen with [`XrayLayer::with_axum_body`](crate::XrayLayer::with_axum_body).
#[cfg(feature = "axum")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AxumBody;

#[cfg(feature = "axum")]
impl BodyMode<axum::body::Body> for AxumBody {
    type Body = axum::body::Body;

    fn untraced(body: axum::body::Body) -> axum::body::Body {
        body
    }

    fn traced(body: ResponseBody<axum::body::Body>) -> axum::body::Body {
        axum::body::Body::new(body)
    }
}
