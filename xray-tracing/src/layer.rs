//! [`XrayLayer`]: spans entered inside an X-Ray trace become subsegments.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use xray_core::integration::current_quiet;
use xray_core::{Entity, Exception, Subsegment};

use crate::fields::{EventMessage, Recorded};
use crate::filter::SpanFilter;
use crate::stack;

/// How many spans hold a [`SpanState`], over every layer in the process. While there are
/// none, entering, exiting and closing a span skips the span lookup altogether, which is
/// what keeps spans outside any trace nearly free.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// At most this many ERROR events of one span become exceptions in its cause.
pub const MAX_EVENT_EXCEPTIONS: u8 = 10;

/// What a recorded span keeps in its extensions.
struct SpanState {
    recording: Recording,
    /// ERROR events recorded as exceptions so far.
    exceptions: u8,
}

/// A recorded span's entity.
enum Recording {
    /// The span's subsegment, which ends when the span closes (and the state is dropped).
    Sampled(Subsegment),
    /// The unsampled trace's entity, so that the trace id follows the span into spawned tasks
    /// for log correlation.
    Unsampled(Entity),
}

impl SpanState {
    /// The subsegment's entity, or for an unsampled trace the unsampled entity.
    fn entity(&self) -> &Entity {
        match &self.recording {
            Recording::Sampled(sub) => sub,
            Recording::Unsampled(entity) => entity,
        }
    }

    fn is_sampled(&self) -> bool {
        matches!(self.recording, Recording::Sampled(_))
    }
}

/// The `tracing_subscriber` layer that records spans as X-Ray subsegments; made by
/// [`layer()`](crate::layer()).
///
/// A span becomes a subsegment when it is created while an X-Ray entity is current (the
/// request's segment from `xray-tower`, a subsegment, a Lambda facade, a segment entered by
/// hand) and passes the layer's filter: INFO and above, not from the
/// [`DEFAULT_EXCLUDED_TARGETS`](crate::DEFAULT_EXCLUDED_TARGETS). Its subsegment is current
/// while the span is entered, so `xray_core::current()` inside an `#[instrument]`ed function
/// is that function's subsegment, and it ends when the span closes.
///
/// ```
/// use tracing::level_filters::LevelFilter;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(
///     xray_tracing::layer().with_max_level(LevelFilter::DEBUG).with_excluded_target("my_app::pool"),
/// );
/// # let _ = subscriber;
/// ```
#[derive(Debug, Clone)]
pub struct XrayLayer {
    filter: SpanFilter,
    fields_as_metadata: bool,
    error_events: bool,
}

impl Default for XrayLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl XrayLayer {
    /// The layer with its defaults (see the setters).
    pub fn new() -> Self {
        Self { filter: SpanFilter::default(), fields_as_metadata: true, error_events: true }
    }

