//! [`Invocation`]: what one invocation opens (the facade of Lambda's segment and the
//! `invocation` subsegment under it) and how its outcome is recorded.

use std::any::Any;
use std::error::Error;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};

use lambda_runtime::{Context, Diagnostic};
use xray_core::model::Aws;
use xray_core::sampling::SamplingRequest;
use xray_core::w3c::TraceParent;
use xray_core::{Entity, Exception, Recorder, Segment, Subsegment, TraceHeader};

/// The variable Lambda sets to the invocation's trace header in sequential mode only; the
/// invocation's own context is read first, since concurrent mode leaves this unset (or, with
/// several invocations in flight, names another one).
pub const TRACE_ID_VAR: &str = "_X_AMZN_TRACE_ID";

/// The annotation on the first invocation of the process.
pub const COLD_START_ANNOTATION: &str = "cold_start";

/// The exception type of a panic in the handler.
pub const PANIC_TYPE: &str = "panic";

/// The origin of the segment the function records itself, when Lambda recorded none.
pub const FUNCTION_ORIGIN: &str = "AWS::Lambda::Function";

/// `true` until the first invocation of this process has begun.
static COLD_START: AtomicBool = AtomicBool::new(true);

/// The W3C trace context an HTTP event carried (API Gateway and function URLs pass the
/// caller's headers on): its `traceparent` and `tracestate`.
#[derive(Debug, Clone)]
pub(crate) struct W3cContext {
    pub(crate) traceparent: TraceParent,
    pub(crate) tracestate: Option<String>,
}

/// The open entities of one invocation. Under Lambda's segment, dropping it ends the
/// subsegment, which is sent as an independent subsegment whose parent is Lambda's segment,
/// and then the facade, which is never sent. Without one (a W3C trace and no X-Ray context),
/// the function's own segment is all there is, sent when it ends.
#[derive(Debug)]
pub(crate) struct Invocation {
    // Fields drop in order: the subsegment ends before its segment.
    subsegment: Option<Subsegment>,
    segment: Segment,
}

impl Invocation {
    /// Opens the facade from the invocation's trace header (the context's, else
    /// `_X_AMZN_TRACE_ID`) and the `invocation` subsegment under it, named `name`, else the
    /// function's name (from the runtime's configuration or the invoked ARN), else the
    /// recorder's service name. Without an X-Ray trace header, `w3c` (an HTTP event's
    /// `traceparent`) is continued by a segment of the function's own.
    pub(crate) fn begin(recorder: &Recorder, name: &str, context: Option<&Context>, w3c: Option<W3cContext>) -> Self {
        Self::begin_with_env(recorder, name, context, w3c, || std::env::var(TRACE_ID_VAR).ok())
    }

    /// [`begin`](Self::begin) with `_X_AMZN_TRACE_ID` read through `env` (`lambda_runtime`
    /// itself sets and clears that variable in sequential mode, so only a runtime of another
    /// kind leaves it for a context without a trace id).
    fn begin_with_env(
        recorder: &Recorder,
        name: &str,
        context: Option<&Context>,
        w3c: Option<W3cContext>,
        env: impl FnOnce() -> Option<String>,
    ) -> Self {
        let header = match context.and_then(|c| c.xray_trace_id.as_deref()) {
            Some(header) => TraceHeader::parse(header),
            None => env().map(|v| TraceHeader::parse(&v)).unwrap_or_default(),
        };
        let w3c = w3c.filter(|_| recorder.config().propagation.w3c());
        let cold_start = COLD_START.swap(false, Ordering::Relaxed);
        let name = function_name(name, context, recorder);
        let root = header.root();
        if root.is_none()
            && let Some(w3c) = w3c
        {
            // Lambda recorded no segment (no X-Ray context): the function records its own,
            // a child of the caller's W3C span, sampled as the caller's flag says.
            let mut incoming = w3c.traceparent.to_header();
            if let Some(state) = &w3c.tracestate {
                incoming = incoming.with_tracestate(state);
            }
            let segment = recorder.begin_segment(name, Some(&incoming), &SamplingRequest::default());
            if segment.is_sampled() {
                segment.with_document(|d| d.origin = Some(FUNCTION_ORIGIN.to_owned()));
                record_invocation(&segment, cold_start, context);
            }
            return Self { subsegment: None, segment };
        }
        // X-Ray's header wins: the facade is Lambda's segment. A `tracestate` goes on only with
        // a `traceparent` of the same trace.
        let header = match w3c {
            Some(W3cContext { traceparent, tracestate: Some(state) }) if Some(traceparent.trace_id) == root => {
                header.with_tracestate(&state)
            }
            _ => header,
        };
        let facade = recorder.lambda_segment(&header);
        let subsegment = facade.begin_subsegment(name);
        if subsegment.is_sampled() {
            record_invocation(&subsegment, cold_start, context);
        }
        Self { subsegment: Some(subsegment), segment: facade }
    }

