//! The `X-Amzn-Trace-Id` tracing header.
//!
//! Parsing is lenient: parts are trimmed, reserved keys are matched without regard to case,
//! a value is everything after the first `=`, malformed parts are skipped without losing the
//! rest, and a `Root` that is not a valid trace id counts as absent (the caller then starts a
//! new trace). Unknown keys such as `Lineage` are kept, in order, within [`MAX_EXTRA_LEN`]
//! bytes, so that they travel downstream. Formatting is canonical: `Root=…;Parent=…;Sampled=…`
//! followed by the kept keys.

use std::fmt;

use crate::id::{EntityId, TraceId};

/// The header's name as it appears on the wire.
pub const HEADER_NAME: &str = "X-Amzn-Trace-Id";

/// The header's name in lower case, as `http::HeaderName` wants it.
pub const HEADER_NAME_LOWER: &str = "x-amzn-trace-id";

/// At most this many bytes of unknown `key=value` parts are kept and propagated.
pub const MAX_EXTRA_LEN: usize = 256;

/// The sampling decision a header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SamplingFlag {
    /// No `Sampled` key (or one with an unknown value): the receiver decides.
    #[default]
    Unknown,
    /// `Sampled=?`: the receiver decides and reports its decision in the response header.
    Requested,
    /// `Sampled=1`.
    Sampled,
    /// `Sampled=0`.
    NotSampled,
}

impl SamplingFlag {
    /// The decision, if the header made one.
    pub const fn decision(self) -> Option<bool> {
        match self {
            Self::Sampled => Some(true),
            Self::NotSampled => Some(false),
            Self::Unknown | Self::Requested => None,
        }
    }

    /// The flag a (trimmed) `Sampled` value stands for.
    fn from_value(value: &[u8]) -> Self {
        match value {
            b"1" => Self::Sampled,
            b"0" => Self::NotSampled,
            b"?" => Self::Requested,
            _ => Self::Unknown,
        }
    }

    /// `Sampled` for `true`, `NotSampled` for `false`.
    pub const fn from_decision(sampled: bool) -> Self {
        if sampled { Self::Sampled } else { Self::NotSampled }
    }
}

