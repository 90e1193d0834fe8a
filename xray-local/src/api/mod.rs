//! The X-Ray query API, the daemon's sampling proxy and the console's own endpoints.
//!
//! The AWS routes take the JSON bodies the AWS SDKs send (`rest-json`: `POST` with the
//! operation's input as an object, timestamps as epoch seconds) and answer with the service's
//! JSON shapes. A request that is not what the service accepts gets its error shape: status 400,
//! `x-amzn-ErrorType: InvalidRequestException` and `{"__type": ..., "Message": ...}`.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::server::Shared;

pub(crate) mod facts;
pub(crate) mod graph;
pub(crate) mod local;
pub(crate) mod sampling;
pub(crate) mod summaries;
pub(crate) mod traces;

pub use sampling::SamplingRulesError;

/// What every handler reads: the daemon's state and the sampling rules.
pub(crate) struct ApiContext {
    pub shared: Arc<Shared>,
    pub rules: sampling::SamplingRules,
    pub targets: Mutex<sampling::Targets>,
}

impl ApiContext {
    pub fn new(shared: Arc<Shared>, rules: sampling::SamplingRules) -> Self {
        ApiContext { shared, rules, targets: Mutex::new(sampling::Targets::default()) }
    }
}

/// The state the router hands to handlers.
pub(crate) type Ctx = axum::extract::State<Arc<ApiContext>>;

/// An error in the service's shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    /// `InvalidRequestException` (400): the request is not one the service accepts.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, kind: "InvalidRequestException", message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"__type": self.kind, "Message": self.message, "message": self.message});
        let mut response = json_with(self.status, &body);
        if let Ok(kind) = HeaderValue::from_str(self.kind) {
            response.headers_mut().insert("x-amzn-errortype", kind);
        }
        response
    }
}

/// A JSON answer with status 200.
pub(crate) fn json(body: &Value) -> Response {
    json_with(StatusCode::OK, body)
}

pub(crate) fn json_with(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Answers a path that is not an operation of this API.
pub(crate) async fn unknown_operation(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let message = format!(
        "{method} {} is not an operation xray-local serves: it answers POST /TraceSummaries, /Traces, \
         /ServiceGraph, /TraceGraph, /GetSamplingRules and /SamplingTargets, GET /local/status and \
         /local/traces/{{id}}",
        uri.path()
    );
    let body = serde_json::json!({"__type": "UnknownOperationException", "Message": message, "message": message});
    let mut response = json_with(StatusCode::NOT_FOUND, &body);
    response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static("UnknownOperationException"));
    response
}

/// An operation's input: the JSON object of the body, read field by field with clear messages.
pub(crate) struct Input {
    operation: &'static str,
    fields: Map<String, Value>,
}

impl Input {
    /// Parses the body; an empty body counts as `{}`.
    pub fn parse(operation: &'static str, body: &Bytes) -> Result<Input, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input { operation, fields: Map::new() });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Input { operation, fields }),
            Ok(other) => Err(ApiError::invalid(format!(
                "{operation}: the body must be a JSON object of the operation's parameters, not {}",
                crate::trace::json_type(&other)
            ))),
            Err(e) => Err(ApiError::invalid(format!("{operation}: the body is not valid JSON: {e}"))),
        }
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }

    fn wrong(&self, name: &str, want: &str, got: &Value) -> ApiError {
        ApiError::invalid(format!("{}: {name} must be {want}, not {}", self.operation, crate::trace::json_type(got)))
    }

    fn missing(&self, name: &str) -> ApiError {
        ApiError::invalid(format!("{}: {name} is required", self.operation))
    }

    /// A timestamp, as the AWS SDKs send them here: epoch seconds.
    pub fn time(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(t) if t.is_finite() => Ok(Some(t)),
                _ => Err(self.wrong(name, "a timestamp in epoch seconds (a number)", v)),
            },
        }
    }

    /// A required timestamp.
    pub fn required_time(&self, name: &str) -> Result<f64, ApiError> {
        self.time(name)?.ok_or_else(|| self.missing(name))
    }

    /// A string.
    pub fn string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong(name, "a string", v)),
        }
    }

    /// A boolean.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(name, "true or false", v)),
        }
    }

    /// An object.
    pub fn object(&self, name: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(v) => Err(self.wrong(name, "an object", v)),
        }
    }

    /// A required list.
    pub fn required_list(&self, name: &str) -> Result<&[Value], ApiError> {
        match self.present(name) {
            None => Err(self.missing(name)),
            Some(Value::Array(items)) => Ok(items),
            Some(v) => Err(self.wrong(name, "a list", v)),
        }
    }

    /// A required list of strings.
    pub fn required_strings(&self, name: &str) -> Result<Vec<&str>, ApiError> {
        let items = self.required_list(name)?;
        (items.iter().enumerate())
            .map(|(i, v)| v.as_str().ok_or_else(|| self.wrong(&format!("{name}[{i}]"), "a string", v)))
            .collect()
    }

    /// The operation's name, for messages.
    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

/// A page token: `prefix` and a number, opaque to clients.
pub(crate) fn token(prefix: &str, n: u64) -> String {
    format!("{prefix}{n}")
}

/// Reads a token made by [`token`] with the same prefix.
pub(crate) fn read_token(operation: &str, prefix: &str, text: &str) -> Result<u64, ApiError> {
    (text.strip_prefix(prefix).and_then(|n| n.parse().ok())).ok_or_else(|| {
        ApiError::invalid(format!(
            "{operation}: NextToken {text:?} was not issued by this operation: pass the NextToken of \
             the previous answer unchanged"
        ))
    })
}

/// Seconds since the epoch, now.
pub(crate) fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