    /// The `invocation` subsegment, current for everything the handler does.
    pub(crate) fn entity(&self) -> Entity {
        match &self.subsegment {
            Some(subsegment) => subsegment.entity(),
            None => self.segment.entity(),
        }
    }
}

/// The `cold_start` annotation (on the first invocation) and the context's ids.
fn record_invocation(entity: &Entity, cold_start: bool, context: Option<&Context>) {
    if cold_start {
        entity.annotate(COLD_START_ANNOTATION, true);
    }
    if let Some(context) = context {
        record_context(entity, context);
    }
}

/// The name of the `invocation` subsegment.
fn function_name<'a>(name: &'a str, context: Option<&'a Context>, recorder: &'a Recorder) -> &'a str {
    if !name.is_empty() {
        return name;
    }
    let from_config = context.map(|c| c.env_config.function_name.as_str()).filter(|n| !n.is_empty());
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    let from_arn = || {
        context
            .and_then(|c| c.invoked_function_arn.strip_prefix("arn:"))
            .and_then(|arn| arn.split(':').nth(5))
            .filter(|n| !n.is_empty())
    };
    from_config.or_else(from_arn).unwrap_or_else(|| recorder.service_name())
}

/// `aws.request_id` and `aws.function_arn` from the invocation's context.
fn record_context(entity: &Entity, context: &Context) {
    // The runtime puts a sentence in place of a missing ARN header; only an ARN is recorded.
    let arn = context.invoked_function_arn.starts_with("arn:").then_some(context.invoked_function_arn.as_str());
    let request_id = (!context.request_id.is_empty()).then_some(context.request_id.as_str());
    entity.with_document(|d| {
        let aws = d.aws.get_or_insert_with(|| Box::new(Aws::default()));
        if let Some(id) = request_id {
            aws.request_id = Some(id.to_owned());
        }
        if let Some(arn) = arn {
            aws.other.insert("function_arn".to_owned(), arn.into());
        }
    });
}

/// Records a handler's error as a fault with a cause: its `source()` chain for the error types
/// a handler commonly returns (`lambda_runtime::Error`, boxed errors, `std::io::Error`), its
/// type and message for a [`Diagnostic`], strings as messages, and anything else by its type
/// name and `Debug` text.
pub(crate) fn record_error<E: Debug + 'static>(entity: &Entity, err: &E) {
    if !entity.is_sampled() {
        return;
    }
    let any = err as &dyn Any;
    let chain: Option<&(dyn Error + 'static)> = if let Some(e) = any.downcast_ref::<lambda_runtime::Error>() {
        Some(&**e)
    } else if let Some(e) = any.downcast_ref::<Box<dyn Error + Send>>() {
        Some(&**e)
    } else if let Some(e) = any.downcast_ref::<Box<dyn Error>>() {
        Some(&**e)
    } else if let Some(e) = any.downcast_ref::<std::io::Error>() {
        Some(e)
    } else {
        None
    };
    if let Some(e) = chain {
        entity.record_error(e);
        return;
    }
    let exception = if let Some(d) = any.downcast_ref::<Diagnostic>() {
        Exception::new(d.error_type.clone(), d.error_message.clone())
    } else if let Some(s) = any.downcast_ref::<String>() {
        Exception::new("Error", s.clone())
    } else if let Some(s) = any.downcast_ref::<&'static str>() {
        Exception::new("Error", *s)
    } else {
        Exception::new(short_type_name::<E>(), format!("{err:?}"))
    };
    entity.set_fault();
    entity.add_exception(exception);
}

/// Records a panic in the handler as a fault with a [`PANIC_TYPE`] exception.
pub(crate) fn record_panic(entity: &Entity, payload: &(dyn Any + Send)) {
    let message = match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (None, Some(s)) => s.clone(),
        (None, None) => "the handler panicked with a non-string payload".to_owned(),
    };
    entity.set_fault();
    entity.add_exception(Exception::new(PANIC_TYPE, message));
}