/// The index of the first `a` or `b` in `bytes`, eight bytes at a time (no per-call set-up,
/// unlike `str::split`; headers are short, so a SIMD search would not pay off).
fn find_either(bytes: &[u8], a: u8, b: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let (sa, sb) = (LO * u64::from(a), LO * u64::from(b));
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let (xa, xb) = (x ^ sa, x ^ sb);
        // A zero byte in `xa` or `xb` marks a match; the lowest flagged byte is always a true one.
        let hits = (xa.wrapping_sub(LO) & !xa | xb.wrapping_sub(LO) & !xb) & HI;
        if hits != 0 {
            return Some(base + (hits.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks.remainder().iter().position(|&c| c == a || c == b).map(|i| base + i)
}

/// `key == lower`, ignoring ASCII case; `lower` is lower-case letters only, for which setting
/// bit 0x20 is exact case folding (cheaper than `eq_ignore_ascii_case`'s general mapping).
#[inline]
fn is_key<const N: usize>(key: &[u8], lower: &[u8; N]) -> bool {
    key.len() == N && key.iter().zip(lower).fold(true, |eq, (k, l)| eq & (k | 0x20 == *l))
}

/// Which reserved keys `parse` has met (the first occurrence wins).
#[derive(Default)]
struct Seen {
    root: bool,
    parent: bool,
    sampled: bool,
}

/// A parsed `X-Amzn-Trace-Id` header.
///
/// ```
/// use xray_core::{SamplingFlag, TraceHeader};
/// let h = TraceHeader::parse(" root=1-5759e988-bd862e3fe1be46a994272793 ; Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5");
/// assert_eq!(h.sampled(), SamplingFlag::Sampled);
/// assert_eq!(h.extra(), "Lineage=a87bd80c:1|68fd508a:5");
/// assert_eq!(
///     h.to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceHeader {
    root: Option<TraceId>,
    parent: Option<EntityId>,
    sampled: SamplingFlag,
    extra: String,
    /// The W3C `tracestate` that came in beside the trace (never part of this header's text).
    tracestate: Option<Box<str>>,
}

impl TraceHeader {
    /// A header for `root`, with no parent, no decision and no extra keys.
    pub fn new(root: TraceId) -> Self {
        Self { root: Some(root), ..Self::default() }
    }

    /// Parses a header value; never fails and never panics (see the module docs for the rules).
    pub fn parse(value: &str) -> Self {
        Self::parse_raw(value.as_bytes())
    }

    /// A header from parts already known to be valid (the extra text was produced by `parse`).
    pub(crate) fn from_parts(root: TraceId, parent: Option<EntityId>, sampled: SamplingFlag, extra: &str) -> Self {
        Self { root: Some(root), parent, sampled, extra: extra.to_owned(), tracestate: None }
    }

    /// Parses raw header bytes by the same rules; a part that is not UTF-8 cannot be a valid
    /// `Root`, `Parent` or `Sampled`, and an unknown one that is not UTF-8 is skipped like any
    /// other malformed part.
    pub fn parse_bytes(value: &[u8]) -> Self {
        Self::parse_raw(value)
    }

    /// One forward pass over the bytes: `;` ends a part, its first `=` splits key from value.
    /// Both are ASCII, so on UTF-8 input every cut falls on a character boundary.
    fn parse_raw(value: &[u8]) -> Self {
        let mut header = Self::default();
        let mut seen = Seen::default();
        let mut start = header.parse_canonical_prefix(value, &mut seen);
        while start < value.len() {
            let rest = &value[start..];
            let Some(at) = find_either(rest, b';', b'=') else { break };
            if rest[at] == b';' {
                // No `=` in this part: malformed, skipped.
                start += at + 1;
                continue;
            }
            let end = find_either(&rest[at + 1..], b';', b';').map_or(rest.len(), |i| at + 1 + i);
            header.apply(&rest[..at], &rest[at + 1..end], &mut seen, value.len());
            start += end + 1;
        }
        header
    }

    /// Reads the form SDKs and load balancers send, `Root=<id>[;Parent=<id>][;Sampled=<c>]`,
    /// by position, and returns where the general pass takes over: after the last part read
    /// this way (and its `;`), or 0 when the header does not start like that. Each part read
    /// here is one the general pass would read the same way, since it ends exactly where a
    /// `;` or the end of the header would end it.
    fn parse_canonical_prefix(&mut self, value: &[u8], seen: &mut Seen) -> usize {
        /// The part `key` + `len` bytes at `at`, if it is there and ends the header or a part.
        fn part<'a>(value: &'a [u8], at: usize, key: &[u8], len: usize) -> Option<&'a [u8]> {
            let rest = value.get(at..)?.strip_prefix(key)?;
            let val = rest.get(..len)?;
            matches!(rest.get(len), None | Some(b';')).then_some(val)
        }
        const ROOT: &[u8] = b"Root=";
        const PARENT: &[u8] = b"Parent=";
        const SAMPLED: &[u8] = b"Sampled=";
        let Some(root) = part(value, 0, ROOT, 35) else {
            return 0;
        };
        seen.root = true;
        self.root = TraceId::parse_ascii(root).ok();
        let mut at = ROOT.len() + 35 + 1;
        if let Some(parent) = part(value, at, PARENT, 16) {
            seen.parent = true;
            self.parent = EntityId::parse_ascii(parent).ok();
            at += PARENT.len() + 16 + 1;
        }
        if let Some(flag) = part(value, at, SAMPLED, 1) {
            seen.sampled = true;
            self.sampled = SamplingFlag::from_value(flag);
            at += SAMPLED.len() + 1 + 1;
        }
        at
    }

    /// Applies one `key=value` part (untrimmed) to the header.
    fn apply(&mut self, key: &[u8], val: &[u8], seen: &mut Seen, input_len: usize) {
        let (key, val) = (key.trim_ascii(), val.trim_ascii());
        // Dispatch on length first: most parts are one of the reserved keys.
        match key.len() {
            0 => {}
            4 if is_key(key, b"root") => {
                if !std::mem::replace(&mut seen.root, true) {
                    self.root = TraceId::parse_ascii(val).ok();
                }
            }
            4 if is_key(key, b"self") => {
                // `Self` describes a load balancer's own hop; it is not propagated.
            }
            6 if is_key(key, b"parent") => {
                if !std::mem::replace(&mut seen.parent, true) {
                    self.parent = EntityId::parse_ascii(val).ok();
                }
            }
            7 if is_key(key, b"sampled") => {
                if !std::mem::replace(&mut seen.sampled, true) {
                    self.sampled = SamplingFlag::from_value(val);
                }
            }
            _ => {
                // Only kept text has to be UTF-8; on `&str` input these checks always pass.
                if let (Ok(key), Ok(val)) = (std::str::from_utf8(key), std::str::from_utf8(val)) {
                    self.push_extra(key, val, input_len);
                }
            }
        }
    }

    fn push_extra(&mut self, key: &str, val: &str, input_len: usize) {
        let sep = usize::from(!self.extra.is_empty());
        if self.extra.len() + sep + key.len() + 1 + val.len() > MAX_EXTRA_LEN {
            return;
        }
        if self.extra.capacity() == 0 {
            self.extra.reserve_exact(input_len.min(MAX_EXTRA_LEN));
        }
        if sep == 1 {
            self.extra.push(';');
        }
        self.extra.push_str(key);
        self.extra.push('=');
        self.extra.push_str(val);
    }

    /// The trace id, if the header carried a valid one.
    pub fn root(&self) -> Option<TraceId> {
        self.root
    }

    /// The caller's (sub)segment id.
    pub fn parent(&self) -> Option<EntityId> {
        self.parent
    }

    /// The caller's sampling decision.
    pub fn sampled(&self) -> SamplingFlag {
        self.sampled
    }

    /// The kept unknown parts, `key=value` joined with `;` (empty if none).
    pub fn extra(&self) -> &str {
        &self.extra
    }

    /// Sets the trace id.
    #[must_use]
    pub fn with_root(mut self, root: TraceId) -> Self {
        self.root = Some(root);
        self
    }

    /// Sets or clears the parent id.
    #[must_use]
    pub fn with_parent(mut self, parent: Option<EntityId>) -> Self {
        self.parent = parent;
        self
    }

    /// Sets the sampling flag.
    #[must_use]
    pub fn with_sampled(mut self, sampled: SamplingFlag) -> Self {
        self.sampled = sampled;
        self
    }

    /// The W3C `tracestate` that came in with the trace, to be passed on beside `traceparent`
    /// (see [`w3c`](crate::w3c)); not part of the `X-Amzn-Trace-Id` text.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// Sets the W3C `tracestate` the trace carries on: its well-formed list members, at most
    /// [`MAX_TRACESTATE_LEN`](crate::w3c::MAX_TRACESTATE_LEN) bytes of them (`None` when
    /// nothing is left). [`Recorder::begin_segment`](crate::Recorder::begin_segment) keeps it
    /// with the trace, and outgoing calls send it beside `traceparent`.
    ///
    /// ```
    /// let header = xray_core::TraceHeader::default().with_tracestate("congo=t61rcWkgMzE, bad key=1");
    /// assert_eq!(header.tracestate(), Some("congo=t61rcWkgMzE"));
    /// assert_eq!(header.to_string(), "");
    /// ```
    #[must_use]
    pub fn with_tracestate(mut self, tracestate: &str) -> Self {
        self.tracestate = crate::w3c::bounded_tracestate(tracestate);
        self
    }

    /// Replaces the extra parts; text beyond [`MAX_EXTRA_LEN`] bytes is not kept.
    #[must_use]
    pub fn with_extra(mut self, extra: &str) -> Self {
        self.extra.clear();
        for part in extra.split(';') {
            if let Some((k, v)) = part.split_once('=') {
                self.push_extra(k.trim_ascii(), v.trim_ascii(), extra.len());
            }
        }
        self
    }
}

