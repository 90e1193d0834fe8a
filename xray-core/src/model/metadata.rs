//! Metadata: namespaced JSON values that are stored with a trace but not indexed.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Namespaces with this prefix are reserved for AWS and refused from user code.
pub const RESERVED_PREFIX: &str = "AWS.";

/// The metadata of one entity: namespace → key → JSON value.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(from = "std::collections::BTreeMap<String, Map<String, Value>>")]
pub struct Metadata(Vec<(String, Map<String, Value>)>);

impl From<std::collections::BTreeMap<String, Map<String, Value>>> for Metadata {
    fn from(map: std::collections::BTreeMap<String, Map<String, Value>>) -> Self {
        Self(map.into_iter().collect())
    }
}

impl Metadata {
    /// Sets `key` in `namespace` to `value`, replacing an earlier value.
    /// Returns `false` (and stores nothing) for a namespace in the reserved `AWS.` space.
    pub fn insert(&mut self, namespace: &str, key: &str, value: Value) -> bool {
        if namespace.starts_with(RESERVED_PREFIX) {
            return false;
        }
        self.insert_unchecked(namespace, key, value);
        true
    }

    /// Like [`insert`](Self::insert) but allows the reserved namespace (for SDK-internal data).
    pub(crate) fn insert_unchecked(&mut self, namespace: &str, key: &str, value: Value) {
        match self.0.iter_mut().find(|(ns, _)| ns == namespace) {
            Some((_, map)) => {
                map.insert(key.to_owned(), value);
            }
            None => {
                let mut map = Map::new();
                map.insert(key.to_owned(), value);
                self.0.push((namespace.to_owned(), map));
            }
        }
    }

    /// The value of `key` in `namespace`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<&Value> {
        self.0.iter().find(|(ns, _)| ns == namespace).and_then(|(_, map)| map.get(key))
    }

    /// Whether there is no metadata.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The namespaces and their objects, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Map<String, Value>)> {
        self.0.iter().map(|(ns, m)| (ns.as_str(), m))
    }

    /// The metadata as one JSON object, its maps moved rather than copied (the emitter cuts an
    /// oversized document's metadata in this form).
    pub(crate) fn into_value(self) -> Value {
        Value::Object(self.0.into_iter().map(|(ns, map)| (ns, Value::Object(map))).collect())
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
    }
}
