//! Metadata: namespaced JSON values that are stored with a trace but not indexed.

use std::borrow::Cow;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Namespaces with this prefix are reserved for AWS and refused from user code.
pub const RESERVED_PREFIX: &str = "AWS.";

/// The metadata of one entity: namespace → key → JSON value.
///
/// Most entities have one namespace, often a constant (`default`, an integration's own): its
/// name is kept borrowed when it is `'static`, and the list of namespaces is allocated at its
/// exact size for the first one.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(from = "std::collections::BTreeMap<String, Map<String, Value>>")]
pub struct Metadata(Vec<(Cow<'static, str>, Map<String, Value>)>);

impl From<std::collections::BTreeMap<String, Map<String, Value>>> for Metadata {
    fn from(map: std::collections::BTreeMap<String, Map<String, Value>>) -> Self {
        Self(map.into_iter().map(|(ns, m)| (Cow::Owned(ns), m)).collect())
    }
}

impl Metadata {
    /// Sets `key` in `namespace` to `value`, replacing an earlier value.
    /// Returns `false` (and stores nothing) for a namespace in the reserved `AWS.` space.
    pub fn insert(&mut self, namespace: &str, key: &str, value: Value) -> bool {
        self.insert_in(namespace, key, value, || match namespace {
            DEFAULT_NAMESPACE => Cow::Borrowed(DEFAULT_NAMESPACE),
            _ => Cow::Owned(namespace.to_owned()),
        })
    }

    /// Like [`insert`](Self::insert), for a namespace known at compile time (an integration's
    /// own), whose name is then kept without a copy.
    ///
    /// ```
    /// use xray_core::model::Metadata;
    /// let mut m = Metadata::default();
    /// assert!(m.insert_static("tracing", "n", serde_json::json!(1)));
    /// assert!(!m.insert_static("AWS.internal", "n", serde_json::json!(1)));
    /// assert_eq!(m.get("tracing", "n"), Some(&serde_json::json!(1)));
    /// ```
    pub fn insert_static(&mut self, namespace: &'static str, key: &str, value: Value) -> bool {
        self.insert_in(namespace, key, value, || Cow::Borrowed(namespace))
    }

    /// Both inserts: refuses the reserved `AWS.` space, else sets `key` in `namespace`; a
    /// namespace not there yet is stored under `name()`.
    fn insert_in(
        &mut self,
        namespace: &str,
        key: &str,
        value: Value,
        name: impl FnOnce() -> Cow<'static, str>,
    ) -> bool {
        if namespace.starts_with(RESERVED_PREFIX) {
            return false;
        }
        match self.find(namespace) {
            Some(map) => {
                map.insert(key.to_owned(), value);
            }
            None => self.push(name(), key, value),
        }
        true
    }

    fn find(&mut self, namespace: &str) -> Option<&mut Map<String, Value>> {
        self.0.iter_mut().find(|(ns, _)| *ns == namespace).map(|(_, map)| map)
    }

    /// Adds a namespace with its first key.
    fn push(&mut self, namespace: Cow<'static, str>, key: &str, value: Value) {
        // Sized for its first key: with serde_json's `preserve_order` (an `IndexMap`), this
        // spares the hash table a rehash on the first insert.
        let mut map = Map::with_capacity(1);
        map.insert(key.to_owned(), value);
        if self.0.is_empty() {
            // Most entities keep one namespace: no room for more until a second one comes.
            self.0.reserve_exact(1);
        }
        self.0.push((namespace, map));
    }

    /// The value of `key` in `namespace`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<&Value> {
        self.0.iter().find(|(ns, _)| *ns == namespace).and_then(|(_, map)| map.get(key))
    }

    /// Whether there is no metadata.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The namespaces and their objects, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Map<String, Value>)> {
        self.0.iter().map(|(ns, m)| (ns.as_ref(), m))
    }

    /// The metadata as one JSON object, its maps moved rather than copied (the emitter cuts an
    /// oversized document's metadata in this form).
    pub(crate) fn into_value(self) -> Value {
        Value::Object(self.0.into_iter().map(|(ns, map)| (ns.into_owned(), Value::Object(map))).collect())
    }

    pub(crate) fn estimated_size(&self) -> usize {
        self.0
            .iter()
            .map(|(ns, map)| ns.len() + 6 + map.iter().map(|(k, v)| k.len() + 4 + value_size(v)).sum::<usize>())
            .sum()
    }
}

/// A quick upper-bound-ish guess of a value's JSON size, without serializing it.
pub(crate) fn value_size(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 20,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|x| value_size(x) + 1).sum::<usize>(),
        Value::Object(o) => 2 + o.iter().map(|(k, x)| k.len() + 4 + value_size(x)).sum::<usize>(),
    }
}

impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (ns, values) in &self.0 {
            map.serialize_entry(ns, values)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespaces_and_reserved_prefix() {
        let mut m = Metadata::default();
        assert!(m.insert(DEFAULT_NAMESPACE, "order", json!({"items": 3})));
        assert!(m.insert("debug", "trace", json!("on")));
        assert!(m.insert(DEFAULT_NAMESPACE, "order", json!(4)));
        assert!(!m.insert("AWS.internal", "x", json!(1)));
        assert_eq!(serde_json::to_value(&m).unwrap(), json!({"default": {"order": 4}, "debug": {"trace": "on"}}));
        assert_eq!(m.get("debug", "trace"), Some(&json!("on")));
        // A namespace kept borrowed reads, compares and round-trips like an owned one.
        assert!(m.insert_static("tracing", "n", json!(1)));
        assert!(m.insert("tracing", "n", json!(2)));
        assert!(!m.insert_static("AWS.x", "n", json!(1)));
        let names: Vec<&str> = m.iter().map(|(ns, _)| ns).collect();
        assert_eq!(names, ["default", "debug", "tracing"]);
        let back: Metadata = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back.get("tracing", "n"), Some(&json!(2)));
        assert_eq!(back.estimated_size(), m.estimated_size());
    }
}
