//! What a span's fields become on its subsegment.
//!
//! | field | becomes |
//! |---|---|
//! | `otel.name` | the subsegment's name (instead of the span's) |
//! | `xray.annotation.KEY` | the annotation `KEY` (bool, integer, float or string) |
//! | `error = true`, `otel.status_code = "ERROR"` | `fault` |
//! | `error = <error or text>` | `fault` and an exception with its message in `cause` |
//! | `xray.error`, `xray.fault`, `xray.throttle` `= true` | the flag |
//! | `xray.namespace = "remote"` / `"aws"` | the namespace |
//! | any other `otel.*` field | nothing |
//! | any other field | metadata `tracing.FIELD` (when fields are recorded as metadata) |
//!
//! Values are cut to [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES) bytes (a `Debug` value is
//! never formatted past that), and fields whose names say they hold a secret (`password`,
//! `token`, `secret`, `authorization`, `cookie`, `api_key`, `credential`, `private_key`) are
//! written as `"[redacted]"`, since `#[instrument]` records every argument by default.

use std::fmt::{self, Write as _};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::Attributes;
use xray_core::integration::{Namespace, SegmentDocument, sanitize_name};
use xray_core::{AnnotationValue, Entity, Exception};

/// Longest value, in bytes, that a span field leaves in a document; longer values end in `…`.
pub const MAX_VALUE_BYTES: usize = 1024;

/// The metadata namespace of span fields.
pub const METADATA_NAMESPACE: &str = "tracing";

/// The prefix of fields that become annotations: `xray.annotation.user_id = 42`.
pub const ANNOTATION_PREFIX: &str = "xray.annotation.";

const REDACTED: &str = "[redacted]";
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "credential",
    "private_key",
];

/// The shortest of the [`SECRET_WORDS`].
const SHORTEST_SECRET: usize = 5;

fn is_secret(name: &str) -> bool {
    if name.len() < SHORTEST_SECRET {
        return false;
    }
    // Field names are short: a lowercase copy on the stack would be premature; compare bytes.
    SECRET_WORDS
        .iter()
        .any(|w| name.as_bytes().windows(w.len()).any(|window| window.eq_ignore_ascii_case(w.as_bytes())))
}

/// A `fmt::Write` that keeps at most [`MAX_VALUE_BYTES`] and then stops the formatting.
struct Bounded(String);

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_VALUE_BYTES.saturating_sub(self.0.len());
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.0.push_str(&s[..cut]);
        self.0.push('…');
        Err(fmt::Error)
    }
}

fn bounded_debug(value: &dyn fmt::Debug) -> String {
    let mut out = Bounded(String::new());
    // An error here only means the value was cut.
    let _ = write!(out, "{value:?}");
    out.0
}

fn bounded_str(value: &str) -> String {
    let mut out = Bounded(String::with_capacity(value.len().min(MAX_VALUE_BYTES + 3)));
    let _ = out.write_str(value);
    out.0
}

/// One field's value, before it is placed.
enum FieldValue {
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
}

impl FieldValue {
    fn into_json(self) -> Value {
        match self {
            Self::Bool(b) => Value::Bool(b),
            Self::I64(n) => Value::from(n),
            Self::U64(n) => Value::from(n),
            // serde_json writes non-finite floats as null; keep their text instead.
            Self::F64(f) if f.is_finite() => Value::from(f),
            Self::F64(f) => Value::String(f.to_string()),
            Self::Str(s) => Value::String(s),
        }
    }

