//! [`AwsCall`]: the subsegment of one operation, from serialization to the end of its last
//! attempt, kept in the operation's config bag between the interceptor's hooks.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::interceptors::context::{Error, Input, Output};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata, OrchestratorError};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use aws_smithy_types::error::ErrorMetadata;
use serde_json::{Map, Value};
use xray_core::integration::{HttpResponse as ResponseBlock, Namespace};
use xray_core::model::{Aws, Cause, CauseDetails};
use xray_core::outbound::scrub_urls;
use xray_core::{Entity, Exception, Subsegment};

use crate::naming::{is_throttling, service_name};
use crate::params;

/// At most this many failed attempts are recorded as exceptions; a retry policy decides how
/// many attempts there are, and a document stays bounded whatever it says.
const MAX_ATTEMPT_EXCEPTIONS: usize = 8;

/// Request-id headers: the JSON and query protocols' (`x-amzn-RequestId`), S3's
/// (`x-amz-request-id`), and the one some REST services send.
const REQUEST_ID_HEADERS: [&str; 3] = ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"];

/// S3's extended request id.
const ID_2_HEADER: &str = "x-amz-id-2";

/// The recording of one operation. Stored in the interceptor state of the operation's
/// config bag, which lives exactly as long as the operation.
#[derive(Debug)]
pub(crate) struct AwsCall {
    subsegment: Option<Subsegment>,
    metadata: Metadata,
    /// The exceptions of failed attempts, oldest first.
    exceptions: Vec<Exception>,
    /// Whether the latest attempt failed (its error is then already in `exceptions`).
    last_attempt_failed: bool,
    /// The attempt last noted, so that an interceptor registered twice notes it once.
    last_attempt: Option<u32>,
}

impl Storable for AwsCall {
    type Storer = StoreReplace<Self>;
}

impl AwsCall {
    /// Opens the operation's subsegment under `parent`: named after the service, namespace
    /// `aws`, with `aws.operation`, `aws.region` and the request's whitelisted parameters.
    pub(crate) fn start(parent: &Entity, metadata: &Metadata, region: Option<&str>, input: Option<&Input>) -> Self {
        let subsegment = parent.begin_subsegment(service_name(metadata.service()));
        let mut aws =
            Aws { operation: Some(metadata.name().to_owned()), region: region.map(str::to_owned), ..Aws::default() };
        if let Some(input) = input {
            params::request(metadata.service(), metadata.name(), input, &mut aws.other);
        }
        subsegment.with_document(|doc| {
            doc.namespace = Some(Namespace::Aws);
            doc.aws = Some(Box::new(aws));
        });
        Self {
            subsegment: Some(subsegment),
            metadata: metadata.clone(),
            exceptions: Vec::new(),
            last_attempt_failed: false,
            last_attempt: None,
        }
    }

    /// The subsegment, whose id the request's trace header names as its parent.
    pub(crate) fn entity(&self) -> Option<&Entity> {
        self.subsegment.as_deref()
    }

    /// Notes the end of an attempt: a failed one's error becomes an exception of the cause.
    pub(crate) fn attempt_done(
        &mut self,
        attempt: Option<u32>,
        result: Option<Result<&Output, &OrchestratorError<Error>>>,
        response: Option<&HttpResponse>,
    ) {
        if attempt.is_some() && attempt == self.last_attempt {
            return;
        }
        self.last_attempt = attempt;
        self.last_attempt_failed = matches!(result, Some(Err(_)));
        if let Some(Err(err)) = result
            && self.exceptions.len() < MAX_ATTEMPT_EXCEPTIONS
        {
            self.exceptions.push(exception(err, response.map(|r| r.status().as_u16())));
        }
    }

