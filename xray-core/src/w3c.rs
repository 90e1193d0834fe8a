//! W3C Trace Context beside X-Ray's header: the `traceparent` header, and the one-to-one map
//! between its ids and X-Ray's.
//!
//! An X-Ray trace id `1-5759e988-bd862e3fe1be46a994272793` is the W3C trace id
//! `5759e988bd862e3fe1be46a994272793` (the version digit and dashes dropped), and an entity id is
//! a W3C span id as it is. The map holds for every 128-bit id, also for one whose first 32 bits
//! are not a plausible epoch (an OpenTelemetry-generated id): X-Ray accepts those through its
//! OpenTelemetry path, so such an id is carried unchanged.
//!
//! ```
//! use xray_core::w3c::TraceParent;
//! let tp = TraceParent::parse("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01").unwrap();
//! assert_eq!(tp.trace_id.to_string(), "1-5759e988-bd862e3fe1be46a994272793");
//! assert_eq!(tp.to_header().to_string(), "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
//! assert_eq!(tp.to_string(), "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
//! ```
//!
//! Which headers a recorder reads and writes is its [`Propagation`]: both by default, or as
//! `OTEL_PROPAGATORS` names them (`xray`, `tracecontext`), or as
//! [`with_propagation`](crate::RecorderBuilder::with_propagation) sets it. A `tracestate` that
//! came in travels with the trace ([`TraceHeader::with_tracestate`]), checked and cut to
//! [`MAX_TRACESTATE_LEN`] bytes, and goes out again beside every `traceparent` the trace sends.

use std::fmt;

use crate::header::{SamplingFlag, TraceHeader};
use crate::id::{EntityId, TraceId, read_hex, write_hex};

/// The `traceparent` header's name, in lower case.
pub const TRACEPARENT: &str = "traceparent";

/// The `tracestate` header's name, in lower case.
pub const TRACESTATE: &str = "tracestate";

/// The length of a version-00 `traceparent` value.
const LEN: usize = 55;

/// At most this many bytes of `tracestate` are kept and passed on (the W3C specification's
/// limit that every vendor must be able to propagate).
pub const MAX_TRACESTATE_LEN: usize = 512;

/// At most this many `tracestate` list members are kept (the specification's limit).
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Members longer than this go first when a `tracestate` is cut to size, as the
/// specification recommends.
const LONG_MEMBER: usize = 128;

/// Which trace headers a recorder reads from incoming requests and writes on outgoing calls.
///
/// Set it with [`with_propagation`](crate::RecorderBuilder::with_propagation), or through
/// `OTEL_PROPAGATORS` with [`Recorder::from_env`](crate::Recorder::from_env): a comma-separated
/// list in which `xray` (also `xray-lambda`) stands for `X-Amzn-Trace-Id`, `tracecontext` for
/// `traceparent` and `tracestate`, and `none` for neither; other names are logged and ignored,
/// and a list without one known name keeps the default. The builder method wins over the
/// variable.
///
/// When a request carries both headers, `X-Amzn-Trace-Id` wins (see the crate README's
/// "Moving between X-Ray and OpenTelemetry").
///
/// ```
/// use xray_core::{Propagation, Recorder};
/// assert_eq!(Propagation::default(), Propagation::Both);
/// assert!(Propagation::W3c.w3c() && !Propagation::W3c.xray());
/// let recorder = Recorder::builder().with_propagation(Propagation::Xray).with_emitter(xray_core::NullEmitter::default()).build().unwrap();
/// assert_eq!(recorder.config().propagation, Propagation::Xray);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Propagation {
    /// `X-Amzn-Trace-Id` only.
    Xray,
    /// W3C `traceparent` and `tracestate` only.
    W3c,
    /// Both: X-Ray's header wins when a request carries both.
    #[default]
    Both,
    /// Neither: every request starts a new trace, and outgoing calls carry no trace header.
    Off,
}

impl Propagation {
    /// The propagation that reads and writes X-Ray's header when `xray`, the W3C headers when
    /// `w3c`.
    pub const fn from_flags(xray: bool, w3c: bool) -> Self {
        match (xray, w3c) {
            (true, true) => Self::Both,
            (true, false) => Self::Xray,
            (false, true) => Self::W3c,
            (false, false) => Self::Off,
        }
    }

    /// Whether `X-Amzn-Trace-Id` is read and written.
    pub const fn xray(self) -> bool {
        matches!(self, Self::Xray | Self::Both)
    }

    /// Whether `traceparent` and `tracestate` are read and written.
    pub const fn w3c(self) -> bool {
        matches!(self, Self::W3c | Self::Both)
    }

