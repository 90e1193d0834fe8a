//! The HTTP side of the daemon, on the TCP port of the UDP address like the real daemon's
//! sampling proxy: the X-Ray query API, the sampling proxy, the console's JSON endpoints and,
//! unless turned off, the console itself.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::api::{self, ApiContext, graph, local, sampling, summaries, traces};

/// Every route; the console's only when `console` is set.
pub(crate) fn router(ctx: Arc<ApiContext>, console: bool) -> Router {
    let mut router = Router::new()
        .route("/TraceSummaries", post(summaries::handle).fallback(api::unknown_operation))
        .route("/Traces", post(traces::handle).fallback(api::unknown_operation))
        .route("/ServiceGraph", post(graph::service_graph).fallback(api::unknown_operation))
        .route("/TraceGraph", post(graph::trace_graph).fallback(api::unknown_operation))
        .route("/GetSamplingRules", post(sampling::rules).fallback(api::unknown_operation))
        .route("/SamplingTargets", post(sampling::targets).fallback(api::unknown_operation))
        .route("/local/status", get(local::status))
        .route("/local/traces/{id}", get(local::trace))
        .fallback(api::unknown_operation);
    if console {
        router = router.merge(crate::console::router());
    }
    router.with_state(ctx)
}

/// Serves until `stop` fires or its sender is dropped.
pub(crate) async fn serve(listener: TcpListener, router: Router, stop: oneshot::Receiver<()>) {
    let shutdown = async {
        let _ = stop.await;
    };
    // An accept error is retried by axum itself; serve only returns once shut down.
    let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
}