/// `my_crate::errors::ApiError<u8>` → `ApiError<u8>`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let start = base.rfind("::").map_or(0, |i| i + 2);
    &full[start..]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";

    fn context(header: Option<&str>) -> Context {
        let mut context = Context::default();
        context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
        context.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:checkout:live".into();
        context.xray_trace_id = header.map(str::to_owned);
        context
    }

    #[test]
    fn names_come_from_the_layer_the_configuration_the_arn_then_the_service() {
        let capture = xray_core::test::Capture::with(|b| b.with_service_name("orders"));
        let recorder = capture.recorder();
        let mut ctx = context(None);
        assert_eq!(function_name("mine", Some(&ctx), recorder), "mine");
        assert_eq!(function_name("", Some(&ctx), recorder), "checkout");
        ctx.env_config = Arc::new(lambda_runtime::Config { function_name: "from-env".into(), ..Default::default() });
        assert_eq!(function_name("", Some(&ctx), recorder), "from-env");
        assert_eq!(function_name("", None, recorder), "orders");
        let mut odd = context(None);
        odd.invoked_function_arn = "No header lambda-runtime-invoked-function-arn found.".into();
        assert_eq!(function_name("", Some(&odd), recorder), "orders");
    }

    #[test]
    fn the_environment_stands_in_only_for_a_context_without_a_trace_id() {
        let from_env = "Root=1-5759e988-00000000000000000000abcd;Parent=53995c3f0000abcd;Sampled=1";
        let capture = xray_core::test::Capture::new();
        // The context's header wins; without one, the variable's is used.
        drop(Invocation::begin_with_env(capture.recorder(), "", Some(&context(Some(HEADER))), None, || {
            Some(from_env.into())
        }));
        drop(Invocation::begin_with_env(capture.recorder(), "", Some(&context(None)), None, || Some(from_env.into())));
        drop(Invocation::begin_with_env(capture.recorder(), "", None, None, || Some(from_env.into())));
        // Neither: nothing to attach to, nothing recorded.
        drop(Invocation::begin_with_env(capture.recorder(), "", Some(&context(None)), None, || None));
        let parents: Vec<_> = capture.take().iter().map(|d| d["parent_id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(parents, ["53995c3f42cd8ad8", "53995c3f0000abcd", "53995c3f0000abcd"]);
    }

    #[test]
    fn the_subsegment_goes_under_lambdas_segment_with_the_context() {
        let capture = xray_core::test::Capture::new();
        let invocation = Invocation::begin(capture.recorder(), "", Some(&context(Some(HEADER))), None);
        let down = invocation.entity().downstream_header().unwrap();
        assert_eq!(down.extra(), "Lineage=a87bd80c:1");
        drop(invocation);
        let docs = capture.take();
        assert_eq!(docs.len(), 1, "{docs:#?}");
        let doc = &docs[0];
        xray_tests::assert_valid(doc);
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["name"], "checkout");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["aws"]["request_id"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(doc["aws"]["function_arn"], "arn:aws:lambda:eu-west-1:123456789012:function:checkout:live");
    }

    #[test]
    fn an_unsampled_invocation_records_nothing_and_still_propagates() {
        let capture = xray_core::test::Capture::new();
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1";
        let invocation = Invocation::begin(capture.recorder(), "", Some(&context(Some(header))), None);
        let entity = invocation.entity();
        assert!(!entity.is_sampled());
        let down = entity.downstream_header().unwrap();
        assert_eq!(down.to_string(), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a87bd80c:1");
        drop(invocation);
        assert!(capture.take().is_empty());
    }

    #[derive(Debug)]
    struct Opaque(#[allow(dead_code)] u8);

    /// Records an error on the entity; the message and type expected.
    type ErrorCase<'a> = (&'a dyn Fn(&Entity), &'a str, &'a str);

    #[test]
    fn errors_become_faults_with_causes() {
        let cases: [ErrorCase<'_>; 5] = [
            (&|e| record_error(e, &lambda_runtime::Error::from("card declined")), "card declined", ""),
            (&|e| record_error(e, &std::io::Error::other("disk full")), "disk full", ""),
            (
                &|e| {
                    let d = Diagnostic { error_type: "Declined".into(), error_message: "no funds".into() };
                    record_error(e, &d)
                },
                "no funds",
                "Declined",
            ),
            (&|e| record_error(e, &String::from("plain")), "plain", "Error"),
            (&|e| record_error(e, &Opaque(7)), "Opaque(7)", "Opaque"),
        ];
        for (record, message, kind) in cases {
            let docs = xray_core::test::capture(|recorder| {
                let segment = recorder.new_segment("fn");
                record(&segment);
            });
            let doc = &docs[0];
            xray_tests::assert_valid(doc);
            assert_eq!(doc["fault"], true, "{message}");
            assert_eq!(doc["cause"]["exceptions"][0]["message"], message);
            if !kind.is_empty() {
                assert_eq!(doc["cause"]["exceptions"][0]["type"], kind);
            }
        }
    }
}