/// The longest canonical header: `Root=` + id, `;Parent=` + id, `;Sampled=x`, `;` + extras.
const MAX_LEN: usize = 5 + 35 + 8 + 16 + 10 + 1 + MAX_EXTRA_LEN;

/// A formatted header on the stack, ready to become an HTTP header value without `fmt`.
#[doc(hidden)] // For the benches; integrations use `to_vec` or `Display`.
#[derive(Clone, Copy)]
pub struct HeaderBytes {
    buf: [u8; MAX_LEN],
    len: usize,
}

impl HeaderBytes {
    fn push(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(MAX_LEN);
        self.buf[self.len..end].copy_from_slice(&bytes[..end - self.len]);
        self.len = end;
    }

    /// The header as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The header as text.
    pub fn as_str(&self) -> &str {
        // Built only from ASCII ids, keys and the `extra` string, which is valid UTF-8.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl AsRef<[u8]> for HeaderBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for HeaderBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl TraceHeader {
    /// Formats the header canonically into a stack buffer (no allocation, no `fmt`).
    ///
    /// ```
    /// use xray_core::TraceHeader;
    /// let h = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
    /// assert_eq!(h.to_bytes().as_bytes(), b"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
    /// ```
    #[doc(hidden)]
    pub fn to_bytes(&self) -> HeaderBytes {
        let mut out = HeaderBytes { buf: [0; MAX_LEN], len: 0 };
        let (fixed, separator, extra) = self.pieces();
        for piece in [fixed.as_bytes(), separator.as_bytes(), extra.as_bytes()] {
            out.push(piece);
        }
        out
    }

    /// The canonical form's three pieces: the fixed keys, the `;` before the kept extra keys
    /// (empty unless both are there), and the extra keys. Every formatter joins these.
    fn pieces(&self) -> (FixedPart, &'static str, &str) {
        let fixed = self.fixed_part();
        let separator = if fixed.len > 0 && !self.extra.is_empty() { ";" } else { "" };
        (fixed, separator, &self.extra)
    }

    /// `Root`, `Parent` and `Sampled`, formatted into a small stack buffer.
    fn fixed_part(&self) -> FixedPart {
        let mut out = FixedPart { buf: [0; FIXED_LEN], len: 0 };
        if let Some(root) = &self.root {
            out.push(b"Root=");
            out.push(&root.to_bytes());
        }
        if let Some(parent) = &self.parent {
            out.push_sep();
            out.push(b"Parent=");
            out.push(&parent.to_bytes());
        }
        let flag: &[u8] = match self.sampled {
            SamplingFlag::Sampled => b"Sampled=1",
            SamplingFlag::NotSampled => b"Sampled=0",
            SamplingFlag::Requested => b"Sampled=?",
            SamplingFlag::Unknown => return out,
        };
        out.push_sep();
        out.push(flag);
        out
    }

    /// Writes the canonical form piece by piece, without the full-size stack buffer.
    fn write_pieces<E>(&self, mut write: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        let (fixed, separator, extra) = self.pieces();
        write(fixed.as_str())?;
        write(separator)?;
        write(extra)
    }

    /// The canonical form in a new buffer of exactly its length: one allocation and no
    /// full-size stack buffer, ready to become an HTTP header value without a copy
    /// (`http::HeaderValue::try_from(Vec<u8>)` takes an exactly sized buffer over as it is).
    ///
    /// ```
    /// use xray_core::TraceHeader;
    /// let h = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1");
    /// let bytes = h.to_vec();
    /// assert_eq!(bytes, b"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1");
    /// assert_eq!(bytes.capacity(), bytes.len());
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        let (fixed, separator, extra) = self.pieces();
        let pieces = [fixed.as_bytes(), separator.as_bytes(), extra.as_bytes()];
        let mut out = Vec::with_capacity(pieces.iter().map(|p| p.len()).sum());
        for piece in pieces {
            out.extend_from_slice(piece);
        }
        out
    }