    /// Ends the operation's subsegment with its response, its result and the number of
    /// attempts the SDK made.
    pub(crate) fn finish(
        &mut self,
        result: Option<Result<&Output, &OrchestratorError<Error>>>,
        response: Option<&HttpResponse>,
        attempts: Option<u32>,
    ) {
        let Some(subsegment) = self.subsegment.take() else { return };
        let status = response.map(|r| r.status().as_u16());
        let mut other = Map::new();
        if let Some(attempts) = attempts {
            other.insert("retries".into(), Value::from(attempts.saturating_sub(1)));
        }
        let mut request_id = None;
        if let Some(response) = response {
            let headers = response.headers();
            request_id = REQUEST_ID_HEADERS.iter().find_map(|name| headers.get(*name)).map(str::to_owned);
            if let Some(id_2) = headers.get(ID_2_HEADER) {
                other.insert("id_2".into(), Value::from(id_2));
            }
        }
        if let Some(Ok(output)) = result {
            params::response(self.metadata.service(), self.metadata.name(), output, &mut other);
        }
        if let Some(Err(err)) = result
            && !self.last_attempt_failed
        {
            // Failed outside an attempt (before the first, or the operation's own timeout).
            self.exceptions.push(exception(err, status));
        }
        let content_length =
            response.and_then(|r| r.headers().get("content-length")).and_then(|v| v.trim_ascii().parse().ok());
        let exceptions = std::mem::take(&mut self.exceptions);
        subsegment.with_document(|doc| {
            if let Some(aws) = doc.aws.as_mut() {
                aws.request_id = request_id;
                aws.other.extend(other);
            }
            if let Some(status) = status {
                let http = doc.http.get_or_insert_with(Default::default);
                http.response = Some(ResponseBlock { status: Some(status), content_length });
            }
            if let Some(Err(err)) = result {
                classify(err, status, &exceptions, doc);
            }
            if !exceptions.is_empty() {
                doc.cause = Some(Box::new(Cause::Details(CauseDetails { exceptions, ..CauseDetails::default() })));
            }
        });
        // Dropping the subsegment ends it.
    }
}

impl Drop for AwsCall {
    fn drop(&mut self) {
        // An operation whose future was dropped before its end: still recorded, as an error.
        if let Some(subsegment) = self.subsegment.take() {
            subsegment.set_error();
            subsegment.add_exception(Exception::new(
                xray_core::outbound::CANCELLED_TYPE,
                "the operation was dropped before it completed",
            ));
        }
    }
}

/// Sets the flags of a failed operation: a service error is an `error` (4xx), a `throttle`
/// (a throttling code or 429, with `error`) or a `fault` (5xx); any other failure (dispatch,
/// timeout, a response that could not be read) is a fault.
fn classify(
    err: &OrchestratorError<Error>,
    status: Option<u16>,
    exceptions: &[Exception],
    doc: &mut xray_core::integration::SegmentDocument,
) {
    if !err.is_operation_error() {
        doc.fault = true;
        return;
    }
    let code = exceptions.last().and_then(|e| e.kind.as_deref());
    let throttled = status == Some(429) || code.is_some_and(is_throttling);
    match status {
        _ if throttled => {
            doc.error = true;
            doc.throttle = true;
        }
        Some(500..) => doc.fault = true,
        Some(400..=499) => doc.error = true,
        _ => doc.fault = true,
    }
}

/// The exception of one failure: a service error by its code and message (remote); any other
/// failure by its kind, with its `source()` chain as the message.
fn exception(err: &OrchestratorError<Error>, status: Option<u16>) -> Exception {
    if let Some(service) = err.as_operation_error() {
        let (code, message) = error_code(service);
        let code = code.unwrap_or_else(|| match status {
            Some(s) if s >= 500 => "ServiceError".to_owned(),
            _ => "UnknownError".to_owned(),
        });
        return Exception::new(code, scrub(&message)).remote(true);
    }
    let (kind, remote) = if err.is_timeout_error() {
        ("TimeoutError", true)
    } else if err.is_connector_error() {
        ("DispatchFailure", true)
    } else if err.is_response_error() {
        ("ResponseError", true)
    } else if err.is_interceptor_error() {
        ("InterceptorError", false)
    } else {
        ("SdkError", false)
    };
    Exception::new(kind, scrub(&chain_message(err))).remote(remote)
}

/// An error's message followed by its sources' (`a: b: c`), each at most once.
fn chain_message(err: &(dyn StdError + 'static)) -> String {
    let mut message = err.to_string();
    let mut link = err.source();
    for _ in 0..xray_core::model::MAX_CHAIN {
        let Some(e) = link else { break };
        let text = e.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        link = e.source();
    }
    message
}

/// A message without user-info or query strings in its URLs.
fn scrub(message: &str) -> String {
    scrub_urls(message, false).into_owned()
}

/// The code and message of a service error, read from the SDK's types without knowing the
/// operation's error type: an unmodeled error's source is its `ErrorMetadata`; a modeled
/// one displays as `Code: message` (or just `Code`).
fn error_code(err: &Error) -> (Option<String>, String) {
    let mut link: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = link {
        if let Some(meta) = e.downcast_ref::<ErrorMetadata>() {
            return (meta.code().map(str::to_owned), meta.message().unwrap_or_default().to_owned());
        }
        link = e.source();
    }
    let text = err.to_string();
    let is_code = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    match text.split_once(": ") {
        Some((code, message)) if is_code(code) => (Some(code.to_owned()), message.to_owned()),
        _ if is_code(&text) => (Some(text), String::new()),
        _ => (None, text),
    }
}
