//! [`OnRequest`]: record something of your own on each sampled request's segment.

use http::Request;
use xray_core::Entity;

/// Called for each sampled request, after the segment has begun and before the inner service
/// runs, with the segment as the current entity. Unsampled requests never reach it, so it may
/// allocate freely.
///
/// `()` does nothing; closures `Fn(&Request<B>, &Entity)` implement it.
///
/// ```
/// use xray_tower::XrayLayer;
/// let layer = XrayLayer::new("orders").with_on_request(|req: &http::Request<axum::body::Body>, segment: &xray_core::Entity| {
///     if let Some(tenant) = req.headers().get("x-tenant").and_then(|v| v.to_str().ok()) {
///         segment.annotate("tenant", tenant);
///     }
/// });
/// # let _ = layer;
/// ```
pub trait OnRequest<B> {
    /// Records on `segment` what `request` says.
    fn on_request(&self, request: &Request<B>, segment: &Entity);
}

impl<B> OnRequest<B> for () {
    #[inline]
    fn on_request(&self, _: &Request<B>, _: &Entity) {}
}

impl<B, F> OnRequest<B> for F
where
    F: Fn(&Request<B>, &Entity),
{
    fn on_request(&self, request: &Request<B>, segment: &Entity) {
        self(request, segment);
    }
}