    /// Reads an `OTEL_PROPAGATORS` value (names trimmed, any case): the propagation it names,
    /// `None` when it names none this SDK knows, and the names it did not know.
    pub(crate) fn from_otel_propagators(value: &str) -> (Option<Self>, Vec<&str>) {
        let (mut xray, mut w3c, mut known) = (false, false, false);
        let mut unknown = Vec::new();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "xray" | "xray-lambda" => xray = true,
                "tracecontext" => w3c = true,
                "none" => {}
                _ => {
                    unknown.push(name);
                    continue;
                }
            }
            known = true;
        }
        (known.then(|| Self::from_flags(xray, w3c)), unknown)
    }
}

/// The `tracestate` worth passing on from `value` (several header lines joined with `,`), or
/// `None` when nothing in it is: the list members that are well formed (`key=value` by the
/// specification's grammar; spaces and tabs around members ignored), the first of each key, at
/// most 32, and at most [`MAX_TRACESTATE_LEN`] bytes: members over 128 bytes go first, then
/// members from the end, as the specification recommends. A malformed member is skipped and
/// the rest kept, as malformed parts of X-Ray's header are.
pub(crate) fn bounded_tracestate(value: &str) -> Option<Box<str>> {
    let mut members: Vec<&str> = Vec::new();
    for member in value.split(',').map(|m| m.trim_matches([' ', '\t'])) {
        if members.len() == MAX_TRACESTATE_MEMBERS {
            break;
        }
        let Some((key, _)) = member.split_once('=').filter(|_| is_member(member)) else { continue };
        if !members.iter().any(|m| m.split_once('=').is_some_and(|(k, _)| k == key)) {
            members.push(member);
        }
    }
    let len = |members: &[&str]| members.iter().map(|m| m.len() + 1).sum::<usize>().saturating_sub(1);
    if len(&members) > MAX_TRACESTATE_LEN {
        members.retain(|m| m.len() <= LONG_MEMBER);
    }
    while len(&members) > MAX_TRACESTATE_LEN {
        members.pop();
    }
    (!members.is_empty()).then(|| members.join(",").into_boxed_str())
}

/// A `tracestate` list member by the specification's grammar: a key (`a-z0-9_-*/`, starting
/// with a lowercase letter, or `tenant@system` for multi-tenant vendors, up to 256 bytes), `=`,
/// and a value of 1 to 256 printable ASCII characters other than `,` and `=`, not ending in a
/// space.
fn is_member(member: &str) -> bool {
    let Some((key, value)) = member.split_once('=') else { return false };
    let key_char = |c: u8| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/');
    let key_ok = match key.split_once('@') {
        None => key.len() <= 256 && key.as_bytes().first().is_some_and(u8::is_ascii_lowercase),
        Some((tenant, system)) => {
            (1..=241).contains(&tenant.len())
                && tenant.as_bytes().first().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && (1..=14).contains(&system.len())
                && system.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
                && !system.contains('@')
        }
    } && key.bytes().all(|c| key_char(c) || c == b'@');
    let value_ok = (1..=256).contains(&value.len())
        && value.bytes().all(|c| matches!(c, 0x20..=0x7e) && c != b',' && c != b'=')
        && !value.ends_with(' ');
    key_ok && value_ok
}

/// Why a `traceparent` value was refused (W3C Trace Context, level 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseTraceParentError {
    /// Not `version-traceid-parentid-flags` with 2, 32, 16 and 2 lowercase hex digits (a later
    /// version may add fields after a `-`; version 00 may not).
    #[error("expected 00-<32 lowercase hex>-<16 lowercase hex>-<2 hex>")]
    Layout,
    /// Version `ff`, which the specification forbids.
    #[error("version ff is forbidden")]
    Version,
    /// A trace id or parent id of all zeros.
    #[error("an all-zero trace id or parent id is invalid")]
    ZeroId,
}

/// A parsed `traceparent`: the trace, the caller's span (X-Ray's `Parent`), and whether the
/// caller recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace, as an X-Ray trace id.
    pub trace_id: TraceId,
    /// The caller's span id, X-Ray's `Parent`.
    pub parent_id: EntityId,
    /// The `sampled` trace flag.
    pub sampled: bool,
}