    /// The most verbose level recorded. `LevelFilter::TRACE` leaves the whole choice to a
    /// per-layer filter (`.with_filter(EnvFilter::new(..))`). Defaults to INFO.
    #[must_use]
    pub fn with_max_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.filter.max_level = level.into();
        self
    }

    /// Leaves out one more target (a crate, `my_app`, or a module, `my_app::pool`). Defaults
    /// to [`DEFAULT_EXCLUDED_TARGETS`](crate::DEFAULT_EXCLUDED_TARGETS) only.
    #[must_use]
    pub fn with_excluded_target(mut self, target: impl Into<Cow<'static, str>>) -> Self {
        self.filter.excluded.push(target.into());
        self
    }

    /// Replaces the excluded targets (an empty list records spans of every crate, including
    /// those an X-Ray integration already records). Defaults to
    /// [`DEFAULT_EXCLUDED_TARGETS`](crate::DEFAULT_EXCLUDED_TARGETS).
    #[must_use]
    pub fn with_excluded_targets<T: Into<Cow<'static, str>>>(mut self, targets: impl IntoIterator<Item = T>) -> Self {
        self.filter.excluded = targets.into_iter().map(Into::into).collect();
        self
    }

    /// Whether span fields (other than the `xray.*` and `otel.*` ones) go into the
    /// subsegment's metadata, namespace `tracing`. Defaults to `true`.
    #[must_use]
    pub fn with_fields_as_metadata(mut self, record: bool) -> Self {
        self.fields_as_metadata = record;
        self
    }

    /// Whether ERROR events inside a recorded span add an exception to its cause (at most
    /// [`MAX_EVENT_EXCEPTIONS`] per span). Defaults to `true`.
    #[must_use]
    pub fn with_error_events(mut self, record: bool) -> Self {
        self.error_events = record;
        self
    }

    /// The entity a new span's subsegment goes under: an explicit parent's subsegment, or
    /// the current entity (which, inside a recorded span, is that span's subsegment).
    fn parent_of<S>(attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> Entity
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if let Some(parent) = attrs.parent()
            && LIVE.load(Ordering::Relaxed) > 0
            && let Some(span) = ctx.span(parent)
            && let Some(state) = span.extensions().get::<SpanState>()
        {
            return state.entity().clone();
        }
        current_quiet()
    }
}

impl<S> tracing_subscriber::Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Outside any trace (the common case for most spans) the context is cheaper to read than
        // the filter's target list is to compare, so it is read first.
        let parent = Self::parent_of(attrs, &ctx);
        if parent.is_noop() {
            return;
        }
        let meta = attrs.metadata();
        if !self.filter.accepts(meta) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        if span.extensions().get::<SpanState>().is_some() {
            return;
        }
        let state = if parent.is_sampled() {
            // Named after the span; an `otel.name` field renames it while the fields are written.
            let sub = parent.begin_subsegment(meta.name());
            Recorded::new_span(attrs, &sub, self.fields_as_metadata);
            SpanState { recording: Recording::Sampled(sub), exceptions: 0 }
        } else {
            SpanState { recording: Recording::Unsampled(parent), exceptions: 0 }
        };
        let mut extensions = span.extensions_mut();
        // A second X-Ray layer in the same subscriber records nothing more (and `insert`
        // would panic on the duplicate).
        if extensions.get_mut::<SpanState>().is_none() {
            LIVE.fetch_add(1, Ordering::Relaxed);
            extensions.insert(state);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let Some(entity) = span.extensions().get::<SpanState>().filter(|s| s.is_sampled()).map(|s| s.entity().clone())
        else {
            return;
        };
        let mut fields = Recorded::new(self.fields_as_metadata);
        values.record(&mut fields);
        fields.apply(&entity, true);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !self.error_events || *event.metadata().level() != Level::ERROR || LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else { return };
        for span in scope {
            let mut extensions = span.extensions_mut();
            let Some(state) = extensions.get_mut::<SpanState>() else { continue };
            if !state.is_sampled() || state.exceptions >= MAX_EVENT_EXCEPTIONS {
                return;
            }
            state.exceptions += 1;
            let entity = state.entity().clone();
            drop(extensions);
            let mut message = EventMessage::default();
            event.record(&mut message);
            let text = match (message.message, message.error) {
                (Some(m), Some(e)) => format!("{m}: {e}"),
                (Some(m), None) => m,
                (None, Some(e)) => e,
                (None, None) => event.metadata().name().to_owned(),
            };
            entity.add_exception(Exception::new(event.metadata().target(), text));
            return;
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let Some(entity) = span.extensions().get::<SpanState>().map(|s| s.entity().clone()) else { return };
        stack::enter(id, entity);
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        stack::exit(id);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(&id) else { return };
        let state = span.extensions_mut().remove::<SpanState>();
        if let Some(state) = state {
            LIVE.fetch_sub(1, Ordering::Relaxed);
            // Dropping a sampled span's subsegment ends it (it moves into its parent's document).
            drop(state);
        }
    }
}
