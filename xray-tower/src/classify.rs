//! How outcomes become X-Ray's `error`, `fault`, `throttle` and `cause`.
//!
//! - HTTP status: 4xx error, 429 error and throttle, 5xx fault (done by
//!   [`Entity::set_http_response`]).
//! - gRPC (tonic and friends), read from `grpc-status` in the response headers (trailers-only
//!   responses) or trailers, mapped as the AWS SDK for Go maps codes: `RESOURCE_EXHAUSTED` is a
//!   throttle (also an error here, as X-Ray reports a 429), `UNIMPLEMENTED`, `INTERNAL` and
//!   `DATA_LOSS` are faults, every other non-`OK` code is an error.
//! - An error returned by the inner service: a fault with a `cause` (its `source()` chain when
//!   the error type is one we can see through, otherwise its message and type name).
//! - A panic: a fault with a `panic` exception carrying the panic message.
//! - A response body that fails while it is being sent: a fault with a `BodyError` exception.
//! - A cancelled request (the future or call dropped before a response): an error with a
//!   `RequestCancelled` exception. X-Ray has no flag for it; the request did not fail on the
//!   server's side, so it is not a fault.

use std::any::Any;
use std::error::Error;
use std::fmt::Display;

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use xray_core::integration::HttpResponse;
use xray_core::{Entity, Exception};

use crate::request::{first_values, number};

/// The exception type of a cancelled request or call (the same for both, from
/// [`xray_core::outbound`]).
pub use xray_core::outbound::CANCELLED_TYPE;

/// The exception type of a response body that failed while it was being sent or read.
pub use xray_core::outbound::BODY_ERROR_TYPE;

/// The exception type of a panic.
pub const PANIC_TYPE: &str = "panic";

/// gRPC status codes that X-Ray counts as faults (server errors).
const GRPC_FAULTS: [u16; 3] = [12, 13, 15];
/// `RESOURCE_EXHAUSTED`.
const GRPC_THROTTLE: u16 = 8;

/// A `const` name, so that comparing it on every sampled response does not parse it.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// Applies a `grpc-status` header or trailer, if there is one.
pub(crate) fn apply_grpc_status(entity: &Entity, headers: &HeaderMap) {
    apply_grpc_value(entity, headers.get(&GRPC_STATUS));
}

/// Applies a `grpc-status` value: 0 is success, the others map as the Go SDK maps them.
fn apply_grpc_value(entity: &Entity, value: Option<&HeaderValue>) {
    let Some(code) = number::<u16>(value) else {
        return;
    };
    match code {
        0 => {}
        GRPC_THROTTLE => entity.set_throttle(),
        c if GRPC_FAULTS.contains(&c) => entity.set_fault(),
        _ => entity.set_error(),
    }
}

/// Records what a response's headers say on `entity`: the status and declared length in
/// `http.response`, and a gRPC status; returns the declared length.
///
/// One walk over the headers finds both `Content-Length` and `grpc-status` ([`first_values`]).
pub(crate) fn record_response(entity: &Entity, status: StatusCode, headers: &HeaderMap) -> Option<u64> {
    let [length, grpc] = first_values(headers, [&CONTENT_LENGTH, &GRPC_STATUS]);
    let content_length = number(length);
    entity.set_http_response(HttpResponse { status: Some(status.as_u16()), content_length });
    apply_grpc_value(entity, grpc);
    content_length
}

/// Records an error returned by a service as a fault with a cause.
///
/// Service errors are often boxed (`tower::BoxError`), which does not implement `Error`
/// itself, so the common carriers are unwrapped to reach the `source()` chain; any other type
/// is recorded by its message and type name.
pub(crate) fn record_failure<E: Display + 'static>(entity: &Entity, err: &E, remote: bool) {
    if !entity.is_sampled() {
        return;
    }
    match error_chain(err) {
        Some(e) if remote => entity.record_remote_error(e),
        Some(e) => entity.record_error(e),
        None => {
            entity.set_fault();
            entity.add_exception(Exception::new(short_type_name::<E>(), err.to_string()).remote(remote));
        }
    }
}