    /// Formats into `out` (cleared first), reusing its allocation.
    #[doc(hidden)] // For the benches.
    pub fn write_into(&self, out: &mut String) {
        out.clear();
        let _ = self.write_pieces(|piece| {
            out.push_str(piece);
            Ok::<(), std::convert::Infallible>(())
        });
    }
}

/// The longest `Root=…;Parent=…;Sampled=x`.
const FIXED_LEN: usize = 5 + 35 + 8 + 16 + 10;

/// The fixed keys of a formatted header.
struct FixedPart {
    buf: [u8; FIXED_LEN],
    len: usize,
}

impl FixedPart {
    fn push(&mut self, bytes: &[u8]) {
        // Callers push at most FIXED_LEN bytes in all; `get_mut` keeps a mistake from panicking.
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    fn push_sep(&mut self) {
        if self.len > 0 {
            self.push(b";");
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_str(&self) -> &str {
        // ASCII ids and keys only.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_pieces(|piece| f.write_str(piece))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const PARENT: &str = "53995c3f42cd8ad8";

    #[test]
    fn parse_table() {
        struct Case {
            input: &'static str,
            root: bool,
            parent: bool,
            sampled: SamplingFlag,
            extra: &'static str,
        }
        let cases = [
            Case {
                input: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                root: true,
                parent: true,
                sampled: SamplingFlag::Sampled,
                extra: "",
            },
            Case {
                input: "Root=1-5759e988-bd862e3fe1be46a994272793",
                root: true,
                parent: false,
                sampled: SamplingFlag::Unknown,
                extra: "",
            },
            Case {
                input: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?",
                root: true,
                parent: false,
                sampled: SamplingFlag::Requested,
                extra: "",
            },
            Case {
                input: "ROOT=1-5759e988-bd862e3fe1be46a994272793;sampled=0",
                root: true,
                parent: false,
                sampled: SamplingFlag::NotSampled,
                extra: "",
            },
            Case {
                input: "  Root = 1-5759e988-bd862e3fe1be46a994272793 ;  Parent= 53995c3f42cd8ad8 ",
                root: true,
                parent: true,
                sampled: SamplingFlag::Unknown,
                extra: "",
            },
            Case {
                input: "Root=garbage;Parent=53995c3f42cd8ad8;Sampled=1",
                root: false,
                parent: true,
                sampled: SamplingFlag::Sampled,
                extra: "",
            },
            Case {
                input: "Root=1-5759e988-bd862e3fe1be46a994272793;junk;;=x;Parent=53995c3f42cd8ad8",
                root: true,
                parent: true,
                sampled: SamplingFlag::Unknown,
                extra: "",
            },
            Case {
                input: "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793",
                root: true,
                parent: false,
                sampled: SamplingFlag::Unknown,
                extra: "",
            },
            Case {
                input: "Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:1|68fd508a:5;Foo=bar=baz",
                root: true,
                parent: false,
                sampled: SamplingFlag::Unknown,
                extra: "Lineage=a87bd80c:1|68fd508a:5;Foo=bar=baz",
            },
            Case { input: "Sampled=maybe", root: false, parent: false, sampled: SamplingFlag::Unknown, extra: "" },
            Case { input: "", root: false, parent: false, sampled: SamplingFlag::Unknown, extra: "" },
        ];
        for c in cases {
            let h = TraceHeader::parse(c.input);
            assert_eq!(h.root().is_some(), c.root, "root of {:?}", c.input);
            assert_eq!(h.parent().is_some(), c.parent, "parent of {:?}", c.input);
            assert_eq!(h.sampled(), c.sampled, "sampled of {:?}", c.input);
            assert_eq!(h.extra(), c.extra, "extra of {:?}", c.input);
        }
    }

    #[test]
    fn first_occurrence_of_a_reserved_key_wins() {
        let h = TraceHeader::parse("Sampled=0;Sampled=1;Root=1-5759e988-bd862e3fe1be46a994272793;Root=x");
        assert_eq!(h.sampled(), SamplingFlag::NotSampled);
        assert_eq!(h.root().unwrap().to_string(), ROOT);
    }

    #[test]
    fn formats_canonically() {
        let h = TraceHeader::parse(&format!("sampled=1; parent={PARENT}; lineage=x:1; root={ROOT}"));
        assert_eq!(h.to_string(), format!("Root={ROOT};Parent={PARENT};Sampled=1;lineage=x:1"));
        let only_flag = TraceHeader::default().with_sampled(SamplingFlag::NotSampled);
        assert_eq!(only_flag.to_string(), "Sampled=0");
        assert_eq!(TraceHeader::default().to_string(), "");
    }

    #[test]
    fn extra_is_bounded() {
        let long = format!("Root={ROOT};A={};B=small", "x".repeat(300));
        let h = TraceHeader::parse(&long);
        assert_eq!(h.extra(), "B=small");
        let many: String = (0..100).map(|i| format!("K{i}=vvvvvvvv;")).collect();
        let h = TraceHeader::parse(&many);
        assert!(h.extra().len() <= MAX_EXTRA_LEN);
        assert!(h.extra().starts_with("K0=vvvvvvvv;K1=vvvvvvvv"));
    }

    #[test]
    fn non_utf8_bytes_start_a_new_trace() {
        let h = TraceHeader::parse_bytes(b"Root=\xff\xfe");
        assert_eq!(h, TraceHeader::default());
    }

    #[test]
    fn non_utf8_parts_are_skipped_and_the_rest_kept() {
        let h = TraceHeader::parse_bytes(b"Root=1-5759e988-bd862e3fe1be46a994272793;X=\xff;Sampled=1;Y=ok;\xfe=1");
        assert_eq!(h.root().unwrap().to_string(), ROOT);
        assert_eq!(h.sampled(), SamplingFlag::Sampled);
        assert_eq!(h.extra(), "Y=ok");
    }

    #[test]
    fn bytes_and_text_parse_alike() {
        for input in [
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            " sElF = x ; PARENT=53995c3f42cd8ad8;a=b=c;;=;k=;=v;Rooted=1;root=1-5759e988-bd862e3fe1be46a994272793",
            "Sampled=?;Lineage=é:1",
        ] {
            assert_eq!(TraceHeader::parse_bytes(input.as_bytes()), TraceHeader::parse(input), "{input:?}");
        }
        let h = TraceHeader::parse("k=;Rooted=1;a=b=c");
        assert_eq!(h.extra(), "k=;Rooted=1;a=b=c");
    }

    /// The straightforward split-based reading of the rules, as an oracle for the byte scanner.
    fn reference(value: &str) -> TraceHeader {
        let mut h = TraceHeader::default();
        let (mut root, mut parent, mut sampled) = (false, false, false);
        for part in value.split(';') {
            let Some((key, val)) = part.split_once('=') else { continue };
            let (key, val) = (key.trim_ascii(), val.trim_ascii());
            if key.is_empty() {
                continue;
            }
            if key.eq_ignore_ascii_case("root") {
                if !std::mem::replace(&mut root, true) {
                    h.root = val.parse().ok();
                }
            } else if key.eq_ignore_ascii_case("parent") {
                if !std::mem::replace(&mut parent, true) {
                    h.parent = val.parse().ok();
                }
            } else if key.eq_ignore_ascii_case("sampled") {
                if !std::mem::replace(&mut sampled, true) {
                    h.sampled = match val {
                        "1" => SamplingFlag::Sampled,
                        "0" => SamplingFlag::NotSampled,
                        "?" => SamplingFlag::Requested,
                        _ => SamplingFlag::Unknown,
                    };
                }
            } else if !key.eq_ignore_ascii_case("self") {
                h.push_extra(key, val, value.len());
            }
        }
        h
    }

    proptest::proptest! {
        #[test]
        fn scanner_agrees_with_the_reference(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(format!("Root={ROOT}")),
                    proptest::strategy::Just(format!(" rOOt = {ROOT} ")),
                    proptest::strategy::Just(format!("Parent={PARENT}")),
                    proptest::strategy::Just(format!("PARENT ={PARENT}")),
                    // Near-misses of the canonical form read by position.
                    "Root=1-[0-9a-fX]{8}-[0-9a-f]{24}",
                    "Root=[0-9a-f-]{34,36}",
                    "Parent=[0-9a-fX]{15,17}",
                    proptest::strategy::Just("Parent=0000000000000000".to_owned()),
                    "(Sampled|sampled|SAMPLED|Self|self) ?= ?[01?x]?",
                    "[ A-Za-zé=:|0-9-]{0,40}",
                ],
                0..8,
            ),
        ) {
            let input = parts.join(";");
            proptest::prop_assert_eq!(TraceHeader::parse(&input), reference(&input));
            proptest::prop_assert_eq!(TraceHeader::parse_bytes(input.as_bytes()), reference(&input));
        }

        #[test]
        fn never_panics_and_stays_within_input_size(input in ".{0,600}") {
            let h = TraceHeader::parse(&input);
            proptest::prop_assert!(h.extra().len() <= MAX_EXTRA_LEN);
            proptest::prop_assert!(h.extra.capacity() <= input.len().min(MAX_EXTRA_LEN));
        }

        #[test]
        fn never_panics_on_bytes(input in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let h = TraceHeader::parse_bytes(&input);
            proptest::prop_assert!(h.extra.capacity() <= input.len().min(MAX_EXTRA_LEN));
        }

        #[test]
        fn formatting_paths_agree(input in "[A-Za-z=; 0-9-]{0,120}") {
            let h = TraceHeader::parse(&input);
            let mut out = String::new();
            h.write_into(&mut out);
            let bytes = h.to_bytes();
            proptest::prop_assert_eq!(bytes.as_str(), out.as_str());
            proptest::prop_assert_eq!(h.to_string(), out);
        }

        #[test]
        fn round_trips(epoch in 0u32.., random in proptest::array::uniform12(0u8..), parent in 1u64.., flag in 0u8..4, lineage in "[a-z0-9:|]{1,40}") {
            let flag = [SamplingFlag::Unknown, SamplingFlag::Requested, SamplingFlag::Sampled, SamplingFlag::NotSampled][flag as usize];
            let h = TraceHeader::new(TraceId::from_parts(epoch, random))
                .with_parent(EntityId::from_u64(parent))
                .with_sampled(flag)
                .with_extra(&format!("Lineage={lineage}"));
            proptest::prop_assert_eq!(TraceHeader::parse(&h.to_string()), h);
        }
    }
}
