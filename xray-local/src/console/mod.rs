//! The web console: a page at `/` and its embedded assets, served by the HTTP side of the
//! daemon (see `crate::http`).
//!
//! The console is static: HTML, CSS and JavaScript modules compiled into the binary with
//! `include_str!`, so it works offline and needs no build step. The page's scripts call the
//! JSON endpoints beside it (the X-Ray query API and `/local/...`) and build every element with
//! `createElement` and `textContent`: document content (names, annotations, URLs, metadata)
//! is untrusted and never parsed as markup. The page is served with a strict
//! Content-Security-Policy that forbids inline scripts and styles and any other origin, so a
//! `<script>` that slipped through anyway would not run.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Where the assets are served; the page refers to them by these paths.
const ASSET_PREFIX: &str = "/console/";

/// The page's policy: only this origin's scripts, styles and JSON; no inline code, no frames,
/// no plugins, no form posts elsewhere. Setting `element.style` from a script stays allowed
/// (CSSOM is not inline style), which is all the waterfall and the map need.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself, served at `/`.
const INDEX: Asset =
    Asset { name: "index.html", content_type: "text/html; charset=utf-8", body: include_str!("assets/index.html") };

/// Everything the page loads, served under [`ASSET_PREFIX`].
const ASSETS: &[Asset] = &[
    Asset { name: "style.css", content_type: "text/css; charset=utf-8", body: include_str!("assets/style.css") },
    Asset { name: "app.js", content_type: JS, body: include_str!("assets/app.js") },
    Asset { name: "api.js", content_type: JS, body: include_str!("assets/api.js") },
    Asset { name: "dom.js", content_type: JS, body: include_str!("assets/dom.js") },
    Asset { name: "map.js", content_type: JS, body: include_str!("assets/map.js") },
    Asset { name: "traces.js", content_type: JS, body: include_str!("assets/traces.js") },
    Asset { name: "detail.js", content_type: JS, body: include_str!("assets/detail.js") },
    Asset { name: "analytics.js", content_type: JS, body: include_str!("assets/analytics.js") },
    Asset { name: "status.js", content_type: JS, body: include_str!("assets/status.js") },
    Asset { name: "stats.js", content_type: JS, body: include_str!("assets/stats.js") },
];

/// The console's routes: `/` (the page) and `/console/<asset>`. Stateless, so it merges into a
/// router of any state.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/", get(|| async { serve(&INDEX) }));
    for asset in ASSETS {
        router = router.route(&format!("{ASSET_PREFIX}{}", asset.name), get(move || async move { serve(asset) }));
    }
    router
}

fn serve(asset: &'static Asset) -> Response {
    let mut response = (StatusCode::OK, asset.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The assets change with the binary; a stale cached script against a newer API is worse
    // than a few kilobytes fetched again.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests;