/// `err` as an error whose `source()` chain can be read, when its type is one of the common
/// carriers: the boxed errors of tower, `io::Error`, and (feature `hyper-util`) the error of
/// hyper-util's legacy client.
pub(crate) fn error_chain<E: 'static>(err: &E) -> Option<&(dyn Error + 'static)> {
    let any = err as &dyn Any;
    if let Some(e) = any.downcast_ref::<Box<dyn Error + Send + Sync>>() {
        return Some(&**e);
    }
    if let Some(e) = any.downcast_ref::<Box<dyn Error + Send>>() {
        return Some(&**e);
    }
    if let Some(e) = any.downcast_ref::<Box<dyn Error>>() {
        return Some(&**e);
    }
    #[cfg(feature = "hyper-util")]
    if let Some(e) = any.downcast_ref::<hyper_util::client::legacy::Error>() {
        return Some(e);
    }
    any.downcast_ref::<std::io::Error>().map(|e| e as &(dyn Error + 'static))
}

/// `my_crate::errors::ApiError<u8>` → `ApiError<u8>`.
pub(crate) fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let start = base.rfind("::").map_or(0, |i| i + 2);
    &full[start..]
}

/// Records a panic caught while the inner service ran.
pub(crate) fn record_panic(entity: &Entity, payload: Option<&(dyn Any + Send)>) {
    let message = match payload {
        Some(p) => match (p.downcast_ref::<&str>(), p.downcast_ref::<String>()) {
            (Some(s), _) => (*s).to_owned(),
            (None, Some(s)) => s.clone(),
            (None, None) => "the handler panicked with a non-string payload".to_owned(),
        },
        None => "the request was dropped while a panic unwound".to_owned(),
    };
    entity.set_fault();
    entity.add_exception(Exception::new(PANIC_TYPE, message));
}

/// Records that the request was dropped before its response was ready.
pub(crate) fn record_cancelled(entity: &Entity, message: &str) {
    entity.set_error();
    entity.add_exception(Exception::new(CANCELLED_TYPE, message));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use xray_core::{AlwaysSample, MemoryEmitter, Recorder};

    use super::*;

    fn with_segment(f: impl FnOnce(&Entity)) -> serde_json::Value {
        let emitter = Arc::new(MemoryEmitter::new());
        let recorder = Recorder::builder().with_sampler(AlwaysSample).with_emitter(emitter.clone()).build().unwrap();
        let segment = recorder.new_segment("t");
        f(&segment);
        segment.end();
        emitter.take().remove(0)
    }

    #[test]
    fn grpc_table() {
        let cases = [
            ("0", false, false, false),
            ("5", true, false, false),
            ("8", true, false, true),
            ("12", false, true, false),
            ("13", false, true, false),
            ("14", true, false, false),
            ("15", false, true, false),
            ("nonsense", false, false, false),
        ];
        for (code, error, fault, throttle) in cases {
            let doc = with_segment(|e| {
                let mut h = HeaderMap::new();
                h.insert("grpc-status", code.parse().unwrap());
                apply_grpc_status(e, &h);
            });
            let flag = |k: &str| doc.get(k).and_then(serde_json::Value::as_bool).unwrap_or(false);
            assert_eq!(
                (flag("error"), flag("fault"), flag("throttle")),
                (error, fault, throttle),
                "grpc-status {code}"
            );
        }
    }

    #[derive(Debug)]
    struct Custom;
    impl Display for Custom {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("custom failure")
        }
    }

    #[test]
    fn failures_keep_chain_or_message() {
        let boxed: Box<dyn Error + Send + Sync> = Box::new(std::io::Error::other("disk on fire"));
        let doc = with_segment(|e| record_failure(e, &boxed, false));
        assert_eq!(doc["fault"], true);
        assert_eq!(doc["cause"]["exceptions"][0]["message"], "disk on fire");

        let doc = with_segment(|e| record_failure(e, &Custom, true));
        assert_eq!(doc["fault"], true);
        assert_eq!(doc["cause"]["exceptions"][0]["type"], "Custom");
        assert_eq!(doc["cause"]["exceptions"][0]["message"], "custom failure");
        assert_eq!(doc["cause"]["exceptions"][0]["remote"], true);
    }

    #[test]
    fn panic_payloads() {
        let payload: Box<dyn Any + Send> = Box::new(String::from("boom 7"));
        let doc = with_segment(|e| record_panic(e, Some(&*payload)));
        assert_eq!(doc["fault"], true);
        assert_eq!(doc["cause"]["exceptions"][0]["type"], PANIC_TYPE);
        assert_eq!(doc["cause"]["exceptions"][0]["message"], "boom 7");
    }

    #[test]
    fn type_names_are_shortened() {
        assert_eq!(short_type_name::<std::vec::Vec<u8>>(), "Vec<u8>");
        assert_eq!(short_type_name::<Custom>(), "Custom");
    }
}
