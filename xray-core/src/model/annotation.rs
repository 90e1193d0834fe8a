//! Annotations: indexed key-value pairs that X-Ray can filter traces by.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// Longest key X-Ray accepts; longer keys are cut.
pub const MAX_KEY_LEN: usize = 500;
/// Longest string value X-Ray accepts, in characters; longer values are cut.
pub const MAX_VALUE_CHARS: usize = 1000;
/// At most this many annotations are kept per entity; later ones are dropped and logged.
pub const MAX_ANNOTATIONS: usize = 50;

/// An annotation value: a boolean, an integer, a finite float or a string.
///
/// ```
/// use xray_core::AnnotationValue;
/// assert_eq!(AnnotationValue::from(42u16), AnnotationValue::Int(42));
/// assert_eq!(AnnotationValue::from("gold"), AnnotationValue::String("gold".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnnotationValue {
    /// `true` or `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer too large for `i64`.
    UInt(u64),
    /// A finite float (non-finite values are not recorded).
    Float(f64),
    /// A string, cut to 1000 characters.
    String(String),
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for AnnotationValue {
            fn from(v: $t) -> Self {
                Self::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for AnnotationValue {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(Self::UInt(v), Self::Int)
    }
}
impl From<usize> for AnnotationValue {
    fn from(v: usize) -> Self {
        Self::from(v as u64)
    }
}
impl From<isize> for AnnotationValue {
    fn from(v: isize) -> Self {
        Self::Int(v as i64)
    }
}
impl From<f64> for AnnotationValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<f32> for AnnotationValue {
    fn from(v: f32) -> Self {
        Self::Float(f64::from(v))
    }
}
impl From<bool> for AnnotationValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<&str> for AnnotationValue {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}
impl From<String> for AnnotationValue {
    fn from(v: String) -> Self {
        Self::String(v)
    }
}
impl From<&String> for AnnotationValue {
    fn from(v: &String) -> Self {
        Self::String(v.clone())
    }
}

/// What [`Annotations::insert`] did with a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationOutcome {
    /// Stored as given.
    Stored,
    /// Stored, with characters outside `[A-Za-z0-9_]` in the key rewritten to `_` (or the key
    /// or value cut to its limit).
    Rewritten,
    /// Not stored: the entity already holds [`MAX_ANNOTATIONS`] annotations.
    TooMany,
    /// Not stored: an empty key or a non-finite float.
    Invalid,
}

/// The annotations of one entity, in insertion order; a repeated key replaces its value.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(from = "std::collections::BTreeMap<String, AnnotationValue>")]
pub struct Annotations(Vec<(String, AnnotationValue)>);

impl From<std::collections::BTreeMap<String, AnnotationValue>> for Annotations {
    fn from(map: std::collections::BTreeMap<String, AnnotationValue>) -> Self {
        Self(map.into_iter().collect())
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Cuts `s` to at most `max` characters.
pub(crate) fn truncate_chars(s: &mut String, max: usize) -> bool {
    // A string has at least as many bytes as characters.
    if s.len() <= max {
        return false;
    }
    match s.char_indices().nth(max) {
        Some((at, _)) => {
            s.truncate(at);
            true
        }
        None => false,
    }
}

impl Annotations {
    /// Adds or replaces an annotation, applying X-Ray's rules for keys and values.
    pub fn insert(&mut self, key: &str, value: AnnotationValue) -> AnnotationOutcome {
        let mut rewritten = false;
        let value = match value {
            AnnotationValue::Float(f) if !f.is_finite() => return AnnotationOutcome::Invalid,
            AnnotationValue::String(mut s) => {
                rewritten |= truncate_chars(&mut s, MAX_VALUE_CHARS);
                AnnotationValue::String(s)
            }
            v => v,
        };
        if key.is_empty() {
            return AnnotationOutcome::Invalid;
        }
        let key: std::borrow::Cow<'_, str> =
            if key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                key.into()
            } else {
                rewritten = true;
                key.chars().take(MAX_KEY_LEN).map(|c| if is_key_char(c) { c } else { '_' }).collect::<String>().into()
            };
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else if self.0.len() >= MAX_ANNOTATIONS {
            return AnnotationOutcome::TooMany;
        } else {
            self.0.push((key.into_owned(), value));
        }
        if rewritten { AnnotationOutcome::Rewritten } else { AnnotationOutcome::Stored }
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&AnnotationValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The number of annotations.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AnnotationValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(crate) fn estimated_size(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| {
                k.len()
                    + 6
                    + match v {
                        AnnotationValue::String(s) => s.len() + 2,
                        _ => 20,
                    }
            })
            .sum()
    }
}

impl Serialize for Annotations {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_table() {
        let mut a = Annotations::default();
        assert_eq!(a.insert("user_id", 7.into()), AnnotationOutcome::Stored);
        assert_eq!(a.insert("user-id.x", true.into()), AnnotationOutcome::Rewritten);
        assert_eq!(a.get("user_id_x"), Some(&AnnotationValue::Bool(true)));
        assert_eq!(a.insert("", 1.into()), AnnotationOutcome::Invalid);
        assert_eq!(a.insert("f", f64::NAN.into()), AnnotationOutcome::Invalid);
        assert_eq!(a.insert("user_id", "x".into()), AnnotationOutcome::Stored);
        assert_eq!(a.get("user_id"), Some(&AnnotationValue::String("x".into())));
        assert_eq!(a.insert("long", "é".repeat(1200).into()), AnnotationOutcome::Rewritten);
        match a.get("long") {
            Some(AnnotationValue::String(s)) => assert_eq!(s.chars().count(), MAX_VALUE_CHARS),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn at_most_fifty() {
        let mut a = Annotations::default();
        for i in 0..60 {
            let outcome = a.insert(&format!("k{i}"), i.into());
            let want = if i < MAX_ANNOTATIONS { AnnotationOutcome::Stored } else { AnnotationOutcome::TooMany };
            assert_eq!(outcome, want);
        }
        assert_eq!(a.len(), MAX_ANNOTATIONS);
        // Replacing an existing key still works when full.
        assert_eq!(a.insert("k0", "again".into()), AnnotationOutcome::Stored);
    }

    #[test]
    fn serializes_as_object_in_order() {
        let mut a = Annotations::default();
        a.insert("b", 1.into());
        a.insert("a", 1.5.into());
        a.insert("c", u64::MAX.into());
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"b":1,"a":1.5,"c":18446744073709551615}"#);
    }
}
