//! Problems found in datagrams, documents and traces, explained in plain words.

use std::fmt;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// X-Ray would reject or lose the data.
    Error,
    /// X-Ray accepts the data, but the trace will look wrong or incomplete.
    Warning,
    /// Possibly fine; worth a look when a trace seems to be missing a piece.
    Hint,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Hint => "hint",
        })
    }
}

/// What went wrong, for matching in code; [`Problem::message`] explains it for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The datagram does not start with the `{"format":"json","version":1}` header line.
    NoHeader,
    /// The first line is a JSON header, but not the one X-Ray daemons accept.
    BadHeader,
    /// Nothing follows the header line.
    EmptyDocument,
    /// The datagram is larger than a daemon reads (64 KiB).
    DatagramTooLarge,
    /// The document is not UTF-8 JSON, or not a JSON object.
    InvalidJson,
    /// The document is larger than the 64,000 bytes X-Ray accepts.
    DocumentTooLarge,
    /// A required field is missing.
    MissingField,
    /// A field has the wrong type or format.
    InvalidField,
    /// Neither `end_time` nor `in_progress: true` is present.
    NoEndTime,
    /// `end_time` lies before `start_time`.
    EndBeforeStart,
    /// The name is empty, too long or holds characters X-Ray refuses.
    InvalidName,
    /// An annotation key or value X-Ray refuses.
    InvalidAnnotation,
    /// A metadata namespace whose value is not an object.
    InvalidMetadata,
    /// A malformed `http` block.
    InvalidHttp,
    /// Two entities of one trace share an id.
    DuplicateId,
    /// A `parent_id` names an entity that never arrived.
    OrphanParent,
    /// A child's time span lies outside its parent's.
    OutsideParent,
    /// A call to a traced service whose own segment never arrived.
    MissingDownstream,
    /// An entity was still in progress when its trace was shown.
    StillInProgress,
    /// Subsegments nest too deeply, or `parent_id`s form a loop.
    BadNesting,
    /// A trace held more documents than the daemon keeps; later ones were ignored.
    TooManyDocuments,
}

impl ProblemKind {
    /// A short kebab-case code, stable enough to grep for.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::NoHeader => "no-header",
            ProblemKind::BadHeader => "bad-header",
            ProblemKind::EmptyDocument => "empty-document",
            ProblemKind::DatagramTooLarge => "datagram-too-large",
            ProblemKind::InvalidJson => "invalid-json",
            ProblemKind::DocumentTooLarge => "document-too-large",
            ProblemKind::MissingField => "missing-field",
            ProblemKind::InvalidField => "invalid-field",
            ProblemKind::NoEndTime => "no-end-time",
            ProblemKind::EndBeforeStart => "end-before-start",
            ProblemKind::InvalidName => "invalid-name",
            ProblemKind::InvalidAnnotation => "invalid-annotation",
            ProblemKind::InvalidMetadata => "invalid-metadata",
            ProblemKind::InvalidHttp => "invalid-http",
            ProblemKind::DuplicateId => "duplicate-id",
            ProblemKind::OrphanParent => "orphan-parent",
            ProblemKind::OutsideParent => "outside-parent",
            ProblemKind::MissingDownstream => "missing-downstream",
            ProblemKind::StillInProgress => "still-in-progress",
            ProblemKind::BadNesting => "bad-nesting",
            ProblemKind::TooManyDocuments => "too-many-documents",
        }
    }
}

/// One thing wrong with what an SDK sent, with the fix in the message.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem it is.
    pub kind: ProblemKind,
    /// The trace it belongs to, when the document named one.
    pub trace_id: Option<String>,
    /// The segment or subsegment it is about, when known.
    pub entity_id: Option<String>,
    /// What is wrong and how to fix it, in plain words.
    pub message: String,
}

impl Problem {
    /// A problem with no trace or entity attached yet.
    pub fn new(severity: Severity, kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem { severity, kind, trace_id: None, entity_id: None, message: message.into() }
    }

    /// An [`Severity::Error`] problem.
    pub fn error(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem::new(Severity::Error, kind, message)
    }

    /// A [`Severity::Warning`] problem.
    pub fn warning(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem::new(Severity::Warning, kind, message)
    }

    /// A [`Severity::Hint`] problem.
    pub fn hint(kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem::new(Severity::Hint, kind, message)
    }

    /// Attaches the trace this problem belongs to.
    #[must_use]
    pub fn in_trace(mut self, trace_id: Option<&str>) -> Self {
        self.trace_id = trace_id.map(str::to_owned);
        self
    }

    /// Attaches the entity this problem is about.
    #[must_use]
    pub fn about(mut self, entity_id: Option<&str>) -> Self {
        self.entity_id = entity_id.map(str::to_owned);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.kind.code(), self.message)
    }
}

/// Counts of problems by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProblemCounts {
    /// Problems of severity [`Severity::Error`].
    pub errors: u64,
    /// Problems of severity [`Severity::Warning`].
    pub warnings: u64,
    /// Problems of severity [`Severity::Hint`].
    pub hints: u64,
}

impl ProblemCounts {
    /// Counts one more problem of the given severity.
    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Hint => self.hints += 1,
        }
    }

    /// All problems, whatever their severity.
    pub fn total(&self) -> u64 {
        self.errors + self.warnings + self.hints
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_severity_code_and_message() {
        let p = Problem::error(ProblemKind::NoHeader, "no header line").in_trace(Some("1-a-b"));
        assert_eq!(p.to_string(), "error[no-header]: no header line");
        assert_eq!(p.trace_id.as_deref(), Some("1-a-b"));
    }

    #[test]
    fn counts_by_severity() {
        let mut c = ProblemCounts::default();
        for s in [Severity::Error, Severity::Hint, Severity::Hint] {
            c.add(s);
        }
        assert_eq!((c.errors, c.warnings, c.hints, c.total()), (1, 0, 2, 3));
    }
}
