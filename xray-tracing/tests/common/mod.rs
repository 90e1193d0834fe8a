//! Shared by the stack tests: a layer that notes every span and event the subscriber saw, and
//! the subsegments of a captured trace.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use xray_core::test::Capture;
use xray_tests::assert_valid;

/// What the whole subscriber saw, beside the X-Ray layer: the `(target, name)` of every span
/// and the target of every event, so that a test knows the libraries did emit their own.
#[derive(Clone, Default)]
pub struct Seen {
    pub spans: Arc<Mutex<Vec<(String, String)>>>,
    pub events: Arc<Mutex<Vec<String>>>,
    closed: Arc<Mutex<usize>>,
}

impl Seen {
    pub fn span_targets(&self) -> Vec<String> {
        self.spans.lock().unwrap().iter().map(|(t, _)| t.clone()).collect()
    }

    /// Waits (bounded) until every span seen so far has closed. A span closes when its last
    /// handle is dropped, which may be on another thread a moment later: sqlx's SQLite worker
    /// keeps the caller's span until it has finished the statement.
    pub fn wait_all_closed(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while *self.closed.lock().unwrap() < self.spans.lock().unwrap().len() {
            assert!(std::time::Instant::now() < deadline, "spans still open after 5 s");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    pub fn events(&self, target: &str) -> usize {
        self.events.lock().unwrap().iter().filter(|t| t.starts_with(target)).count()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, _: &tracing::span::Id, _: Context<'_, S>) {
        let meta = attrs.metadata();
        self.spans.lock().unwrap().push((meta.target().to_owned(), meta.name().to_owned()));
    }

    fn on_close(&self, _: tracing::span::Id, _: Context<'_, S>) {
        *self.closed.lock().unwrap() += 1;
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        self.events.lock().unwrap().push(event.metadata().target().to_owned());
    }
}

pub fn subscriber(seen: &Seen, xray: xray_tracing::XrayLayer) -> impl Subscriber + Send + Sync {
    tracing_subscriber::registry().with(seen.clone()).with(xray)
}

/// Every subsegment in the document's tree, depth first, with its parent's name.
pub fn flatten<'a>(doc: &'a Value, parent: &'a str, out: &mut Vec<(&'a str, &'a Value)>) {
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        out.push((parent, sub));
        flatten(sub, sub["name"].as_str().unwrap_or_default(), out);
    }
}

/// The documents of a trace, schema-checked, and every subsegment in them (embedded, or sent
/// on its own) as `(parent name, subsegment)`, depth first; no subsegment id appears twice.
pub fn subsegments(capture: &Capture) -> (Vec<Value>, Vec<(String, Value)>) {
    let docs = capture.take();
    let mut subs = Vec::new();
    for doc in &docs {
        assert_valid(doc);
        if doc["type"] == "subsegment" {
            // Sent on its own (its parent had ended): a subsegment like the embedded ones.
            subs.push(("(sent on its own)", doc));
        }
        flatten(doc, doc["name"].as_str().unwrap(), &mut subs);
    }
    let ids: HashSet<&str> = subs.iter().map(|(_, s)| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), subs.len(), "a subsegment id repeats: {docs:#?}");
    let subs = subs.into_iter().map(|(p, s)| (p.to_owned(), s.clone())).collect();
    (docs, subs)
}

/// [`subsegments`] of a trace sent as one document.
pub fn tree(capture: &Capture) -> (Value, Vec<(String, Value)>) {
    let (docs, subs) = subsegments(capture);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    (docs.into_iter().next().unwrap(), subs)
}
