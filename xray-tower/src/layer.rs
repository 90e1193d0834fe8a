//! [`XrayLayer`]: the layer that traces every incoming request.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;
use xray_core::Recorder;

use crate::mode::WrapBody;
use crate::naming::FixedName;
use crate::service::{Settings, XrayService};

/// Traces every request through the wrapped service: one segment per request, continuing the
/// caller's trace from `X-Amzn-Trace-Id`, in context for the handler and everything it awaits,
/// ended when the response body has been sent.
///
/// ```
/// use axum::{Router, routing::get};
/// use xray_tower::{DynamicNaming, XrayLayer};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(XrayLayer::new("hello-service").with_naming(DynamicNaming::new("*.example.com", "hello-service")));
/// # let _ = app;
/// ```
///
/// Without [`with_recorder`](Self::with_recorder) the layer uses the recorder installed with
/// [`RecorderBuilder::install`](xray_core::RecorderBuilder::install), looked up on each
/// request; while none is installed, or when the SDK is disabled, requests pass through
/// untouched.
#[derive(Debug, Clone)]
pub struct XrayLayer<N = FixedName, Q = (), M = WrapBody> {
    /// Shared, so that [`Layer::layer`] costs a reference count, not a copy and an allocation
    /// (axum applies a layer once per route, and again wherever a router is rebuilt).
    pub(crate) settings: Arc<Settings<N, Q>>,
    /// The [`BodyMode`](crate::BodyMode).
    mode: PhantomData<fn() -> M>,
}

impl XrayLayer {
    /// A layer naming every segment `name` (unless `AWS_XRAY_TRACING_NAME` is set).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            settings: Arc::new(Settings {
                namer: FixedName::new(name),
                on_request: (),
                recorder: None,
                keep_query: false,
                #[cfg(feature = "axum")]
                record_route: false,
            }),
            mode: PhantomData,
        }
    }
}

/// A layer naming every segment after the recorder's service name
/// ([`RecorderBuilder::with_service_name`](xray_core::RecorderBuilder::with_service_name)), so
/// that the name is set in one place (`AWS_XRAY_TRACING_NAME` still overrides it).
///
/// ```
/// # use std::sync::Arc;
/// # use axum::{Router, body::Body, routing::get};
/// # use tower::ServiceExt;
/// use xray_core::{AlwaysSample, MemoryEmitter, Recorder};
/// use xray_tower::XrayLayer;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let emitter = Arc::new(MemoryEmitter::new());
/// let recorder = Recorder::builder().with_service_name("orders").with_sampler(AlwaysSample)
///     .with_emitter(emitter.clone()).build().unwrap();
/// let app = Router::new().route("/", get(|| async { "ok" })).layer(XrayLayer::default().with_recorder(recorder));
/// let response = app.oneshot(http::Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
/// axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
/// assert_eq!(emitter.documents()[0]["name"], "orders");
/// # }
/// ```
impl Default for XrayLayer {
    fn default() -> Self {
        // An empty name stands for the recorder's service name (see `Recorder::begin_segment`).
        Self::new("")
    }
}

// `Clone` bounds: a setter copies the settings when a clone of the layer shares them (as the
// `Layer` impl needs `Clone` too, every usable layer meets them).
impl<N: Clone, Q: Clone, M> XrayLayer<N, Q, M> {
    /// Records with `recorder`. Defaults to the global recorder, looked up on each request.
    #[must_use]
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        Arc::make_mut(&mut self.settings).recorder = Some(recorder);
        self
    }

    /// Names segments with `namer`: a [`FixedName`], a [`DynamicNaming`](crate::DynamicNaming)
    /// or a closure. Defaults to the fixed name given to [`new`](XrayLayer::new).
    #[must_use]
    pub fn with_naming<N2>(self, namer: N2) -> XrayLayer<N2, Q, M> {
        self.rebuild(|_, hook| (namer, hook))
    }

    /// Calls `hook` for each sampled request, to record more on its segment (see
    /// [`OnRequest`](crate::OnRequest)). Defaults to `()`, which records nothing more.
    #[must_use]
    pub fn with_on_request<Q2>(self, hook: Q2) -> XrayLayer<N, Q2, M> {
        self.rebuild(|namer, _| (namer, hook))
    }

    /// The same settings with the namer and hook `parts` makes from the current ones (each of
    /// which can change type, so the settings are rebuilt rather than edited in place).
    fn rebuild<N2, Q2>(self, parts: impl FnOnce(N, Q) -> (N2, Q2)) -> XrayLayer<N2, Q2, M> {
        let s = Arc::unwrap_or_clone(self.settings);
        let (namer, on_request) = parts(s.namer, s.on_request);
        XrayLayer {
            settings: Arc::new(Settings {
                namer,
                on_request,
                recorder: s.recorder,
                keep_query: s.keep_query,
                #[cfg(feature = "axum")]
                record_route: s.record_route,
            }),
            mode: PhantomData,
        }
    }

    /// Keeps the query string in `http.request.url` (it may hold personal data or tokens).
    /// Defaults to `false`.
    #[must_use]
    pub fn with_query_in_url(mut self, keep: bool) -> Self {
        Arc::make_mut(&mut self.settings).keep_query = keep;
        self
    }

    /// Records axum's `MatchedPath` (such as `/users/{id}`) as the annotation `route`, which
    /// makes traces searchable by route. The path is only known when the layer is added with
    /// `Router::layer` or `Router::route_layer`, not around the whole router. Defaults to
    /// `false`.
    #[cfg(feature = "axum")]
    #[must_use]
    pub fn with_route_annotation(mut self, record: bool) -> Self {
        Arc::make_mut(&mut self.settings).record_route = record;
        self
    }

    /// Answers with axum's own `Body` ([`AxumBody`](crate::AxumBody)) instead of wrapping every
    /// response body in [`ResponseBody`](crate::ResponseBody), which axum would box again: an
    /// unsampled request then allocates nothing but its response header. For services whose
    /// responses carry `axum::body::Body`, as every axum `Router` does. Defaults to wrapping.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use xray_tower::XrayLayer;
    ///
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { "hello" }))
    ///     .layer(XrayLayer::new("hello-service").with_axum_body());
    /// # let _ = app;
    /// ```
    #[cfg(feature = "axum")]
    #[must_use]
    pub fn with_axum_body(self) -> XrayLayer<N, Q, crate::AxumBody> {
        XrayLayer { settings: self.settings, mode: PhantomData }
    }
}

impl<S, N: Clone, Q: Clone, M> Layer<S> for XrayLayer<N, Q, M> {
    type Service = XrayService<S, N, Q, M>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayService::new(inner, Arc::clone(&self.settings))
    }
}