impl TraceParent {
    /// Parses a `traceparent` value. Surrounding spaces and tabs are ignored; hex must be lower
    /// case; version `ff` and all-zero ids are refused; a version above `00` may carry more
    /// fields after the fourth, which are ignored.
    pub fn parse(value: &str) -> Result<Self, ParseTraceParentError> {
        let b = value.trim_matches([' ', '\t']).as_bytes();
        let layout_ok = b.len() >= LEN
            && b[2] == b'-'
            && b[35] == b'-'
            && b[52] == b'-'
            && b[..LEN]
                .iter()
                .enumerate()
                .all(|(i, c)| matches!(i, 2 | 35 | 52) || matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if !layout_ok {
            return Err(ParseTraceParentError::Layout);
        }
        match &b[..2] {
            b"ff" => return Err(ParseTraceParentError::Version),
            b"00" if b.len() != LEN => return Err(ParseTraceParentError::Layout),
            // A later version: only what follows a `-` may come after the fourth field.
            _ if b.len() > LEN && b[LEN] != b'-' => return Err(ParseTraceParentError::Layout),
            _ => {}
        }
        let (mut epoch, mut random, mut span, mut flags) = ([0u8; 4], [0u8; 12], [0u8; 8], [0u8; 1]);
        let hex = |digits: &[u8], out: &mut [u8]| read_hex(digits, out, 0).map_err(|_| ParseTraceParentError::Layout);
        hex(&b[3..11], &mut epoch)?;
        hex(&b[11..35], &mut random)?;
        hex(&b[36..52], &mut span)?;
        flags[0] = hex_digit(b[53]) << 4 | hex_digit(b[54]);
        if epoch == [0; 4] && random == [0; 12] {
            return Err(ParseTraceParentError::ZeroId);
        }
        let parent_id = EntityId::from_u64(u64::from_be_bytes(span)).ok_or(ParseTraceParentError::ZeroId)?;
        let trace_id = TraceId::from_parts(u32::from_be_bytes(epoch), random);
        Ok(Self { trace_id, parent_id, sampled: flags[0] & 1 == 1 })
    }

    /// The X-Ray header that continues the same trace: `Root`, `Parent` and `Sampled=1|0`.
    pub fn to_header(&self) -> TraceHeader {
        TraceHeader::new(self.trace_id)
            .with_parent(Some(self.parent_id))
            .with_sampled(SamplingFlag::from_decision(self.sampled))
    }

    /// The value as its 55 ASCII bytes (version 00), without allocating.
    pub fn to_bytes(&self) -> [u8; LEN] {
        let mut out = [b'-'; LEN];
        out[..2].copy_from_slice(b"00");
        write_hex(&mut out[3..11], &self.trace_id.epoch_seconds().to_be_bytes());
        write_hex(&mut out[11..35], &self.trace_id.random_bytes());
        out[36..52].copy_from_slice(&self.parent_id.to_bytes());
        out[53..].copy_from_slice(if self.sampled { b"01" } else { b"00" });
        out
    }
}

/// The value of a hex digit already checked to be one.
fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every byte is ASCII: the digits and dashes written above.
        f.write_str(std::str::from_utf8(&self.to_bytes()).map_err(|_| fmt::Error)?)
    }
}