    fn into_annotation(self) -> AnnotationValue {
        match self {
            Self::Bool(b) => AnnotationValue::Bool(b),
            Self::I64(n) => AnnotationValue::Int(n),
            Self::U64(n) => AnnotationValue::from(n),
            Self::F64(f) => AnnotationValue::Float(f),
            Self::Str(s) => AnnotationValue::String(s),
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What the fields of one `new_span` or `record` call say.
///
/// For a `record` call they are collected without holding any lock and applied afterwards
/// (a field's `Debug` may itself record on the span's subsegment). For a new span they are
/// written straight into its subsegment's document (`doc`), which nothing else can reach
/// yet: metadata and flags go in as they are visited, with no list in between; only the
/// rare annotations, exceptions and causes wait (boxed, so that the common span moves and
/// returns nothing large), since xray-core checks and logs those.
#[derive(Default)]
pub(crate) struct Recorded<'d> {
    doc: Option<&'d mut SegmentDocument>,
    name: Option<String>,
    metadata: Vec<(&'static str, Value)>,
    fault: bool,
    error: bool,
    throttle: bool,
    namespace: Option<Namespace>,
    rare: Option<Box<Rare>>,
    with_metadata: bool,
}

/// What goes through the entity's checks rather than straight into the document.
#[derive(Default)]
struct Rare {
    annotations: Vec<(String, AnnotationValue)>,
    exception: Option<Exception>,
    cause: Option<xray_core::Cause>,
}

impl Rare {
    fn apply(self, entity: &Entity) {
        let Self { annotations, exception, cause } = self;
        for (key, value) in annotations {
            entity.annotate(&key, value);
        }
        if let Some(cause) = cause {
            entity.set_cause(cause);
        }
        if let Some(exception) = exception {
            entity.add_exception(exception);
        }
    }
}

impl Recorded<'_> {
    pub(crate) fn new(with_metadata: bool) -> Self {
        Self { with_metadata, ..Self::default() }
    }

    /// Records a new span's fields on its subsegment `entity` (just begun, sampled).
    pub(crate) fn new_span(attrs: &Attributes<'_>, entity: &Entity, with_metadata: bool) {
        if attrs.fields().is_empty() {
            return;
        }
        let rare = entity.with_document(|d| {
            let mut fields = Recorded { doc: Some(d), with_metadata, ..Recorded::default() };
            attrs.record(&mut fields);
            fields.flush_direct()
        });
        if let Some(Some(rare)) = rare {
            rare.apply(entity);
        }
    }

    /// Writes the name, flags and namespace into `doc`, and returns what is left to apply
    /// through the entity, if anything.
    fn flush_direct(self) -> Option<Box<Rare>> {
        let Self { doc, name, fault, error, throttle, namespace, rare, .. } = self;
        if let Some(d) = doc {
            if let Some(name) = &name {
                d.name = sanitize_name(name).into_owned();
            }
            d.fault |= fault;
            d.error |= error || throttle;
            d.throttle |= throttle;
            if namespace.is_some() {
                d.namespace = namespace;
            }
        }
        rare
    }

    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    fn push_metadata(&mut self, key: &'static str, value: Value) {
        match &mut self.doc {
            Some(d) => {
                d.metadata.insert_static(METADATA_NAMESPACE, key, value);
            }
            None => self.metadata.push((key, value)),
        }
    }

    fn place(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
        if let Some(key) = name.strip_prefix(ANNOTATION_PREFIX) {
            let value = if is_secret(key) { AnnotationValue::String(REDACTED.into()) } else { value.into_annotation() };
            self.rare().annotations.push((key.to_owned(), value));
            return;
        }
        match name {
            "otel.name" => self.name = value.as_text().map(str::to_owned),
            "otel.status_code" => self.fault |= value.as_text().is_some_and(|s| s.eq_ignore_ascii_case("error")),
            "error" => match value {
                FieldValue::Bool(b) => self.fault |= b,
                FieldValue::Str(message) => {
                    self.fault = true;
                    self.rare().exception = Some(Exception::new("error", message));
                }
                _ => {}
            },
            "xray.error" => self.error |= matches!(value, FieldValue::Bool(true)),
            "xray.fault" => self.fault |= matches!(value, FieldValue::Bool(true)),
            "xray.throttle" => self.throttle |= matches!(value, FieldValue::Bool(true)),
            "xray.namespace" => match value.as_text() {
                Some(s) if s.eq_ignore_ascii_case("remote") => self.namespace = Some(Namespace::Remote),
                Some(s) if s.eq_ignore_ascii_case("aws") => self.namespace = Some(Namespace::Aws),
                _ => {}
            },
            _ if name.starts_with("otel.") => {}
            _ if self.with_metadata => {
                let value = if is_secret(name) { Value::String(REDACTED.into()) } else { value.into_json() };
                self.push_metadata(name, value);
            }
            _ => {}
        }
    }

    /// Writes what was collected onto `entity` (a sampled subsegment).
    pub(crate) fn apply(self, entity: &Entity, rename: bool) {
        let Self { name, metadata, fault, error, throttle, namespace, rare, .. } = self;
        if let Some(rare) = rare {
            rare.apply(entity);
        }
        entity.with_document(|d| {
            if rename && let Some(name) = &name {
                d.name = sanitize_name(name).into_owned();
            }
            for (key, value) in metadata {
                d.metadata.insert_static(METADATA_NAMESPACE, key, value);
            }
            d.fault |= fault;
            d.error |= error || throttle;
            d.throttle |= throttle;
            if namespace.is_some() {
                d.namespace = namespace;
            }
        });
    }
}

impl Visit for Recorded<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.place(field, FieldValue::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.place(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.place(field, FieldValue::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.place(field, FieldValue::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let value = if is_secret(field.name()) { REDACTED.to_owned() } else { bounded_str(value) };
        self.place(field, FieldValue::Str(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            // The error and its source chain, as Entity::record_error records them.
            self.fault = true;
            self.rare().cause = Some(xray_core::Cause::from_error(value, false));
            return;
        }
        let text = if is_secret(field.name()) { REDACTED.to_owned() } else { bounded_str(&value.to_string()) };
        self.place(field, FieldValue::Str(text));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Formatting is the expensive part: skip it for values that are dropped or redacted.
        let name = field.name();
        if !self.with_metadata && !name.starts_with("xray.") && !name.starts_with("otel.") && name != "error" {
            return;
        }
        let text = if is_secret(name) { REDACTED.to_owned() } else { bounded_debug(value) };
        self.place(field, FieldValue::Str(text));
    }
}

/// The message of an ERROR event, for the exception it adds to its span's subsegment.
#[derive(Default)]
pub(crate) struct EventMessage {
    pub(crate) message: Option<String>,
    pub(crate) error: Option<String>,
}

impl Visit for EventMessage {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(bounded_str(value)),
            "error" => self.error = Some(bounded_str(value)),
            _ => {}
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            self.error = Some(bounded_str(&value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            // `error!("...")` records its message as `fmt::Arguments`, through Debug.
            "message" => self.message = Some(bounded_debug(value)),
            "error" => self.error = Some(bounded_debug(value)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_table() {
        assert_eq!(SECRET_WORDS.iter().map(|w| w.len()).min(), Some(SHORTEST_SECRET));
        for (name, secret) in [
            ("password", true),
            ("user_password", true),
            ("API_KEY", true),
            ("auth_token", true),
            ("Authorization", true),
            ("user_id", false),
            ("tokenizer_model", true), // over-redacting is the safe side
            ("order", false),
            ("n", false),
            ("token", true),
        ] {
            assert_eq!(is_secret(name), secret, "{name}");
        }
    }

    #[test]
    fn long_values_are_cut_without_formatting_the_rest() {
        let long = "x".repeat(MAX_VALUE_BYTES * 4);
        let cut = bounded_str(&long);
        assert_eq!(cut.len(), MAX_VALUE_BYTES + '…'.len_utf8());
        assert!(cut.ends_with('…'));
        let debug = bounded_debug(&vec![7u8; MAX_VALUE_BYTES]);
        assert!(debug.len() <= MAX_VALUE_BYTES + '…'.len_utf8());
        // A cut never splits a character.
        let wide = "é".repeat(MAX_VALUE_BYTES);
        assert!(bounded_str(&wide).chars().all(|c| c == 'é' || c == '…'));
        assert_eq!(bounded_str("short"), "short");
    }
}
