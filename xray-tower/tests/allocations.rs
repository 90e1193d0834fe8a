//! Unsampled requests allocate nothing beyond their response header: counted with a global
//! allocator that tallies the allocations of the current thread only.
//! (Its own test binary, since it replaces the global allocator.)

// A counting allocator is the one way to see allocations; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use http::{HeaderMap, Request, Response};
use http_body_util::Empty;
use tower::{Layer, Service};
use xray_core::{MemoryEmitter, NeverSample, Recorder};
use xray_tower::XrayLayer;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialised thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// An inner service that allocates nothing: its response has room for a few headers already.
#[derive(Clone)]
struct Nothing;

impl Service<Request<()>> for Nothing {
    type Response = Response<Empty<bytes::Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(Response::new(Empty::new())))
    }
}

/// Allocations made by one request through `service`, response dropped included.
fn count_one<S>(service: &mut S, request: Request<()>) -> usize
where
    S: Service<Request<()>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    let before = allocations();
    let mut future = pin!(service.call(request));
    let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else { panic!("the response is ready at once") };
    drop(response);
    allocations() - before
}

fn request(headers: &[(&str, &str)]) -> Request<()> {
    let mut r = Request::get("/items/1").header("host", "svc.test").body(()).unwrap();
    for (k, v) in headers {
        r.headers_mut().insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    r
}

#[test]
fn unsampled_requests_allocate_only_the_response_header() {
    let emitter = Arc::new(MemoryEmitter::new());
    let recorder = Recorder::builder().with_sampler(NeverSample).with_emitter(emitter.clone()).build().unwrap();
    let mut traced = XrayLayer::new("svc").with_recorder(recorder).layer(Nothing);
    // What answering with the header costs on its own: building the value and inserting it
    // into the response's (empty) header map.
    let header = {
        let before = allocations();
        let mut headers = HeaderMap::new();
        let value = http::HeaderValue::from_bytes(b"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0").unwrap();
        headers.insert(http::HeaderName::from_static("x-amzn-trace-id"), value);
        drop(headers);
        allocations() - before
    };
    assert!(header > 0);
    // Warm up (thread-locals, lazily initialised statics).
    count_one(&mut traced, request(&[]));

    let caller_said_no = request(&[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")]);
    assert_eq!(count_one(&mut traced, caller_said_no), header);
    let sampler_said_no = request(&[]);
    assert_eq!(count_one(&mut traced, sampler_said_no), header);
    let asked = request(&[("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?")]);
    assert_eq!(count_one(&mut traced, asked), header);
    assert!(emitter.documents().is_empty());

    // The same request untraced allocates nothing at all, so the layer's share is exactly that.
    let mut plain = Nothing;
    assert_eq!(count_one(&mut plain, request(&[])), 0);
}

/// Allocations of one request through an axum router (built before counting), response and
/// body dropped included.
#[cfg(feature = "axum")]
fn count_router(router: &axum::Router) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    let request = Request::get("/items/1").header("host", "svc.test").body(axum::body::Body::empty()).unwrap();
    let before = allocations();
    let mut future = pin!(tower::ServiceExt::oneshot(router.clone(), request));
    let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else { panic!("the response is ready at once") };
    drop(response);
    allocations() - before
}

#[cfg(feature = "axum")]
#[test]
fn with_axum_body_an_unsampled_axum_request_allocates_only_the_response_header() {
    use axum::routing::get;

    let emitter = Arc::new(MemoryEmitter::new());
    let recorder = Recorder::builder().with_sampler(NeverSample).with_emitter(emitter.clone()).build().unwrap();
    // `with_state` readies the routes once, as `axum::serve` does.
    let router = || axum::Router::new().route("/items/{id}", get(|| async { "item" })).with_state(());
    // What answering with the header costs in this response on its own (the value, and room
    // for it in the response's header map), with what axum charges for any layer.
    let header_only = router().layer(tower::util::MapResponseLayer::new(|mut r: Response<axum::body::Body>| {
        let value = http::HeaderValue::from_bytes(b"Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        r.headers_mut().insert(http::HeaderName::from_static("x-amzn-trace-id"), value);
        r
    }));
    let wrapped = router().layer(XrayLayer::new("svc").with_recorder(recorder.clone()));
    let axum_body = router().layer(XrayLayer::new("svc").with_recorder(recorder).with_axum_body());
    // Warm up (thread-locals, lazily initialised statics).
    for r in [&header_only, &wrapped, &axum_body] {
        count_router(r);
    }
    let header = count_router(&header_only);
    assert_eq!(count_router(&axum_body), header);
    // A body of another type than axum's own is boxed again by axum.
    assert_eq!(count_router(&wrapped), header + 1);
    assert!(emitter.documents().is_empty());
}