impl TraceId {
    /// The trace id as a W3C trace id: its 32 hex digits without the version and dashes.
    ///
    /// ```
    /// let id: xray_core::TraceId = "1-5759e988-bd862e3fe1be46a994272793".parse().unwrap();
    /// assert_eq!(std::str::from_utf8(&id.to_w3c()).unwrap(), "5759e988bd862e3fe1be46a994272793");
    /// ```
    pub fn to_w3c(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        write_hex(&mut out[..8], &self.epoch_seconds().to_be_bytes());
        write_hex(&mut out[8..], &self.random_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    #[test]
    fn the_specifications_vectors() {
        // (value, the outcome: Ok(sampled) or the error)
        let cases: [(String, Result<bool, ParseTraceParentError>); 17] = [
            (format!("00-{TRACE}-{SPAN}-01"), Ok(true)),
            (format!("00-{TRACE}-{SPAN}-00"), Ok(false)),
            (format!("00-{TRACE}-{SPAN}-09"), Ok(true)),
            (format!(" \t00-{TRACE}-{SPAN}-01 "), Ok(true)),
            // A future version may append fields after a dash, and keeps the first four.
            (format!("cc-{TRACE}-{SPAN}-01-what-the-future-will-be-like"), Ok(true)),
            (format!("01-{TRACE}-{SPAN}-00"), Ok(false)),
            (format!("cc-{TRACE}-{SPAN}-01x"), Err(ParseTraceParentError::Layout)),
            (format!("ff-{TRACE}-{SPAN}-01"), Err(ParseTraceParentError::Version)),
            (format!("00-{TRACE}-{SPAN}-01-extra"), Err(ParseTraceParentError::Layout)),
            (format!("00-{}-{SPAN}-01", "0".repeat(32)), Err(ParseTraceParentError::ZeroId)),
            (format!("00-{TRACE}-{}-01", "0".repeat(16)), Err(ParseTraceParentError::ZeroId)),
            (format!("00-{}-{SPAN}-01", TRACE.to_uppercase()), Err(ParseTraceParentError::Layout)),
            (format!("00-{TRACE}-{}-01", SPAN.to_uppercase()), Err(ParseTraceParentError::Layout)),
            (format!("0A-{TRACE}-{SPAN}-01"), Err(ParseTraceParentError::Layout)),
            (format!("00-{TRACE}-{SPAN}-0g"), Err(ParseTraceParentError::Layout)),
            (format!("00_{TRACE}-{SPAN}-01"), Err(ParseTraceParentError::Layout)),
            (format!("00-{}-{SPAN}-01", &TRACE[1..]), Err(ParseTraceParentError::Layout)),
        ];
        for (value, want) in cases {
            let got = TraceParent::parse(&value).map(|tp| tp.sampled);
            assert_eq!(got, want, "{value:?}");
        }
        for short in ["", "00", "00-", &format!("00-{TRACE}-{SPAN}-0")] {
            assert_eq!(TraceParent::parse(short), Err(ParseTraceParentError::Layout), "{short:?}");
        }
    }

    #[test]
    fn tracestate_keeps_well_formed_members_within_the_limits() {
        let long = "x".repeat(200);
        let short: Vec<String> = (0..20).map(|i| format!("c{i:02}=3")).collect();
        let cases: [(String, Option<&str>); 12] = [
            ("congo=t61rcWkgMzE".into(), Some("congo=t61rcWkgMzE")),
            (" rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE ".into(), Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")),
            // Empty members, malformed ones, and a repeated key are skipped; the rest is kept.
            ("a=1,,b=2,=3,Upper=4,c,d=5=6,e=,a=7".into(), Some("a=1,b=2")),
            ("tenant1@vendor=x,1tenant@v=y,1bad=z,t@toolongsystemid=w".into(), Some("tenant1@vendor=x,1tenant@v=y")),
            ("k=value with spaces".into(), Some("k=value with spaces")),
            ("k=del\u{7f},j=ok".into(), Some("j=ok")),
            ("k=caf\u{e9}".into(), None),
            ("".into(), None),
            (" , ".into(), None),
            // Over 512 bytes: members over 128 bytes go first...
            (format!("a=1,long1={long},long2={long},b=2,{}", short.join(",")), None),
            // ...then members from the end.
            ((0..40).map(|i| format!("k{i:02}={}", "v".repeat(20))).collect::<Vec<_>>().join(","), None),
            ((0..40).map(|i| format!("k{i:02}=v")).collect::<Vec<_>>().join(","), None),
        ];
        for (input, want) in cases.iter().take(9) {
            assert_eq!(bounded_tracestate(input).as_deref(), *want, "{input:?}");
        }
        let cut = bounded_tracestate(&cases[9].0).unwrap();
        assert_eq!(*cut, *format!("a=1,b=2,{}", short.join(",")));
        let cut = bounded_tracestate(&cases[10].0).unwrap();
        // 24 bytes a member and a comma between: the first 20 fit in 512 bytes.
        assert_eq!(cut.split(',').count(), 20, "{cut}");
        assert!(cut.starts_with("k00=") && cut.ends_with(&format!("k19={}", "v".repeat(20))), "{cut}");
        // At most 32 members, the first ones.
        let cut = bounded_tracestate(&cases[11].0).unwrap();
        assert_eq!(cut.split(',').count(), 32);
        assert!(cut.ends_with("k31=v"), "{cut}");
    }

    #[test]
    fn propagation_flags() {
        for (p, xray, w3c) in [
            (Propagation::Both, true, true),
            (Propagation::Xray, true, false),
            (Propagation::W3c, false, true),
            (Propagation::Off, false, false),
        ] {
            assert_eq!((p.xray(), p.w3c()), (xray, w3c));
            assert_eq!(Propagation::from_flags(xray, w3c), p);
        }
    }

    #[test]
    fn ids_map_one_to_one_both_ways() {
        // (traceparent trace id, X-Ray trace id): the second is not a plausible epoch, and is
        // carried unchanged all the same.
        let cases = [
            ("5759e988bd862e3fe1be46a994272793", "1-5759e988-bd862e3fe1be46a994272793"),
            (TRACE, "1-4bf92f35-77b34da6a3ce929d0e0e4736"),
            ("ffffffff000000000000000000000001", "1-ffffffff-000000000000000000000001"),
        ];
        for (w3c, xray) in cases {
            let value = format!("00-{w3c}-{SPAN}-01");
            let tp = TraceParent::parse(&value).unwrap();
            assert_eq!(tp.trace_id.to_string(), xray);
            assert_eq!(std::str::from_utf8(&tp.trace_id.to_w3c()).unwrap(), w3c);
            assert_eq!(tp.parent_id.to_string(), SPAN);
            // And back: the same value, from the X-Ray side.
            let header = tp.to_header();
            let back = TraceParent {
                trace_id: header.root().unwrap(),
                parent_id: header.parent().unwrap(),
                sampled: header.sampled() == SamplingFlag::Sampled,
            };
            assert_eq!(back.to_string(), value);
        }
    }
}
