//! The `cause` of an error, fault or throttle: exceptions with their chain, or a reference to
//! an exception recorded on a child.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::id::EntityId;

/// At most this many errors of a `source()` chain become exceptions; the rest are counted in
/// `truncated`.
pub const MAX_CHAIN: usize = 16;

/// What caused an error: the exceptions themselves, or the id of an exception recorded on a
/// child subsegment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cause {
    /// An exception id recorded on a child subsegment.
    Reference(EntityId),
    /// The exceptions.
    Details(CauseDetails),
}

/// The working directory and the exceptions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CauseDetails {
    /// The process's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Paths of the libraries or modules in use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The exceptions, the outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One exception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// A 16-hex-digit id, unique within the trace.
    pub id: EntityId,
    /// The message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `true` when the error came from a downstream service.
    #[serde(default, skip_serializing_if = "is_false")]
    pub remote: bool,
    /// How many stack frames were left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u32>,
    /// How many exceptions of the chain were left out after this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u32>,
    /// The id of the exception that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<EntityId>,
    /// Stack frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
}

impl Exception {
    /// An exception with a fresh id, a type and a message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            id: EntityId::new(),
            message: Some(message.into()),
            kind: Some(kind.into()),
            remote: false,
            truncated: None,
            skipped: None,
            cause: None,
            stack: Vec::new(),
        }
    }

    /// Marks the exception as coming from a downstream service.
    #[must_use]
    pub fn remote(mut self, remote: bool) -> Self {
        self.remote = remote;
        self
    }
}

/// One stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StackFrame {
    /// The source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn working_directory() -> Option<String> {
    static DIR: OnceLock<Option<String>> = OnceLock::new();
    DIR.get_or_init(|| std::env::current_dir().ok().map(|d| d.display().to_string())).clone()
}

/// The type name of an error we only know as `dyn Error`: the leading identifier of its
/// `Debug` output (`Os { code: 111, … }` → `Os`), which for derived `Debug` is the type's name.
fn type_of(err: &dyn std::error::Error) -> String {
    let debug = format!("{err:?}");
    let end = debug.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(debug.len());
    if end == 0 { "Error".to_owned() } else { debug[..end].to_owned() }
}

impl CauseDetails {
    /// The exceptions of `err` and its `source()` chain, the outermost first, each naming the
    /// next as its `cause`. `kind` names the outermost error's type when the caller knows it.
    pub fn from_error(err: &(dyn std::error::Error + 'static), kind: Option<&str>, remote: bool) -> Self {
        let mut exceptions: Vec<Exception> = Vec::new();
        let mut current = Some(err);
        let mut skipped = 0u32;
        while let Some(e) = current {
            if exceptions.len() == MAX_CHAIN {
                skipped += 1;
            } else {
                let ty = match (exceptions.is_empty(), kind) {
                    (true, Some(k)) => k.to_owned(),
                    _ => type_of(e),
                };
                let ex = Exception::new(ty, e.to_string()).remote(remote);
                if let Some(prev) = exceptions.last_mut() {
                    prev.cause = Some(ex.id);
                }
                exceptions.push(ex);
            }
            current = e.source();
        }
        if skipped > 0
            && let Some(last) = exceptions.last_mut()
        {
            last.skipped = Some(skipped);
        }
        Self { working_directory: working_directory(), paths: Vec::new(), exceptions }
    }

    pub(crate) fn estimated_size(&self) -> usize {
        60 + self.working_directory.as_ref().map_or(0, String::len)
            + self
                .exceptions
                .iter()
                .map(|e| {
                    80 + e.message.as_ref().map_or(0, String::len)
                        + e.kind.as_ref().map_or(0, String::len)
                        + e.stack.len() * 60
                })
                .sum::<usize>()
    }
}

impl Cause {
    /// A cause built from an error and its `source()` chain; see [`CauseDetails::from_error`].
    ///
    /// ```
    /// use xray_core::Cause;
    /// let err = std::io::Error::new(std::io::ErrorKind::Other, "disk on fire");
    /// let Cause::Details(d) = Cause::from_error(&err, false) else { unreachable!() };
    /// assert_eq!(d.exceptions[0].message.as_deref(), Some("disk on fire"));
    /// ```
    pub fn from_error(err: &(dyn std::error::Error + 'static), remote: bool) -> Self {
        Self::Details(CauseDetails::from_error(err, None, remote))
    }

    pub(crate) fn estimated_size(&self) -> usize {
        match self {
            Self::Reference(_) => 30,
            Self::Details(d) => d.estimated_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("query failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_becomes_linked_exceptions() {
        let err = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let d = CauseDetails::from_error(&err, None, true);
        assert_eq!(d.exceptions.len(), 2);
        assert_eq!(d.exceptions[0].kind.as_deref(), Some("Outer"));
        assert_eq!(d.exceptions[0].message.as_deref(), Some("query failed"));
        assert_eq!(d.exceptions[0].cause, Some(d.exceptions[1].id));
        assert_eq!(d.exceptions[1].kind.as_deref(), Some("Kind"));
        assert!(d.exceptions.iter().all(|e| e.remote));
        assert!(d.working_directory.is_some());
        let json = serde_json::to_value(Cause::Details(d)).unwrap();
        assert_eq!(json["exceptions"][0]["type"], "Outer");
    }

    #[test]
    fn reference_serializes_as_id() {
        let id: EntityId = "70de5b6f19ff9a0a".parse().unwrap();
        assert_eq!(serde_json::to_string(&Cause::Reference(id)).unwrap(), "\"70de5b6f19ff9a0a\"");
    }
}
