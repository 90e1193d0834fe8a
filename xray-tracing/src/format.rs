//! [`TraceIds`]: the X-Ray trace id and entity id in every log line written inside a trace.

use std::cell::RefCell;
use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use xray_core::integration::current_quiet;
use xray_core::{EntityId, TraceId};

/// The key of the text form, as the X-Ray SDK for Java writes it for log correlation.
pub const TEXT_KEY: &str = "AWS-XRAY-TRACE-ID";
/// The JSON field holding the trace id.
pub const JSON_TRACE_ID: &str = "xray_trace_id";
/// The JSON field holding the current segment's or subsegment's id.
pub const JSON_ENTITY_ID: &str = "xray_entity_id";

/// How the ids are added to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `AWS-XRAY-TRACE-ID: 1-…@…` before the line.
    Text,
    /// `"xray_trace_id"` and `"xray_entity_id"` as the last members of the line's object.
    Json,
}

/// An event formatter for `tracing_subscriber::fmt` that adds the current X-Ray trace id and
/// entity id to each event recorded inside a trace (sampled or not), and nothing outside one.
///
/// Text lines start with `AWS-XRAY-TRACE-ID: 1-5759e988-bd862e3fe1be46a994272793@53995c3f42cd8ad8 `
/// (`@entity` is left out when an unsampled request has no entity id, that is unless
/// `AWS_XRAY_NOOP_ID=false`). JSON lines get `"xray_trace_id"` and `"xray_entity_id"` members.
/// Made by [`with_trace_ids`](crate::with_trace_ids) (text) and [`TraceIds::json`] or
/// [`TraceIds::json_over`] (JSON).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer().event_format(xray_tracing::with_trace_ids()))
///     .with(xray_tracing::layer());
/// # let _ = subscriber;
/// ```
#[derive(Debug, Clone)]
pub struct TraceIds<F = Format<Full>> {
    inner: F,
    shape: Shape,
}

impl Default for TraceIds {
    fn default() -> Self {
        Self::text(Format::default())
    }
}

impl TraceIds {
    /// The JSON form over `tracing_subscriber`'s JSON format (feature `json`). Use it on a
    /// JSON layer, so that span fields are JSON too:
    /// `fmt::layer().json().event_format(TraceIds::json())`.
    #[cfg(feature = "json")]
    pub fn json() -> TraceIds<Format<tracing_subscriber::fmt::format::Json>> {
        TraceIds::json_over(Format::default().json())
    }
}

impl<F> TraceIds<F> {
    /// The text form around any event formatter (`fmt::format().compact()`, your own).
    pub fn text(inner: F) -> Self {
        Self { inner, shape: Shape::Text }
    }

    /// The JSON form around an event formatter that writes each event as one JSON object.
    pub fn json_over(inner: F) -> Self {
        Self { inner, shape: Shape::Json }
    }
}

/// The ids of the current entity, when there is a trace.
fn current_ids() -> Option<(TraceId, Option<EntityId>)> {
    let entity = current_quiet();
    entity.trace_id().map(|trace| (trace, entity.id()))
}

thread_local! {
    /// The JSON line being formatted, reused between events.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Adds the ids as the object's last members; a line that is not an object is left as it is.
fn insert_json(line: &str, trace: TraceId, entity: Option<EntityId>, out: &mut Writer<'_>) -> fmt::Result {
    let body = line.trim_end();
    let Some(head) = body.strip_suffix('}') else {
        return out.write_str(line);
    };
    out.write_str(head)?;
    let comma = if head.trim_end().ends_with('{') { "" } else { "," };
    write!(out, "{comma}\"{JSON_TRACE_ID}\":\"{trace}\"")?;
    if let Some(entity) = entity {
        write!(out, ",\"{JSON_ENTITY_ID}\":\"{entity}\"")?;
    }
    out.write_str("}")?;
    out.write_str(&line[body.len()..])
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let Some((trace, entity)) = current_ids() else {
            return self.inner.format_event(ctx, writer, event);
        };
        match self.shape {
            Shape::Text => {
                write!(writer, "{TEXT_KEY}: {trace}")?;
                if let Some(entity) = entity {
                    write!(writer, "@{entity}")?;
                }
                writer.write_char(' ')?;
                self.inner.format_event(ctx, writer, event)
            }
            Shape::Json => {
                let format = |line: &mut String, writer: &mut Writer<'_>| {
                    line.clear();
                    self.inner.format_event(ctx, Writer::new(line), event)?;
                    insert_json(line, trace, entity, writer)
                };
                // A `Debug` impl that logs while its event is formatted finds the buffer taken
                // and uses a fresh one.
                match LINE.try_with(|l| l.try_borrow_mut().map(|mut l| format(&mut l, &mut writer))) {
                    Ok(Ok(result)) => result,
                    _ => format(&mut String::new(), &mut writer),
                }
            }
        }
    }
}

/// The formatter `tracing_subscriber::fmt` uses by default, with the trace ids in front of
/// each line written inside a trace.
///
/// ```
/// let layer = tracing_subscriber::fmt::layer().event_format(xray_tracing::with_trace_ids());
/// # let _: tracing_subscriber::fmt::Layer<tracing_subscriber::Registry, _, _> = layer;
/// ```
pub fn with_trace_ids() -> TraceIds {
    TraceIds::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_members_are_added_before_the_closing_brace() {
        let trace: TraceId = "1-5759e988-bd862e3fe1be46a994272793".parse().unwrap();
        let entity: EntityId = "53995c3f42cd8ad8".parse().unwrap();
        for (line, entity, expected) in [
            (
                "{\"level\":\"INFO\"}\n",
                Some(entity),
                "{\"level\":\"INFO\",\"xray_trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\",\"xray_entity_id\":\"53995c3f42cd8ad8\"}\n",
            ),
            ("{}\n", None, "{\"xray_trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\"}\n"),
            ("not json\n", Some(entity), "not json\n"),
        ] {
            let mut out = String::new();
            insert_json(line, trace, entity, &mut Writer::new(&mut out)).unwrap();
            assert_eq!(out, expected);
        }
    }
}
